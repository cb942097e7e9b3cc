"""Wire-shaped server events for the operator tests, decoded by the real codec."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from rxrealtime import events as ev

DATA = Path(__file__).resolve().parents[1] / "data"  # shared test data
CAPTURE = DATA / "liusida-dictionary_beta_text_response.jsonl"


def wire(type: str, **fields: Any) -> ev.ServerEvent:
    return ev.decode(json.dumps({"type": type, "event_id": f"evt_{type}", **fields}))


def _stream(kind: str, item: str, response: str, ci: int, beta: bool) -> tuple[str, dict[str, Any]]:
    names = {
        "text": ("response.output_text", "response.text"),
        "audio": ("response.output_audio", "response.audio"),
        "transcript": ("response.output_audio_transcript", "response.audio_transcript"),
    }
    prefix = names[kind][1 if beta else 0]
    return prefix, {
        "response_id": response,
        "item_id": item,
        "output_index": 0,
        "content_index": ci,
    }


def text_delta(
    item: str, delta: str, *, response: str = "r1", ci: int = 0, beta: bool = False
) -> ev.ServerEvent:
    prefix, ids = _stream("text", item, response, ci, beta)
    return wire(prefix + ".delta", delta=delta, **ids)


def text_done(
    item: str, text: str, *, response: str = "r1", ci: int = 0, beta: bool = False
) -> ev.ServerEvent:
    prefix, ids = _stream("text", item, response, ci, beta)
    return wire(prefix + ".done", text=text, **ids)


def transcript_delta(
    item: str, delta: str, *, response: str = "r1", ci: int = 0, beta: bool = False
) -> ev.ServerEvent:
    prefix, ids = _stream("transcript", item, response, ci, beta)
    return wire(prefix + ".delta", delta=delta, **ids)


def transcript_done(
    item: str, transcript: str, *, response: str = "r1", ci: int = 0, beta: bool = False
) -> ev.ServerEvent:
    prefix, ids = _stream("transcript", item, response, ci, beta)
    return wire(prefix + ".done", transcript=transcript, **ids)


def audio_delta(
    item: str, data: bytes | str, *, response: str = "r1", ci: int = 0, beta: bool = False
) -> ev.ServerEvent:
    prefix, ids = _stream("audio", item, response, ci, beta)
    delta = data if isinstance(data, str) else base64.b64encode(data).decode()
    return wire(prefix + ".delta", delta=delta, **ids)


def audio_done(
    item: str, *, response: str = "r1", ci: int = 0, beta: bool = False
) -> ev.ServerEvent:
    prefix, ids = _stream("audio", item, response, ci, beta)
    return wire(prefix + ".done", **ids)


def args_delta(
    call_id: str, delta: str, *, item: str = "fc1", response: str = "r1"
) -> ev.ServerEvent:
    return wire(
        "response.function_call_arguments.delta",
        response_id=response,
        item_id=item,
        output_index=0,
        call_id=call_id,
        delta=delta,
    )


def args_done(
    call_id: str,
    arguments: str,
    *,
    item: str = "fc1",
    response: str = "r1",
    name: str | None = None,
) -> ev.ServerEvent:
    fields: dict[str, Any] = {"name": name} if name is not None else {}
    return wire(
        "response.function_call_arguments.done",
        response_id=response,
        item_id=item,
        output_index=0,
        call_id=call_id,
        arguments=arguments,
        **fields,
    )


def function_call_item(
    item: str, call_id: str, name: str, arguments: str = "", status: str = "in_progress"
) -> dict[str, Any]:
    return {
        "id": item,
        "object": "realtime.item",
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def item_added(item: dict[str, Any], *, response: str = "r1") -> ev.ServerEvent:
    return wire("response.output_item.added", response_id=response, output_index=0, item=item)


def created(response: str = "r1") -> ev.ServerEvent:
    return wire(
        "response.created",
        response={
            "object": "realtime.response",
            "id": response,
            "status": "in_progress",
            "output": [],
        },
    )


def done(
    response: str = "r1",
    *,
    status: str = "completed",
    output: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
) -> ev.ServerEvent:
    body: dict[str, Any] = {
        "object": "realtime.response",
        "id": response,
        "status": status,
        "output": output or [],
    }
    if usage is not None:
        body["usage"] = usage
    return wire("response.done", response=body)


def speech_started(item: str = "u1", ms: int = 0) -> ev.ServerEvent:
    return wire("input_audio_buffer.speech_started", item_id=item, audio_start_ms=ms)


def speech_stopped(item: str = "u1", ms: int = 0) -> ev.ServerEvent:
    return wire("input_audio_buffer.speech_stopped", item_id=item, audio_end_ms=ms)


def input_delta(item: str, delta: str, ci: int = 0) -> ev.ServerEvent:
    return wire(
        "conversation.item.input_audio_transcription.delta",
        item_id=item,
        content_index=ci,
        delta=delta,
    )


def input_completed(item: str, transcript: str, ci: int = 0) -> ev.ServerEvent:
    return wire(
        "conversation.item.input_audio_transcription.completed",
        item_id=item,
        content_index=ci,
        transcript=transcript,
        usage={"type": "duration", "seconds": 1.0},
    )


def input_failed(item: str, ci: int = 0) -> ev.ServerEvent:
    return wire(
        "conversation.item.input_audio_transcription.failed",
        item_id=item,
        content_index=ci,
        error={"type": "transcription_error", "code": "audio_unintelligible", "message": "no"},
    )


def error(
    code: str, message: str = "boom", *, type: str = "invalid_request_error"
) -> ev.ServerEvent:
    return wire(
        "error",
        error={"type": type, "code": code, "message": message, "param": None, "event_id": None},
    )


def capture() -> list[ev.ServerEvent]:
    return [ev.decode(line) for line in CAPTURE.read_text().splitlines() if line.strip()]
