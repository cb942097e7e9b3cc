"""replay / replay_records: both file formats, typed events, virtual and real timing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import reactivex
from reactivex import operators as rx_ops
from reactivex.testing import TestScheduler

from rxrealtime import events as ev
from rxrealtime.replay import Record, replay, replay_records
from rxrealtime.sinks import Recorder

DATA = Path(__file__).resolve().parents[1] / "data"  # shared test data
CAPTURE = DATA / "liusida-dictionary_beta_text_response.jsonl"


def collect(source: reactivex.Observable[Any]) -> list[Any]:
    """Values of a replay run synchronously on a virtual scheduler (which must complete)."""
    scheduler = TestScheduler()
    values: list[Any] = []
    done: list[bool] = []
    source.subscribe(
        values.append,
        lambda e: pytest.fail(repr(e)),
        lambda: done.append(True),
        scheduler=scheduler,
    )
    scheduler.start()
    assert done == [True]
    return values


def write_lines(path: Path, *lines: Any) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return path


def frame(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"evt_{kind}_{len(fields)}", **fields}


def test_real_capture_replays_as_typed_events_whose_deltas_make_the_text() -> None:
    events = collect(replay(CAPTURE))
    raw_lines = CAPTURE.read_text().splitlines()
    assert len(events) == len(raw_lines) == 85
    assert events == [ev.decode(line) for line in raw_lines]
    deltas = [e.delta for e in events if isinstance(e, ev.ResponseOutputTextDelta)]
    (done,) = [e for e in events if isinstance(e, ev.ResponseOutputTextDone)]
    assert len(deltas) == 77
    assert "".join(deltas) == done.text
    assert isinstance(events[0], ev.ResponseCreated)
    assert isinstance(events[-1], ev.ResponseDone)
    assert events[4].type == "response.text.delta"  # the beta name is kept


def test_recorder_file_replays_the_in_events_and_records_give_both_sides(tmp_path: Path) -> None:
    lines = CAPTURE.read_text().splitlines()[:6]
    sent = {"type": "response.create", "response": {"output_modalities": ["text"]}}
    path = tmp_path / "rec.jsonl"
    with Recorder(path, scrub_env=False) as recorder:
        recorder.record_out(sent)
        for line in lines:
            recorder.record_in(ev.decode(line))
        recorder.record_in("garbage {")
    events = collect(replay(path))
    assert events[:-1] == [ev.decode(line) for line in lines]
    assert isinstance(events[-1], ev.InvalidEvent)
    assert events[-1].raw == "garbage {"

    records = collect(replay_records(path))
    assert [r.dir for r in records] == ["out"] + ["in"] * 7
    assert json.loads(records[0].frame) == sent
    assert all(r.t is not None and r.ts is not None for r in records)
    assert records[1].line == 3  # header on line 1, the sent frame on line 2
    ends = collect(replay_records(path, directions=("end",)))
    assert [(r.dir, r.fields["reason"]) for r in ends] == [("end", "closed")]


def test_binary_frames_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with Recorder(path, scrub_env=False) as recorder:
        recorder.record_in(b"\xff\xfe binary")
    (record,) = collect(replay_records(path))
    assert record.frame == b"\xff\xfe binary"
    (event,) = collect(replay(path))
    assert event == ev.decode(b"\xff\xfe binary")
    assert isinstance(event, ev.InvalidEvent)


def test_malformed_and_blank_lines(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "plain.jsonl",
        frame("input_audio_buffer.cleared"),
        "",
        "   ",
        "{not json",
        "[1, 2]",
        '{"dir": "in", "t": 1.0, "event": {"type": 7}}',
        frame("no.such.event", x=1),
        '{"dir": "in", "raw_base64": "!!not base64!!"}',
    )
    events = collect(replay(path))
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "InputAudioBufferCleared",
        "InvalidEvent",
        "InvalidEvent",
        "InvalidEvent",
        "UnknownEvent",
        "InvalidEvent",
    ]
    assert events[1].raw == "{not json"
    assert events[4].type == "no.such.event"


def test_invalid_utf8_line_becomes_an_invalid_event(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"type":"input_audio_buffer.cleared","event_id":"e"}\n\xff\xfe\n')
    events = collect(replay(path))
    assert isinstance(events[0], ev.InputAudioBufferCleared)
    assert isinstance(events[1], ev.InvalidEvent)


def timed(path: Path) -> Path:
    return write_lines(
        path,
        {"rxrealtime_recording": 1, "started_at": 0},
        {"t": 0.5, "ts": 1.5, "dir": "out", "event": {"type": "response.create"}},
        {"t": 1.0, "ts": 2.0, "dir": "in", "event": frame("input_audio_buffer.cleared")},
        {
            "t": 1.5,
            "ts": 2.5,
            "dir": "in",
            "event": frame("input_audio_buffer.committed", item_id="i"),
        },
        frame("input_audio_buffer.cleared"),  # no timestamp: right after the previous one
        {"t": 4.5, "ts": 5.5, "dir": "in", "event": frame("input_audio_buffer.cleared")},
    )


@pytest.mark.parametrize(
    ("speed", "times"),
    [(1.0, [0.5, 1.0, 1.0, 4.0]), (2.0, [0.25, 0.5, 0.5, 2.0]), (None, [0, 0, 0, 0])],
)
def test_virtual_timing_scaled_by_speed(
    tmp_path: Path, speed: float | None, times: list[float]
) -> None:
    scheduler = TestScheduler()
    path = timed(tmp_path / "rec.jsonl")
    observer = scheduler.start(lambda: replay(path, speed), created=1, subscribed=10, disposed=100)
    nexts = [m for m in observer.messages if m.value.kind == "N"]
    assert [m.time - 10 for m in nexts] == pytest.approx(times)
    assert [m.value.value.type for m in nexts] == [
        "input_audio_buffer.cleared",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "input_audio_buffer.cleared",
    ]
    assert observer.messages[-1].value.kind == "C"
    assert observer.messages[-1].time == pytest.approx(10 + times[-1])


def test_dispose_stops_the_replay(tmp_path: Path) -> None:
    scheduler = TestScheduler()
    path = timed(tmp_path / "rec.jsonl")
    observer = scheduler.start(lambda: replay(path, 1.0), created=1, subscribed=10, disposed=11.2)
    assert [m.time for m in observer.messages] == pytest.approx([10.5, 11.0, 11.0])


def test_plain_jsonl_with_speed_replays_as_fast_as_possible(tmp_path: Path) -> None:
    scheduler = TestScheduler()
    path = write_lines(tmp_path / "plain.jsonl", *[frame("input_audio_buffer.cleared")] * 3)
    observer = scheduler.start(lambda: replay(path, 1.0), created=1, subscribed=10, disposed=100)
    assert [m.time for m in observer.messages] == [10, 10, 10, 10]


def test_missing_file_and_bad_speed_fail_at_call(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no recording at"):
        replay(tmp_path / "missing.jsonl")
    with pytest.raises(IsADirectoryError):
        replay(tmp_path)
    path = write_lines(tmp_path / "x.jsonl", frame("input_audio_buffer.cleared"))
    for speed in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="speed"):
            replay(path, speed)


def test_file_removed_before_subscribe_is_an_error_notification(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "x.jsonl", frame("input_audio_buffer.cleared"))
    source = replay(path)
    path.unlink()
    errors: list[Exception] = []
    source.subscribe(on_error=errors.append, scheduler=TestScheduler())
    assert errors == []  # nothing happens until the scheduler runs
    scheduler = TestScheduler()
    source.subscribe(on_error=errors.append, scheduler=scheduler)
    scheduler.start()
    assert len(errors) == 1
    assert isinstance(errors[0], FileNotFoundError)


def test_each_subscription_rereads_the_file(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "x.jsonl", frame("input_audio_buffer.cleared"))
    source = replay(path)
    assert len(collect(source)) == 1
    with path.open("a") as file:
        file.write(json.dumps(frame("input_audio_buffer.cleared")) + "\n")
    assert len(collect(source)) == 2


def test_without_a_loop_it_replays_synchronously(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "x.jsonl", *[frame("input_audio_buffer.cleared")] * 3)
    values: list[ev.ServerEvent] = []
    replay(path).subscribe(values.append)
    assert len(values) == 3


async def test_on_the_event_loop_in_order_without_starving_it(tmp_path: Path) -> None:
    n = 2000
    lines = [frame("input_audio_buffer.committed", item_id=f"item_{i}") for i in range(n)]
    path = write_lines(tmp_path / "many.jsonl", *lines)
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[ev.ServerEvent]] = loop.create_future()
    thread_ok: list[bool] = []

    def check(event: ev.ServerEvent) -> ev.ServerEvent:
        thread_ok.append(asyncio.get_running_loop() is loop)
        return event

    replay(path).pipe(rx_ops.map(check), rx_ops.to_list()).subscribe(done.set_result)
    events = await done
    stop = True
    await task
    assert [e.item_id for e in events] == [f"item_{i}" for i in range(n)]  # type: ignore[attr-defined]
    assert all(thread_ok)
    assert ticks >= n // 512  # the loop ran between batches


async def test_real_time_speed_on_the_loop(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "rec.jsonl",
        {"t": 10.0, "dir": "in", "event": frame("input_audio_buffer.cleared")},
        {"t": 15.0, "dir": "in", "event": frame("input_audio_buffer.cleared")},
    )
    loop = asyncio.get_running_loop()
    arrivals: list[float] = []
    done = loop.create_future()
    start = time.monotonic()
    replay(path, speed=5.0).subscribe(
        lambda _: arrivals.append(time.monotonic() - start),
        on_completed=lambda: done.set_result(None),
    )
    await done
    # 5 s at speed 5 = 1 s: never early; the other bounds are generous (seconds, not ms)
    assert arrivals[0] < 0.5  # the first record is not held back
    assert 0.95 <= arrivals[1] < 5.0


def test_record_decode_matches_event_decode() -> None:
    record = Record("in", '{"type":"input_audio_buffer.cleared","event_id":"e"}')
    assert record.decode() == ev.decode('{"type":"input_audio_buffer.cleared","event_id":"e"}')
