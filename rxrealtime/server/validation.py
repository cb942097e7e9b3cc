"""Checks on client events, answered with the live service's error codes.

Every function raises :class:`~rxrealtime.server.errors.ClientError` on bad input (never any
other exception, whatever the JSON) and never mutates its argument. Parameter names in errors are
dotted paths (``item.content[0].text``). The payload specs are in
:mod:`~rxrealtime.server.request_models`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import attrs

from rxrealtime.server import errors
from rxrealtime.server.request_models import EVENT_FIELDS, EVENT_ID, ITEM, RESPONSE_PARAMS
from rxrealtime.server.schema import check, join

__all__ = [
    "CLIENT_EVENT_TYPES",
    "NewItem",
    "check_event",
    "check_response_params",
    "decode_audio",
    "normalize_item",
    "parse_event",
]

CLIENT_EVENT_TYPES: tuple[str, ...] = tuple(EVENT_FIELDS)
"""The GA client event types, in the order the service lists them in errors."""

_PART_TYPES = {
    "user": ["input_text", "input_audio", "input_image"],
    "system": ["input_text"],
    "assistant": ["output_text", "output_audio"],
}
_PART_FIELDS = {
    "user": frozenset({"type", "text", "audio", "transcript", "image_url", "detail"}),
    "system": frozenset({"type", "text"}),
    "assistant": frozenset({"type", "text", "audio", "transcript"}),
}


def check_event(event: Mapping[str, Any]) -> str:
    """Check a client event's ``type`` and top-level fields; return the type."""
    return parse_event(event)[0]


def parse_event(event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Check a client event's ``type`` and top-level fields; return the type and the event
    normalised (``"audio_end_ms": 300.0`` becomes ``300``).

    Nested payloads (``session``, ``item``) are checked by their handlers; ``response.create``'s
    ``response`` is checked here in full."""
    if "type" not in event:
        raise errors.ClientError("The 'type' field is missing.", code="invalid_event")
    kind = event["type"]
    if not isinstance(kind, str):
        raise errors.invalid_type("type", str, kind)
    spec = EVENT_FIELDS.get(kind)
    if spec is None:
        raise errors.invalid_value("type", kind, list(CLIENT_EVENT_TYPES))
    fields = {key: value for key, value in event.items() if key not in ("type", "event_id")}
    checked: dict[str, Any] = check(spec, fields, "")
    if "event_id" in event:
        checked["event_id"] = check(EVENT_ID, event["event_id"], "event_id")
    return kind, {"type": kind, **checked}


def decode_audio(data: str, param: str) -> bytes:
    """Decode base64 audio (in the session's input format); an invalid value is an
    ``invalid_value`` error."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.ClientError(
            f"Invalid '{param}'. Expected base64-encoded audio bytes (mono PCM16 at 24kHz) "
            "but got an invalid value.",
            code="invalid_value",
            param=param,
        ) from exc


@attrs.frozen
class NewItem:
    """A checked conversation item: its wire form (``id`` possibly ``None``) and any audio."""

    wire: dict[str, Any]
    audio: bytes = b""


def _normalize_part(part: Mapping[str, Any], role: str, path: str) -> tuple[dict[str, Any], bytes]:
    """One content part. Like the SDK's (flat) content models, a part may carry any field of
    its role's parts (``text``, ``audio``, ``transcript``, ``image_url``, ``detail``); those its
    type does not use are ignored."""
    kind = part.get("type")
    if kind is None:
        raise errors.missing_parameter(f"{path}.type")
    if not isinstance(kind, str):
        raise errors.invalid_type(f"{path}.type", str, kind)
    if kind not in _PART_TYPES[role]:
        raise errors.invalid_value(f"{path}.type", kind, _PART_TYPES[role])
    for key, value in part.items():
        if key not in _PART_FIELDS[role]:
            raise errors.unknown_parameter(f"{path}.{key}")
        if value is not None and not isinstance(value, str):
            raise errors.invalid_type(f"{path}.{key}", str, value)
    if role == "assistant" or kind == "input_text":
        # the live service needs text for every assistant part: it cannot populate assistant
        # audio, so an ``output_audio`` part is kept as its transcript, without audio
        if part.get("text") is None:
            raise errors.missing_parameter(f"{path}.text")
        if kind == "output_audio":
            return {"type": kind, "transcript": part["text"]}, b""
        return {"type": kind, "text": part["text"]}, b""
    if kind == "input_image":
        if part.get("image_url") is None:
            raise errors.missing_parameter(f"{path}.image_url")
        detail = part.get("detail") or "auto"
        if detail not in ("auto", "low", "high"):
            raise errors.invalid_value(f"{path}.detail", detail, ["auto", "low", "high"])
        return {"type": kind, "image_url": part["image_url"], "detail": detail}, b""
    if part.get("audio") is None:  # input_audio
        raise errors.missing_parameter(f"{path}.audio")
    audio = decode_audio(part["audio"], f"{path}.audio") if part["audio"] else b""
    return {"type": kind, "transcript": part.get("transcript")}, audio


def normalize_item(item: object, path: str = "item") -> NewItem:
    """Check a conversation item and return it in the server's wire form: status
    ``completed``, ``object: "realtime.item"`` on messages and function items, audio parts
    echoing only their transcript. MCP items are kept as given."""
    checked: dict[str, Any] = check(ITEM, item, path)
    kind = checked["type"]
    if kind.startswith("mcp_"):
        return NewItem(checked)
    wire: dict[str, Any] = {
        "id": checked.get("id"),
        "object": "realtime.item",
        "type": kind,
        "status": "completed",
    }
    if kind == "function_call":
        wire.update(
            name=checked["name"], call_id=checked.get("call_id"), arguments=checked["arguments"]
        )
        return NewItem(wire)
    if kind == "function_call_output":
        wire.update(call_id=checked["call_id"], output=checked["output"])
        return NewItem(wire)
    role = checked["role"]
    if role not in _PART_TYPES:
        raise errors.invalid_value(join(path, "role"), role, list(_PART_TYPES))
    content: list[dict[str, Any]] = []
    audio = bytearray()
    for index, part in enumerate(checked["content"]):
        normalized, pcm = _normalize_part(part, role, f"{path}.content[{index}]")
        content.append(normalized)
        audio += pcm
    wire.update(role=role, content=content)
    return NewItem(wire, bytes(audio))


def check_response_params(params: object) -> dict[str, Any]:
    """Check ``response.create``'s ``response`` object (every field the SDK types, with the
    live service's bounds) and return it normalised (``{}`` for none)."""
    checked: dict[str, Any] | None = check(RESPONSE_PARAMS, params, "response")
    return checked or {}
