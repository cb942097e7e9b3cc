"""A published session, exactly: every connection (``"reconnect"`` records), one end written
when the session really ends, frames of any depth or content, and a publisher that fails never
ends the session. Sessions talk to the hostile peer of ``tests/hostile`` (a scripted server)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from hostile_peer import Peer, hostile_server, nested
from redis_helpers import RedisServer, stored_info

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosedError, ConnectionClosedOK
from rxrealtime.recording import JSON_READ_DEPTH, JSON_WRITE_DEPTH, read_records
from rxrealtime.scheduling import to_list
from rxrealtime.sinks import OffloadedRedisPublisher, RedisPublisher
from rxrealtime.sources import StreamLayout, redis_session

KEY = "sk-redis-session-0123456789abcdef"
FAST = rr.ReconnectPolicy(initial_delay=0, max_attempts=3)

POISON = [
    pytest.param(nested(JSON_WRITE_DEPTH - 2), id="as-deep-as-a-record-holds"),
    pytest.param(nested(JSON_WRITE_DEPTH), id="deeper-than-the-writer"),
    pytest.param(nested(JSON_READ_DEPTH - 3), id="as-deep-as-the-reader-takes"),
    pytest.param(nested(JSON_READ_DEPTH + 10), id="deeper-than-the-reader"),
    pytest.param('{"type":"x.big","n":' + "9" * 40 + "}", id="integer-over-64-bits"),
    pytest.param('{"type":"x.surrogate","s":"\\ud800"}', id="lone-surrogate"),
    pytest.param('{"type":"x.secret","s":"Bearer ' + KEY + '"}', id="bearer-secret"),
    pytest.param(
        '{"type":"x.deep.secret","a":' + "[" * 400 + f'"{KEY}"' + "]" * 400 + "}",
        id="secret-400-deep",
    ),
]


async def _records(client: aioredis.Redis, prefix: str, session_id: str) -> list[dict[str, Any]]:
    entries = await client.xrange(StreamLayout(prefix).session_stream(session_id))
    body = b"".join(fields[b"records"] for _, fields in entries)
    assert KEY.encode() not in body
    return [dict(record.fields) for record in read_records(body.split(b"\n"))]


@pytest.mark.parametrize("publisher_class", [RedisPublisher, OffloadedRedisPublisher])
async def test_every_connection_is_published_across_reconnects(
    redis_server: RedisServer,
    prefix: str,
    client: aioredis.Redis,
    publisher_class: type[RedisPublisher],
) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.json({"type": "x.hello", "event_id": f"hello-{peer.index}"})
        sent = await peer.recv()
        await peer.json({"type": "x.echo", "event_id": f"echo-{peer.index}", "of": str(sent)})
        if peer.index == 1:
            peer.cut()
        else:
            await peer.close(1000, "done")

    publisher = publisher_class(redis_server.url, prefix=prefix, session_id="re", secrets=[KEY])
    async with hostile_server(script) as server, publisher:
        session = await rr.connect(base_url=server.base_url, recorder=publisher, reconnect=FAST)
        seen: list[ev.ServerEvent] = []
        sends = 0
        try:
            async for event in session:
                seen.append(event)
                if event.type == "x.hello":
                    sends += 1
                    await session.send_raw(f'{{"type":"response.create","n":{sends}}}')
        except ConnectionClosedOK:
            pass
        await session.close()
        assert publisher.statistics().ended  # at the session's end, not at the publisher's
    records = await _records(client, prefix, "re")
    dirs = [r["dir"] for r in records]
    assert dirs == ["in", "in", "out", "in", "reconnect", "in", "in", "out", "in", "end"]
    marker = records[dirs.index("reconnect")]
    assert marker["connection"] == 2 and marker["close_code"] == 1006
    assert records[-1]["reason"] == "completed"
    assert [r["event"]["n"] for r in records if r["dir"] == "out"] == [1, 2]
    replayed = await to_list(redis_session(redis_server.url, "re", prefix=prefix))
    assert replayed == [e for e in seen if not isinstance(e, rr.Reconnected)]
    info = await stored_info(client, prefix, "re")
    assert (info["status"], info["reason"], info["connections"]) == ("ended", "completed", "2")


async def test_an_abnormal_end_is_published_when_the_session_ends(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.close(1011, f"server trouble {KEY}")

    publisher = RedisPublisher(redis_server.url, prefix=prefix, session_id="bad", secrets=[KEY])
    async with hostile_server(script) as server, publisher:
        session = await rr.connect(base_url=server.base_url, recorder=publisher)
        with pytest.raises(ConnectionClosedError):
            async for _ in session:
                pass
        await session.close()
        assert publisher.statistics().ended  # no grace timer: told by the session itself
    records = await _records(client, prefix, "bad")
    assert records[-1]["dir"] == "end" and records[-1]["reason"] == "error"
    assert "1011" in records[-1]["error"] and "***" in records[-1]["error"]
    info = await stored_info(client, prefix, "bad")
    assert info["status"] == "ended" and info["reason"] == "error" and KEY not in info["error"]


@pytest.mark.parametrize("poison", POISON)
async def test_a_poisonous_frame_is_published_and_replays_as_the_live_event(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis, poison: str
) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.text(poison)
        await peer.json({"type": "x.after", "event_id": "after"})

    publisher = RedisPublisher(redis_server.url, prefix=prefix, session_id="p", secrets=[KEY])
    async with (
        hostile_server(script) as server,
        publisher,
        rr.connect(base_url=server.base_url, recorder=publisher) as session,
    ):
        seen: list[ev.ServerEvent] = []
        async for event in session:
            seen.append(event)
            if event.type == "x.after":
                break
    assert publisher.statistics().errors == 0
    records = await _records(client, prefix, "p")  # every line parses as a record, no secret
    assert [r["dir"] for r in records] == ["in", "in", "in", "end"]
    replayed = await to_list(redis_session(redis_server.url, "p", prefix=prefix))
    assert [type(e) for e in replayed] == [type(e) for e in seen]
    assert replayed[1].type == seen[1].type


class _RaisingPublisher(RedisPublisher):
    """A publisher whose every frame fails, as a bug of ours (or a buggy subclass) would."""

    def _pushed(self) -> None:  # what runs after a frame was buffered, on the session's path
        direction = self._raw[-1][1]
        if direction in ("in", "out"):
            del self._raw[-1]
            if direction == "in":
                raise RuntimeError("publisher bug (in)")
            raise BaseException("publisher bug (out)")  # even a BaseException
        super()._pushed()


async def test_a_publisher_that_raises_is_counted_and_logged_never_fatal(
    redis_server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.recv()
        await peer.json({"type": "x.after", "event_id": "after"})

    publisher = _RaisingPublisher(redis_server.url, prefix=prefix)
    with caplog.at_level(logging.WARNING, logger="rxrealtime.redis"):
        async with (
            hostile_server(script) as server,
            publisher,
            rr.connect(base_url=server.base_url, recorder=publisher) as session,
        ):
            await session.send_raw('{"type":"response.create"}')
            types = []
            async for event in session:
                types.append(event.type)
                if event.type == "x.after":
                    break
    assert types == ["session.created", "x.after"]
    assert session.close_code == 1000 and session.statistics().last_error is None
    assert publisher.statistics().errors == 3  # two frames in, one out
    assert "publisher bug" in caplog.text  # the first failure is logged (then every 100th)
    assert publisher.last_error is not None and "publisher bug" in publisher.last_error


async def test_the_tap_publishes_what_a_session_reports(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    """The four callbacks of ``tap()`` as a session calls them (see ``FrameTap``)."""
    frames = [
        '{"type":"session.created","event_id":"s","session":{"model":"gpt-realtime-mini"}}',
        '{"type":"response.created","event_id":"c","response":{"id":"r"}}',
        '{"type":"response.output_audio.delta","event_id":"a1","response_id":"r",'
        '"item_id":"i","output_index":0,"content_index":0,"delta":"AAAA"}',
        '{"type":"response.output_audio.delta","event_id":"a2","response_id":"r",'
        '"item_id":"i","output_index":0,"content_index":0,"delta":"BBBB"}',
        '{"type":"x.key","note":"' + KEY + '"}',
        "not json",
    ]
    publisher = RedisPublisher(redis_server.url, prefix=prefix, session_id="tap", secrets=[KEY])
    async with publisher:
        tap = publisher.tap()
        for frame in frames[:3]:
            tap.frame_in(frame.encode(), ev.decode(frame))
        tap.frame_out('{"type":"response.create"}')
        tap.connection(2, 1006, "cut")
        for frame in frames[3:]:
            tap.frame_in(memoryview(frame.encode()), ev.decode(frame))
        tap.frame_in(b"", None)  # type: ignore[arg-type]  # not an event: counted, not raised
        tap.session_ended(ConnectionClosedOK(1000, ""))
        tap.frame_in(frames[0], ev.decode(frames[0]))  # after the end: ignored
    stats = publisher.statistics()
    assert stats.errors == 1 and stats.omitted_audio == 1 and stats.ended
    records = await _records(client, prefix, "tap")
    assert [r["dir"] for r in records] == ["in", "in", "in", "out", "reconnect", "in", "in", "end"]
    assert records[2]["event"]["delta"] == ""  # the response's first audio delta, emptied
    assert records[5]["event"]["note"] == "***"
    assert records[6]["raw"] == "not json"
    assert publisher.model == "gpt-realtime-mini"
    info = await stored_info(client, prefix, "tap")
    assert info["model"] == "gpt-realtime-mini" and orjson.loads(info["connections"]) == 2
