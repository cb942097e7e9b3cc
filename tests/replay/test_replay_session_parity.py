"""One set of consumer-rule checks, run against a live session and against a ReplaySession of
its recording: both sessions are built on the same hub, so both must pass the same checks and
observe the same things."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosedOK
from rxrealtime.server import serve
from rxrealtime.session import SessionBase

HELLO = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}


@attrs.frozen
class Observed:
    """What the checks saw (compared between the live session and its replay)."""

    subscriber_types: tuple[str, ...]
    iterated_types: tuple[str, ...]
    first_recv: str
    second_frame_type: str
    text: str


async def consumer_rules(session: SessionBase) -> Observed:
    """The consumer rules of ``rxrealtime.session``, checked on ``session`` (live or replayed).

    Asserts what must hold for any session; returns what it saw, for comparison.
    """
    a: list[ev.ServerEvent] = []
    b: list[ev.ServerEvent] = []
    calls: list[ev.ServerEvent] = []

    def explode(event: ev.ServerEvent) -> None:
        calls.append(event)
        raise RuntimeError("subscriber bug")

    # several consumers joining in one synchronous block all get the first events
    session.events.subscribe(a.append)
    session.events.subscribe(explode)
    session.events.subscribe(b.append)
    slow = session.iterate(maxsize=2)  # bounded, overflow="block": a slow reader loses nothing
    first = await session.recv()
    await session.conversation.item.create(item=HELLO)
    await session.response.create(response={"output_modalities": ["text"]})
    second = await session.recv_bytes()
    iterated: list[ev.ServerEvent] = []
    async for event in slow:
        iterated.append(event)
        await asyncio.sleep(0)  # slower than the producer: the queue fills, nothing is lost
        if isinstance(event, ev.ResponseDone):
            break
    await slow.aclose()

    stats = session.statistics()
    assert len(calls) == 1  # the raising subscriber was detached at its first event
    assert stats.subscriber_errors == 1
    # a replay may already have reached the end of its recording (it ends by itself there)
    assert stats.subscribers == (0 if stats.closed else 2)
    assert stats.iterators == 1  # the recv() queue (the iterator was closed)
    assert stats.dropped == 0
    assert stats.frames_out == 2 and stats.bytes_out > 50
    assert stats.frames_in >= len(iterated)
    assert session.close_code == (1000 if stats.closed else None)
    assert session.exception() is None
    assert a[: len(iterated)] == b[: len(iterated)] == iterated
    assert isinstance(first, ev.SessionCreated)

    ended: list[str] = []
    session.events.subscribe(on_completed=lambda: ended.append("completed"))
    await session.close()
    await session.wait_closed()
    assert ended == ["completed"]
    assert session.closed and session.close_code == 1000 and session.exception() is None
    assert session.statistics().closed and session.statistics().subscribers == 0
    late: list[str] = []
    session.events.subscribe(on_completed=lambda: late.append("completed"))
    assert late == ["completed"]  # joining after the end: the end at once
    with pytest.raises(ConnectionClosedOK):
        while True:  # whatever recv() still had queued, then the end
            await session.recv()
    assert [e async for e in session] == []
    with pytest.raises(ConnectionClosedOK):
        await session.send({"type": "response.create"})
    return Observed(
        subscriber_types=tuple(e.type or "" for e in a[: len(iterated)]),
        iterated_types=tuple(e.type or "" for e in iterated),
        first_recv=first.type or "",
        second_frame_type=ev.decode(second).type or "",
        text="".join(e.delta for e in iterated if isinstance(e, ev.ResponseOutputTextDelta)),
    )


@pytest.fixture
async def live_and_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[tuple[Observed, Path]]:
    caplog.set_level(logging.CRITICAL, logger="rxrealtime")  # the detached subscriber's log
    path = tmp_path / "session.jsonl"
    async with serve(realtime_audio=False) as server:
        recorder = rr.sinks.Recorder(path)
        session = await rr.connect(base_url=server.base_url, recorder=recorder)
        observed = await consumer_rules(session)
        recorder.close()
    yield observed, path


async def test_a_live_session_and_its_replay_follow_the_same_consumer_rules(
    live_and_path: tuple[Observed, Path],
) -> None:
    live, path = live_and_path
    assert live.text == "Hello! How can I help you today?"
    assert live.iterated_types[0] == "session.created" and live.first_recv == "session.created"
    replay = rr.ReplaySession(path)
    replayed = await consumer_rules(replay)
    assert replayed == live


async def test_a_replay_pauses_for_a_full_iterator_instead_of_overflowing(
    live_and_path: tuple[Observed, Path],
) -> None:
    """A recording far larger than the queue, read by a slow ``async for``: every event."""
    _, path = live_and_path
    body = path.read_text().splitlines()
    header, records = body[0], [line for line in body[1:] if '"dir":"in"' in line.replace(" ", "")]
    big = path.with_name("big.jsonl")
    big.write_text("\n".join([header, *records * 40]) + "\n")
    async with rr.ReplaySession(big, buffer_size=4) as session:
        count = 0
        async for _ in session:
            count += 1
            if count % 50 == 0:
                await asyncio.sleep(0)
        stats = session.statistics()
    assert count == len(records) * 40 == stats.frames_in
    assert stats.dropped == 0 and stats.subscriber_errors == 0


async def test_an_unreadable_recording_ends_with_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "gone.jsonl"
    path.write_text('{"type": "input_audio_buffer.cleared", "event_id": "e1"}\n')
    session = rr.ReplaySession(path)
    path.unlink()  # checked at construction; missing when the replay starts
    errors: list[Exception] = []
    session.events.subscribe(on_error=errors.append)
    await session.wait_closed()
    error = session.exception()
    assert error is not None and errors == [error]
    assert error.code == 1011 and isinstance(error.__cause__, OSError)
    assert session.statistics().last_error == str(error)
