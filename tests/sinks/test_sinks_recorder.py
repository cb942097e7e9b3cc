"""The JSONL recorder: format, line-by-line flushing, secrets, invalid frames, the end record."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import reactivex
from sinks_helpers import audio_delta, error_event, session_created, text_delta, wire

from rxrealtime import events as ev
from rxrealtime.sinks import FORMAT_VERSION, Recorder, scrub

KEY = "sk-test-THIS-MUST-NEVER-BE-WRITTEN-0123456789"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_header_then_one_record_per_line_readable_while_open(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    clock = FakeClock()
    before = time.time()
    recorder = Recorder(path, clock=clock, meta={"model": "gpt-realtime"}, scrub_env=False)
    header = lines(path)
    assert header == [
        {
            "rxrealtime_recording": FORMAT_VERSION,
            "started_at": pytest.approx(before, abs=5),
            "meta": {"model": "gpt-realtime"},
        }
    ]
    event = text_delta("Hel")
    for n in range(1, 4):
        clock.now += 0.25
        recorder.record_in(event)
        # The file is still open: every line is already on disk and complete.
        raw = path.read_bytes()
        assert raw.endswith(b"\n")
        records = lines(path)
        assert len(records) == 1 + n
        assert records[-1]["t"] == pytest.approx(0.25 * n)
        assert records[-1]["ts"] == pytest.approx(time.time(), abs=5)
        assert records[-1]["dir"] == "in"
        assert records[-1]["event"] == ev.to_dict(event)
    assert recorder.records_written == 3
    assert not recorder.closed
    recorder.close()
    assert recorder.closed


def test_both_directions_and_every_frame_shape(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with Recorder(path, scrub_env=False) as recorder:
        recorder.record_out(ev.ResponseCreate())
        recorder.record_out({"type": "input_audio_buffer.commit"})
        recorder.record_out('{"type":"input_audio_buffer.clear"}')
        recorder.record_in('{"type":"input_audio_buffer.cleared","event_id":"e1"}')
        recorder.record_in(b'{"type":"input_audio_buffer.cleared","event_id":"e2"}')
        recorder.record_in(session_created())
    records = lines(path)[1:]
    assert [r["dir"] for r in records] == ["out", "out", "out", "in", "in", "in", "end"]
    assert records[0]["event"] == json.loads(ev.encode(ev.ResponseCreate()))
    assert records[1]["event"] == {"type": "input_audio_buffer.commit"}
    assert records[2]["event"] == {"type": "input_audio_buffer.clear"}
    assert records[3]["event"] == {"type": "input_audio_buffer.cleared", "event_id": "e1"}
    assert records[4]["event"] == {"type": "input_audio_buffer.cleared", "event_id": "e2"}
    assert records[5]["event"] == ev.to_dict(session_created())
    assert records[6] == {
        "t": records[6]["t"],
        "ts": records[6]["ts"],
        "dir": "end",
        "reason": "closed",
        "error": None,
    }
    times = [r["t"] for r in records]
    assert times == sorted(times)


def test_invalid_frames_are_kept_as_they_arrived(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with Recorder(path, scrub_env=False) as recorder:
        recorder.record_in("this is {not json")
        recorder.record_in(b"\xff\x00\x01binary")
        recorder.record_in(ev.decode("also [not json"))
        invalid_shape = ev.decode('{"type":  42}')
        assert isinstance(invalid_shape, ev.InvalidEvent)
        recorder.record_in(invalid_shape)
        recorder.record_in('{"type": 43}')
    records = lines(path)[1:-1]
    assert records[0]["raw"] == "this is {not json"
    assert "event" not in records[0]
    assert records[1]["raw_base64"] == "/wABYmluYXJ5"
    assert records[2]["raw"] == "also [not json"
    assert records[3]["raw"] == '{"type":  42}'  # verbatim: replay decodes the same event
    assert records[4]["event"] == {"type": 43}


def test_secrets_never_reach_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_key = "sk-env-ANOTHER-SECRET-abcdefghijklmnop"
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    path = tmp_path / "rec.jsonl"
    meta = {
        "url": "wss://api.openai.com/v1/realtime?model=gpt-realtime",
        "headers": {"Authorization": f"Bearer {KEY}", "OpenAI-Project": "proj_1", "api-key": "x"},
    }
    with Recorder(path, secrets=[KEY, None, ""], meta=meta) as recorder:
        recorder.record_out(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": f"my key is {KEY} and {env_key}"}],
                },
            }
        )
        recorder.record_out({"type": "session.update", "session": {KEY: "as a key too"}})
        recorder.record_in(f"not json but contains {KEY}")
        recorder.record_in(error_event(f"Incorrect API key provided: {KEY}"))
        recorder.record_in(text_delta("Bearer sk-something-else"))
        recorder.on_error(RuntimeError(f"closed while using {KEY}"))
    data = path.read_text()
    assert KEY not in data
    assert env_key not in data
    assert "sk-something-else" not in data
    # Everything else survives, and the file is still valid JSONL.
    records = lines(path)
    assert records[0]["meta"]["headers"] == {
        "Authorization": "***",
        "OpenAI-Project": "proj_1",
        "api-key": "***",
    }
    assert records[1]["event"]["item"]["content"][0]["text"] == "my key is *** and ***"
    assert records[2]["event"]["session"] == {"***": "as a key too"}
    assert records[3]["raw"] == "not json but contains ***"
    assert records[4]["event"]["error"]["message"] == "Incorrect API key provided: ***"
    assert records[-1]["error"] == "RuntimeError: closed while using ***"


def test_scrub_masks_longest_secret_first() -> None:
    assert scrub({"a": ["xx-abc-def", 1, None]}, ["abc", "xx-abc-def"]) == {"a": ["***", 1, None]}


def test_observer_side_records_in_events_and_the_end(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    recorder = Recorder(path, scrub_env=False)
    events = [session_created(), text_delta("hi"), audio_delta(b"\x01\x00" * 4)]
    reactivex.from_iterable(events).subscribe(recorder)
    assert recorder.closed
    records = lines(path)[1:]
    assert [r.get("event") for r in records[:-1]] == [ev.to_dict(e) for e in events]
    assert records[-1]["reason"] == "completed"
    # After the end nothing more is written and nothing raises.
    recorder.record_in(text_delta("late"))
    recorder.record_out({"type": "response.create"})
    recorder.close()
    assert len(lines(path)) == 1 + len(records)


def test_error_end_record_and_dispose(tmp_path: Path) -> None:
    failed = tmp_path / "failed.jsonl"
    recorder = Recorder(failed, scrub_env=False)
    reactivex.concat(
        reactivex.of(wire("input_audio_buffer.cleared")), reactivex.throw(ValueError("socket"))
    ).subscribe(recorder)
    assert lines(failed)[-1]["reason"] == "error"
    assert lines(failed)[-1]["error"] == "ValueError: socket"

    disposed = tmp_path / "disposed.jsonl"
    recorder = Recorder(disposed, scrub_env=False)
    subscription = reactivex.never().subscribe(recorder)
    subscription.dispose()
    recorder.dispose()
    assert lines(disposed)[-1]["reason"] == "closed"
    assert recorder.closed


def test_unrecordable_value_is_a_type_error(tmp_path: Path) -> None:
    with Recorder(tmp_path / "rec.jsonl", scrub_env=False) as recorder, pytest.raises(TypeError):
        recorder.record_out(42)  # type: ignore[arg-type]


def test_missing_directory_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Recorder(tmp_path / "no" / "such" / "dir.jsonl")
