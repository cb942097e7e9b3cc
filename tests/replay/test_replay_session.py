"""ReplaySession: code written for live sessions runs unchanged on a recording."""

from __future__ import annotations

from pathlib import Path

import pytest
from reactivex.scheduler import HistoricalScheduler

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.errors import ConnectionClosedOK
from rxrealtime.replay import ReplaySession, replay_session

DATA = Path(__file__).resolve().parents[1] / "data"  # shared test data
CAPTURE = DATA / "liusida-dictionary_beta_text_response.jsonl"
ANSWER_START = '{\n  "word": "pending"'


async def define(session: ReplaySession, word: str) -> tuple[str, list[str], int]:
    """Written for a live session: ask, stream the words, wait for the end of the response."""
    words: list[str] = []
    session.events.pipe(ops.text_only()).subscribe(words.append)
    await session.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": word}]}
    )
    await session.response.create()
    total = 0
    async for event in session:
        if isinstance(event, ev.ResponseDone):
            assert event.response.usage is not None
            total = event.response.usage.total_tokens or 0
            break
    return "".join(words), [str(s["type"]) for s in session.sent], total


async def test_live_code_runs_on_a_recording() -> None:
    async with ReplaySession(CAPTURE) as session:
        text, sent, total = await define(session, "pending")
    assert text.startswith(ANSWER_START)
    assert sent == ["conversation.item.create", "response.create"]
    assert total == 151
    assert session.closed


async def test_recv_reads_everything_then_reports_the_end() -> None:
    session = replay_session(CAPTURE)
    events = []
    while True:
        try:
            events.append(await session.recv())
        except ConnectionClosedOK:
            break
    assert len(events) == 85
    with pytest.raises(ConnectionClosedOK):
        await session.recv()
    await session.close()
    with pytest.raises(ConnectionClosedOK):
        await session.send({"type": "response.create"})


async def test_consumers_joining_together_all_see_every_event() -> None:
    async with ReplaySession(CAPTURE) as session:
        first: list[ev.ServerEvent] = []
        second: list[ev.ServerEvent] = []
        session.events.subscribe(first.append)
        session.events.subscribe(second.append)
        iterated = [event async for event in session]
    assert len(first) == len(second) == len(iterated) == 85
    assert first == second == iterated


async def test_close_stops_the_replay_and_completes_consumers(tmp_path: Path) -> None:
    path = tmp_path / "slow.jsonl"
    path.write_text(
        '{"t": 0, "dir": "in", "event": {"type": "input_audio_buffer.cleared", "event_id": "a"}}\n'
        '{"t": 60, "dir": "in", "event": {"type": "input_audio_buffer.cleared", "event_id": "b"}}\n'
    )
    session = ReplaySession(path, speed=1.0)
    completed: list[bool] = []
    session.events.subscribe(on_completed=lambda: completed.append(True))
    first = await session.recv()
    assert first.event_id == "a"
    await session.close()
    assert completed == [True]
    with pytest.raises(ConnectionClosedOK):
        await session.recv()


async def test_send_validates_like_a_live_send() -> None:
    async with ReplaySession(CAPTURE) as session:
        await session.send(ev.ResponseCreate())
        await session.input_audio_buffer.append(b"\x00\x01")
        assert session.sent == [
            {"type": "response.create"},
            {"type": "input_audio_buffer.append", "audio": "AAE="},
        ]


def test_missing_recording_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ReplaySession(tmp_path / "nope.jsonl")


async def test_live_style_iterators_close_independently() -> None:
    async with ReplaySession(CAPTURE) as session:
        async with session.iterate(maxsize=8) as first:
            second = session.iterate()
            head = [await anext(first) for _ in range(3)]
        # ``first`` is closed: it ends at once; ``second`` still gets everything.
        assert [event async for event in first] == []
        rest = [event async for event in second]
    assert head == rest[:3]
    assert len(rest) == 85


def test_a_replay_session_runs_on_virtual_time_without_a_loop(tmp_path: Path) -> None:
    path = tmp_path / "slow.jsonl"
    path.write_text(
        '{"t": 0, "dir": "in", "event": {"type": "input_audio_buffer.cleared", "event_id": "a"}}\n'
        '{"t": 60, "dir": "in", "event": {"type": "input_audio_buffer.cleared", "event_id": "b"}}\n'
    )
    clock = HistoricalScheduler()
    session = ReplaySession(path, speed=1.0, scheduler=clock)
    got: list[str | None] = []
    session.events.subscribe(
        lambda e: got.append(e.event_id), on_completed=lambda: got.append("end")
    )
    clock.advance_by(30.0)
    assert got == ["a"] and not session.closed
    clock.advance_by(31.0)
    assert got == ["a", "b", "end"] and session.closed and session.close_code == 1000
    stats = session.statistics()
    assert stats.frames_in == 2 and stats.close_reason == "end of recording"
