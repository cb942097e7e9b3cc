"""Wire-shaped server events for the sink tests, decoded by the real codec."""

from __future__ import annotations

import base64
import json
from typing import Any

from rxrealtime import events as ev


def wire(type: str, **fields: Any) -> ev.ServerEvent:
    """A server event decoded from the JSON frame ``{"type": type, "event_id": ..., **fields}``."""
    return ev.decode(json.dumps({"type": type, "event_id": f"evt_{type}", **fields}))


def _where(response: str, item: str = "item_1") -> dict[str, Any]:
    return {"response_id": response, "item_id": item, "output_index": 0, "content_index": 0}


def text_delta(delta: str, response: str = "resp_1", *, beta: bool = False) -> ev.ServerEvent:
    name = "response.text.delta" if beta else "response.output_text.delta"
    return wire(name, delta=delta, **_where(response))


def transcript_delta(delta: str, response: str = "resp_1", *, beta: bool = False) -> ev.ServerEvent:
    name = "response.audio_transcript.delta" if beta else "response.output_audio_transcript.delta"
    return wire(name, delta=delta, **_where(response))


def audio_delta(pcm: bytes, response: str = "resp_1", *, beta: bool = False) -> ev.ServerEvent:
    name = "response.audio.delta" if beta else "response.output_audio.delta"
    return wire(name, delta=base64.b64encode(pcm).decode(), **_where(response))


def response_done(response: str = "resp_1", status: str = "completed") -> ev.ServerEvent:
    return wire(
        "response.done",
        response={"object": "realtime.response", "id": response, "status": status, "output": []},
    )


def error_event(message: str = "boom") -> ev.ServerEvent:
    return wire(
        "error",
        error={"type": "invalid_request_error", "code": "invalid_value", "message": message},
    )


def session_created() -> ev.ServerEvent:
    return wire(
        "session.created",
        session={"type": "realtime", "id": "sess_1", "object": "realtime.session"},
    )
