"""A hostile recording replays or is refused in one line, never a hang or a traceback (issue
12, point 8 and the ``t`` of 1e12).

Attacks: records nested 300 levels (past the JSON writer), past the recursion limit and past
the reader's depth; a record whose ``t`` is 1e12 (or 1e308) replayed with the
original timing; the same files through ``python -m rxrealtime replay``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hostile_peer import nested
from reactivex.scheduler import HistoricalScheduler

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosedError
from rxrealtime.recording import FORMAT_VERSION, HEADER_KEY, JSON_READ_DEPTH
from rxrealtime.replay import MAX_REPLAY_SPAN

HEADER = orjson.dumps({HEADER_KEY: FORMAT_VERSION, "started_at": 0.0}).decode()


def write(path: Path, *records: str) -> Path:
    path.write_text("\n".join([HEADER, *records]) + "\n")
    return path


def record(t: float | str, event: str) -> str:
    return f'{{"t":{t},"ts":{t},"dir":"in","event":{event}}}'


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rxrealtime", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


DEPTHS = [300, 5000, JSON_READ_DEPTH - 2, JSON_READ_DEPTH + 1]


@pytest.mark.parametrize("depth", DEPTHS)
async def test_a_deep_record_replays_to_the_event_the_live_session_saw(
    tmp_path: Path, depth: int
) -> None:
    frame = nested(depth)
    path = write(tmp_path / "deep.jsonl", record(0, frame), record(0.1, '{"type":"x.after"}'))
    async with asyncio.timeout(10):
        events = await rr.scheduling.to_list(rr.replay(path))
        async with rr.ReplaySession(path) as session:
            replayed = [event async for event in session]
    assert [e.type for e in replayed] == [e.type for e in events]
    assert len(events) == 2 and events[1].type == "x.after"
    live = ev.decode(frame)
    assert type(events[0]) in (type(live), ev.InvalidEvent)
    if depth < JSON_READ_DEPTH - 1:  # the record itself is readable: exactly the live event
        assert type(events[0]) is type(live) and events[0].type == live.type


@pytest.mark.parametrize("depth", [300, JSON_READ_DEPTH + 1])
def test_the_replay_command_replays_a_deep_record_without_a_traceback(
    tmp_path: Path, depth: int
) -> None:
    path = write(tmp_path / "deep.jsonl", record(0, nested(depth)), record(0.1, '{"type":"x.b"}'))
    result = cli("replay", str(path), "--only", "events")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2 and "x.b" in result.stdout


@pytest.mark.parametrize("t", ["1e12", "1e308", str(MAX_REPLAY_SPAN + 1)])
async def test_a_timed_replay_refuses_an_absurd_time_instead_of_waiting_for_ever(
    tmp_path: Path, t: str
) -> None:
    path = write(tmp_path / "far.jsonl", record(0, '{"type":"x.a"}'), record(t, '{"type":"x.b"}'))
    got: list[str] = []
    errors: list[Exception] = []
    rr.replay(path, speed=1.0, scheduler=HistoricalScheduler()).subscribe(
        lambda e: got.append(e.type), errors.append
    )
    # a virtual clock: nothing would come in a real lifetime, and nothing must hang either
    assert got == ["x.a"] or got == []
    async with asyncio.timeout(10):
        async with rr.ReplaySession(path, speed=1.0) as session:
            seen = [event.type async for event in _until_end(session)]
    assert seen == ["x.a"]
    error = session.exception()
    assert isinstance(error, ConnectionClosedError) and "line 3" in str(error)
    assert "not waiting" in str(error)


async def _until_end(session: rr.ReplaySession):  # type: ignore[no-untyped-def]
    try:
        async for event in session:
            yield event
    except ConnectionClosedError:
        return


def test_the_replay_command_refuses_an_absurd_time_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "far.jsonl", record(0, '{"type":"x.a"}'), record(1e12, '{"type":"x"}'))
    result = cli("replay", str(path), "--speed", "1", "--only", "events")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not waiting" in lines[0] and "line 3" in lines[0], lines


def test_a_timed_replay_within_the_span_still_waits(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.jsonl", record(0, '{"type":"x.a"}'), record(3600, '{"type":"x"}'))
    scheduler = HistoricalScheduler()
    got: list[str] = []
    rr.replay(path, speed=1.0, scheduler=scheduler).subscribe(lambda e: got.append(e.type))
    scheduler.advance_by(3599)
    assert got == ["x.a"]
    scheduler.advance_by(2)
    assert got == ["x.a", "x"]
