"""Every promise of the README's Reliability section, attacked by a hostile peer.

Each test names the promise it attacks and the figure it holds; the README's table lists
them. The peer is :mod:`hostile_peer`, never the embedded server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from pathlib import Path

import orjson
import pytest
from hostile_peer import Peer, hostile_server, session_created

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime.errors import (
    AuthenticationError,
    ConnectionClosedError,
    EventTooLargeError,
    HandshakeTimeoutError,
    IdleTimeoutError,
    InvalidClientEventError,
    MessageTooBigError,
    SessionRejectedError,
)
from rxrealtime.sinks import Recorder
from rxrealtime.transport import DEFAULT_MAX_SIZE

KEY = "sk-hostile-promises-0123456789abcdefXYZ"

FLOOD = 100_000  # frames in the flood attacks
MUTATED = 20_000  # mutated frames in the fuzz attack
BACKLOG = 64  # the backlog bound in the no-subscriber flood


#: What a client sends to start a flood: the big floods wait for it, so the attack measures
#: the session, not how long a handshake takes on a loop that also runs the flooding peer.
GO = '{"type":"input_audio_buffer.clear"}'


def numbered(n: int) -> str:
    return f'{{"type":"x.n","event_id":"{n}"}}'


async def read_until(session: rr.RealtimeSession, kind: str, limit: float = 60) -> int:
    count = 0
    async with asyncio.timeout(limit):
        async for event in session:
            count += 1
            if event.type == kind:
                break
    return count


# -- Nothing is silently lost --------------------------------------------------------------------


async def test_lost_nothing_a_flood_is_delivered_frame_for_event() -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.recv()
        await peer.flood(numbered(n) for n in range(FLOOD))
        await peer.json({"type": "x.last"})

    async with (
        hostile_server(script) as server,
        rr.connect(base_url=server.base_url) as session,
    ):
        ids: list[str | None] = []
        session.events.subscribe(lambda e: ids.append(e.event_id))
        await session.send_raw(GO)
        assert await read_until(session, "x.last") == FLOOD + 2
        stats = session.statistics()
    assert stats.frames_in == FLOOD + 2 and stats.dropped == 0
    assert ids[1:-1] == [str(n) for n in range(FLOOD)]


async def test_lost_nothing_mutated_frames_are_each_one_event() -> None:
    rng = random.Random(12)
    base = orjson.dumps(session_created())
    frames: list[str | bytes] = []
    for _ in range(MUTATED):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = bytes(data[: rng.randint(0, len(data))])
        try:
            frames.append(cut.decode("utf-8") if rng.random() < 0.7 else cut)
        except UnicodeDecodeError:
            frames.append(cut)

    async def script(peer: Peer) -> None:
        await peer.recv()
        await peer.flood(frames)
        await peer.json({"type": "x.last"})

    async with (
        hostile_server(script) as server,
        rr.connect(base_url=server.base_url) as session,
    ):
        await session.send_raw(GO)
        assert await read_until(session, "x.last") == MUTATED + 1
        stats = session.statistics()
    assert stats.frames_in == MUTATED + 1 and stats.closed is False


async def test_lost_nothing_a_backlog_is_bounded_and_every_drop_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.recv()
        await peer.flood(numbered(n) for n in range(FLOOD // 10))
        await peer.json({"type": "x.last"})
        await peer.close(1000)

    with caplog.at_level(logging.WARNING, logger="rxrealtime"):
        async with hostile_server(script) as server:
            session = await rr.connect(base_url=server.base_url, buffer_size=BACKLOG)
            await session.send_raw(GO)
            async with asyncio.timeout(30):
                await session.wait_closed()  # nobody listened: all of it went to the backlog
            stats = session.statistics()
            kept = [e.type async for e in session]  # the first consumer gets the backlog
    assert stats.buffered == BACKLOG and stats.dropped == FLOOD // 10 + 2 - BACKLOG
    assert kept[-1] == "x.last" and len(kept) == BACKLOG
    assert "dropped" in caplog.text


async def test_lost_nothing_a_cut_keeps_every_frame_in_the_recording(tmp_path: Path) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.flood(numbered(n) for n in range(1000))
        peer.cut()

    path = tmp_path / "cut.jsonl"
    async with hostile_server(script) as server:
        session = await rr.connect(base_url=server.base_url, recorder=Recorder(path))
        count = 0
        with contextlib.suppress(ConnectionClosedError):
            async for _ in session:
                count += 1
        await session.close()
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()[1:]]
    assert count == 1001 and sum(r["dir"] == "in" for r in records) == 1001
    assert records[-1]["dir"] == "end" and records[-1]["reason"] == "error"
    assert "1006" in records[-1]["error"]


# -- Faults are typed ----------------------------------------------------------------------------


CLOSES = [
    pytest.param(None, ConnectionClosedError, 1006, id="cut"),
    pytest.param(1011, ConnectionClosedError, 1011, id="1011"),
    pytest.param(3000, AuthenticationError, 3000, id="3000"),
    pytest.param(4000, SessionRejectedError, 4000, id="4000"),
    pytest.param(4999, ConnectionClosedError, 4999, id="4999"),
]


@pytest.mark.parametrize(("code", "kind", "expected"), CLOSES)
async def test_typed_faults_every_close_is_a_typed_error(
    code: int | None, kind: type[Exception], expected: int
) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.json({"type": "error", "error": {"type": "x", "code": "why", "message": "m"}})
        if code is None:
            peer.cut()
        else:
            await peer.close(code, f"closing with {code}")

    async with hostile_server(script) as server:
        session = await rr.connect(base_url=server.base_url, reconnect=None)
        async with asyncio.timeout(10):
            await session.wait_closed()
    error = session.exception()
    assert type(error) is kind and error.code == expected
    assert server.connections == 1


async def test_typed_faults_invalid_utf8_text_is_1007() -> None:
    # RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with 1007
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.raw_text(b'{"type":"x.bad","s":"\xff\xfe"}')
        await peer.json({"type": "x.never"})

    async with hostile_server(script) as server:
        session = await rr.connect(base_url=server.base_url)
        seen = []
        with contextlib.suppress(ConnectionClosedError):
            async with asyncio.timeout(10):
                async for event in session:
                    seen.append(event.type)
    error = session.exception()
    assert seen == ["session.created"]
    assert isinstance(error, ConnectionClosedError) and error.code == 1007


async def test_typed_faults_binary_and_broken_frames_are_events_and_the_session_goes_on() -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.binary(b"\x00\xff binary")
        await peer.text("{not json")
        await peer.text('{"type": 5}')
        await peer.text("[1, 2]")
        await peer.json({"type": "x.last"})

    async with (
        hostile_server(script) as server,
        rr.connect(base_url=server.base_url) as session,
    ):
        kinds = []
        async with asyncio.timeout(10):
            async for event in session:
                kinds.append(type(event))
                if event.type == "x.last":
                    break
        stats = session.statistics()
    assert kinds[1:5] == [ev.InvalidEvent] * 4 and stats.invalid_events == 4


async def test_typed_faults_a_frame_over_the_limit_is_message_too_big() -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.text('{"type":"x.big","s":"' + "a" * DEFAULT_MAX_SIZE + '"}')

    async with hostile_server(script) as server:
        session = await rr.connect(base_url=server.base_url)
        async with asyncio.timeout(20):
            await session.wait_closed()
    error = session.exception()
    assert isinstance(error, MessageTooBigError) and error.code == 1009


async def test_typed_faults_a_silent_server_hits_idle_timeout() -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.hold()  # says nothing more, reads until the client gives up

    async with hostile_server(script) as server:
        session = await rr.connect(base_url=server.base_url, idle_timeout=0.3)
        async with asyncio.timeout(10):
            await session.wait_closed()
    assert isinstance(session.exception(), IdleTimeoutError)


async def test_typed_faults_a_server_that_never_answers_the_upgrade_times_out() -> None:
    hold = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await hold.wait()
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(HandshakeTimeoutError):
            async with asyncio.timeout(10):
                await rr.connect(base_url=f"http://127.0.0.1:{port}/v1", open_timeout=0.3)
    finally:
        hold.set()
        server.close()
        await server.wait_closed()


# -- Reconnect, opt-in (budgets: test_hostile_reconnect) -----------------------------------------


@pytest.mark.parametrize("code", [1000, 3000, 4000, 4321])
async def test_reconnect_never_after_a_final_close(code: int) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.close(code)

    policy = rr.ReconnectPolicy(initial_delay=0)
    async with hostile_server(script) as server:
        session = await rr.connect(base_url=server.base_url, reconnect=policy)
        async with asyncio.timeout(10):
            await session.wait_closed()
    assert server.connections == 1 and session.close_code == code


# -- Slow subscribers cannot stall the session (stuck sinks: test_hostile_subscribers) ---------


async def test_slow_subscribers_a_block_hop_pushes_back_and_loses_nothing() -> None:
    frames = FLOOD // 5

    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.recv()
        await peer.flood(numbered(n) for n in range(frames))
        await peer.json({"type": "x.last"})

    got: list[str | None] = []
    gate = threading.Event()

    def slow(event: ev.ServerEvent) -> None:
        if len(got) % 1000 == 0:
            gate.wait(0.001)
        got.append(event.event_id)

    hop = rr.observe_on_thread(slow, maxsize=16, overflow="block")
    async with (
        hostile_server(script) as server,
        rr.connect(base_url=server.base_url) as session,
    ):
        session.events.subscribe(hop)
        last = asyncio.Event()
        session.events.subscribe(lambda e: e.type == "x.last" and last.set())
        await session.send_raw(GO)
        async with asyncio.timeout(60):
            await last.wait()
    assert await asyncio.to_thread(hop.join, 10)
    assert got[1:-1] == [str(n) for n in range(frames)] and hop.statistics().dropped == 0
    assert hop.statistics().max_queued <= 2 * 16


# -- Bad input is refused before it is sent ------------------------------------------------------


async def test_bad_input_never_reaches_the_peer() -> None:
    async with (
        hostile_server() as server,
        rr.connect(base_url=server.base_url) as session,
    ):
        bad = [
            {"type": "conversation.item.delete", "item_id": 5},
            ev.ConversationItemDelete(item_id=5),  # type: ignore[arg-type]
            {"type": "no.such.event"},
            {"no": "type"},
        ]
        for event in bad:
            with pytest.raises(InvalidClientEventError):
                await session.send(event)  # type: ignore[arg-type]
        with pytest.raises(EventTooLargeError):
            await session.send_raw("x" * (16 * 1024 * 1024))
        await session.send({"type": "input_audio_buffer.clear"})
    assert [orjson.loads(f)["type"] for f in server.received[0]] == ["input_audio_buffer.clear"]


# -- Secrets -------------------------------------------------------------------------------------


async def test_secrets_a_peer_echoing_the_key_never_gets_it_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.json({"type": "error", "error": {"message": f"bad key {KEY}", "code": "k"}})
        await peer.close(4000, f"rejected {KEY}"[:120])

    path = tmp_path / "rec.jsonl"
    with caplog.at_level(logging.DEBUG):
        async with hostile_server(script) as server:
            session = await rr.connect(
                base_url=server.base_url, api_key=KEY, recorder=Recorder(path)
            )
            async with asyncio.timeout(10):
                await session.wait_closed()
    error = session.exception()
    client_logs = [r.getMessage() for r in caplog.records if r.name != "websockets.server"]
    assert any("Authorization" in line for line in client_logs)  # the handshake was logged
    shown = "".join(
        [str(error), repr(error), repr(session), str(session.statistics()), *client_logs]
    )
    assert isinstance(error, SessionRejectedError)
    assert KEY not in shown and KEY not in path.read_text()
