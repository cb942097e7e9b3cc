"""EventLogger: one log record per event, level per kind, audio payloads elided."""

from __future__ import annotations

import base64
import logging

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
from rxrealtime.sinks import EventLogger, default_level, summarize


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
