"""EventLogger: one log record per event, level per kind, audio payloads elided."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
import reactivex
from sinks_helpers import (
    audio_delta,
    error_event,
    response_done,
    session_created,
    text_delta,
    wire,
)

from rxrealtime import events as ev
from rxrealtime.sinks import EventLogger, Recorder, default_level, summarize


def test_levels_per_event_kind(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rxrealtime.events")
    pcm = bytes(range(256)) * 8
    events = [
        session_created(),
        text_delta("Hi"),
        audio_delta(pcm),
        error_event("bad thing"),
        ev.decode("not json"),
        response_done(status="failed"),
        response_done(),
        wire("response.mcp_call.failed", item_id="i", output_index=0),
    ]
    reactivex.from_iterable(events).subscribe(EventLogger())
    records = [r for r in caplog.records if r.name == "rxrealtime.events"]
    assert [(r.levelno, r.getMessage().split(" ")[0]) for r in records] == [
        (logging.INFO, "session.created"),
        (logging.DEBUG, "response.output_text.delta"),
        (logging.DEBUG, "response.output_audio.delta"),
        (logging.ERROR, "error"),
        (logging.WARNING, "InvalidEvent"),
        (logging.WARNING, "response.done"),
        (logging.INFO, "response.done"),
        (logging.WARNING, "response.mcp_call.failed"),
        (logging.INFO, "event"),
    ]
    assert records[-1].getMessage() == "event stream completed"
    assert [getattr(r, "rx_event", None) for r in records[:-1]] == events
    assert "bad thing" in records[3].getMessage()
    audio_message = records[2].getMessage()
    assert base64.b64encode(pcm).decode()[:40] not in audio_message
    assert "<2732 chars of base64 audio>" in audio_message
    assert '"delta":"Hi"' in records[1].getMessage()


def test_disabled_levels_are_not_formatted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="custom")
    reactivex.from_iterable([text_delta("x"), session_created()]).subscribe(EventLogger("custom"))
    assert [r.getMessage().split(" ")[0] for r in caplog.records] == ["session.created", "event"]


def test_stream_error_is_logged_with_the_exception(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    logger = logging.getLogger("mine")
    reactivex.throw(OSError("socket gone")).subscribe(EventLogger(logger))
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "event stream failed: socket gone"
    assert record.exc_info is not None


def test_custom_level_function(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rxrealtime.events")
    reactivex.of(session_created()).subscribe(EventLogger(level=lambda event: logging.CRITICAL))
    assert caplog.records[0].levelno == logging.CRITICAL


def test_summaries_elide_input_audio_and_truncate_long_text() -> None:
    item = {
        "id": "item_1",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": "QUFB" * 1000, "transcript": None}],
    }
    summary = summarize(wire("conversation.item.added", item=item))
    assert "QUFBQUFB" not in summary
    assert "<4000 chars of base64 audio>" in summary
    long = summarize(text_delta("y" * 2000))
    assert "…<1500 more chars>" in long
    assert default_level(text_delta("x")) == logging.DEBUG


KEY = "sk-test-LOGGER-MUST-MASK-0123456789abcdef"


def test_a_configured_key_in_content_is_masked_as_the_recorder_masks_it(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12, point 12: a key that appears verbatim in event content (an echoed prompt, an
    error message, a header-like field) never reaches a log line; the recorder and the logger
    mask the same things the same way (one implementation)."""
    env_key = "sk-test-FROM-THE-ENVIRONMENT-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    caplog.set_level(logging.DEBUG, logger="rxrealtime.events")
    events = [
        text_delta(f"your key is {KEY}!"),
        error_event(f"Incorrect API key provided: {KEY} / {env_key}"),
        wire("conversation.item.added", item={"id": "i", "type": "message", "api_key": "plain"}),
        wire("session.updated", session={"instructions": "Bearer abc.def"}),
        ev.decode(f"not json {KEY}"),
    ]
    logger = EventLogger(secrets=[KEY])
    reactivex.from_iterable(events).subscribe(logger)
    with Recorder(tmp_path / "rec.jsonl", secrets=[KEY]) as recorder:
        for event in events:
            recorder.on_next(event)
    logged = caplog.text
    for secret in (KEY, env_key, "plain", "abc.def"):
        assert secret not in logged
    assert "your key is ***!" in logged and '"api_key":"***"' in logged
    assert "Bearer ***" in logged
    recorded = [json.loads(line) for line in (tmp_path / "rec.jsonl").read_text().splitlines()]
    first_delta = next(r for r in recorded if r.get("event", {}).get("type", "").endswith("delta"))
    assert first_delta["event"]["delta"] == "your key is ***!"


def test_add_secrets_and_the_stream_error_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rxrealtime.events")
    logger = EventLogger(scrub_env=False)
    logger.add_secrets([KEY])
    reactivex.concat(
        reactivex.of(text_delta(KEY)), reactivex.throw(OSError(f"socket gone {KEY}"))
    ).subscribe(logger)
    assert KEY not in caplog.text
    failure = caplog.records[-1]
    assert failure.getMessage().startswith("event stream failed: socket gone ***\n")
    assert "OSError: socket gone ***" in failure.getMessage() and failure.exc_info is None


@pytest.mark.parametrize("start", [490, 495, 499, 500, 505])
def test_the_key_is_masked_before_long_text_is_truncated(start: int) -> None:
    """Issue 12, point 6 for logs: a key straddling the 500-character cut leaves no prefix."""
    text = "y" * start + KEY + "z" * 1000
    summary = summarize(text_delta(text), secrets=[KEY])
    assert KEY[:6] not in summary and KEY[-6:] not in summary
    assert "more chars>" in summary
