"""Checks on client events, answered with the live service's error codes.

Every function raises :class:`~rxrealtime.server.errors.ClientError` on bad input and never
mutates its argument. Parameter names in errors are dotted paths (``item.content``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import attrs

from rxrealtime.server import errors
from rxrealtime.server.g711 import CODECS

__all__ = [
    "CLIENT_EVENT_TYPES",
    "NewItem",
    "check_audio_format",
    "check_event",
    "check_response_params",
    "decode_audio",
    "normalize_item",
]

# type -> (required fields, optional fields), each field mapped to its expected Python type.
_FIELDS: dict[str, tuple[dict[str, type], dict[str, type]]] = {
    "session.update": ({"session": dict}, {}),
    "input_audio_buffer.append": ({"audio": str}, {}),
    "input_audio_buffer.commit": ({}, {}),
    "input_audio_buffer.clear": ({}, {}),
    "output_audio_buffer.clear": ({}, {"response_id": str}),
    "conversation.item.create": ({"item": dict}, {"previous_item_id": str}),
    "conversation.item.delete": ({"item_id": str}, {}),
    "conversation.item.retrieve": ({"item_id": str}, {}),
    "conversation.item.truncate": (
        {"item_id": str, "content_index": int, "audio_end_ms": int},
        {},
    ),
    "response.create": ({}, {"response": dict}),
    "response.cancel": ({}, {"response_id": str}),
}
CLIENT_EVENT_TYPES: tuple[str, ...] = tuple(_FIELDS)
"""The GA client event types, in the order the service lists them in errors."""

_RESPONSE_PARAMS = frozenset(
    {
        "audio",
        "conversation",
        "input",
        "instructions",
        "max_output_tokens",
        "metadata",
        "output_modalities",
        "parallel_tool_calls",
        "prompt",
        "reasoning",
        "tool_choice",
        "tools",
    }
)
_ITEM_KEYS = {
    "message": frozenset({"id", "type", "object", "status", "role", "content"}),
    "function_call": frozenset({"id", "type", "object", "status", "name", "arguments", "call_id"}),
    "function_call_output": frozenset({"id", "type", "object", "status", "call_id", "output"}),
}
_PART_TYPES = {
    "user": ["input_text", "input_audio", "input_image"],
    "system": ["input_text"],
    "assistant": ["output_text", "output_audio"],
}


def _is_type(value: object, expected: type) -> bool:
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is dict:
        return isinstance(value, Mapping)
    return isinstance(value, expected)


def _check_fields(
    data: Mapping[str, Any],
    required: Mapping[str, type],
    optional: Mapping[str, type],
    prefix: str = "",
) -> None:
    for name in required:
        if name not in data:
            raise errors.missing_parameter(prefix + name)
    for name, value in data.items():
        expected = required.get(name) or optional.get(name)
        if expected is None:
            continue
        if not _is_type(value, expected) and not (name in optional and value is None):
            raise errors.invalid_type(prefix + name, expected, value)


def check_event(event: Mapping[str, Any]) -> str:
    """Check a client event's ``type`` and top-level fields; return the type."""
    if "type" not in event:
        raise errors.ClientError("The 'type' field is missing.", code="invalid_event")
    kind = event["type"]
    if not isinstance(kind, str):
        raise errors.invalid_type("type", str, kind)
    if kind not in _FIELDS:
        raise errors.invalid_value("type", kind, list(CLIENT_EVENT_TYPES))
    required, optional = _FIELDS[kind]
    for name in event:
        if name not in required and name not in optional and name not in ("type", "event_id"):
            raise errors.unknown_parameter(name)
    _check_fields(event, required, {**optional, "event_id": str})
    return kind


def check_audio_format(value: object, param: str) -> None:
    """Check an audio format object (``{"type": "audio/pcmu"}``; ``null`` = unset)."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise errors.invalid_type(param, dict, value)
    if value.get("type") not in CODECS:
        raise errors.invalid_value(f"{param}.type", value.get("type"), list(CODECS))


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


def _normalize_part(part: object, role: str, path: str) -> tuple[dict[str, Any], bytes]:
    if not isinstance(part, Mapping):
        raise errors.invalid_type(path, dict, part)
    kind = part.get("type")
    if kind is None:
        raise errors.missing_parameter(f"{path}.type")
    if kind not in _PART_TYPES[role]:
        raise errors.invalid_value(f"{path}.type", kind, _PART_TYPES[role])
    if kind in ("input_text", "output_text"):
        _check_fields(part, {"text": str}, {}, f"{path}.")
        return {"type": kind, "text": part["text"]}, b""
    if kind == "input_image":
        _check_fields(part, {"image_url": str}, {"detail": str}, f"{path}.")
        return {
            "type": kind,
            "image_url": part["image_url"],
            "detail": part.get("detail") or "auto",
        }, b""
    # input_audio / output_audio
    _check_fields(part, {}, {"audio": str, "transcript": str}, f"{path}.")
    if kind == "input_audio" and "audio" not in part:
        raise errors.missing_parameter(f"{path}.audio")
    audio = decode_audio(part["audio"], f"{path}.audio") if part.get("audio") else b""
    return {"type": kind, "transcript": part.get("transcript")}, audio


def normalize_item(item: Mapping[str, Any], path: str = "item") -> NewItem:
    """Check a ``conversation.item.create`` item and return it in the server's wire form
    (status ``completed``; audio parts echo only their transcript)."""
    kind = item.get("type")
    if kind is None:
        raise errors.missing_parameter(f"{path}.type")
    if kind not in _ITEM_KEYS:
        raise errors.invalid_value(f"{path}.type", kind, list(_ITEM_KEYS))
    for key in item:
        if key not in _ITEM_KEYS[kind]:
            raise errors.unknown_parameter(f"{path}.{key}")
    _check_fields(item, {}, {"id": str}, f"{path}.")
    wire: dict[str, Any] = {"id": item.get("id"), "type": kind, "status": "completed"}
    if kind == "function_call":
        _check_fields(item, {"name": str, "arguments": str}, {"call_id": str}, f"{path}.")
        wire.update(name=item["name"], call_id=item.get("call_id"), arguments=item["arguments"])
        return NewItem(wire)
    if kind == "function_call_output":
        _check_fields(item, {"call_id": str, "output": str}, {}, f"{path}.")
        wire.update(call_id=item["call_id"], output=item["output"])
        return NewItem(wire)
    _check_fields(item, {"role": str, "content": list}, {}, f"{path}.")
    role = item["role"]
    if role not in _PART_TYPES:
        raise errors.invalid_value(f"{path}.role", role, list(_PART_TYPES))
    content: list[dict[str, Any]] = []
    audio = bytearray()
    for index, part in enumerate(item["content"]):
        normalized, pcm = _normalize_part(part, role, f"{path}.content[{index}]")
        content.append(normalized)
        audio += pcm
    wire.update(role=role, content=content)
    return NewItem(wire, bytes(audio))


def check_response_params(params: Mapping[str, Any]) -> None:
    """Check ``response.create``'s ``response`` object (unknown keys and the values the server
    acts on)."""
    for key in params:
        if key not in _RESPONSE_PARAMS:
            raise errors.unknown_parameter(f"response.{key}")
    _check_fields(
        params,
        {},
        {
            "instructions": str,
            "tools": list,
            "input": list,
            "metadata": dict,
            "output_modalities": list,
            "conversation": str,
        },
        "response.",
    )
    conversation = params.get("conversation")
    if conversation is not None and conversation not in ("auto", "none"):
        raise errors.invalid_value("response.conversation", conversation, ["auto", "none"])
    modalities = params.get("output_modalities")
    if modalities is not None and (
        not modalities or any(m not in ("text", "audio") for m in modalities)
    ):
        raise errors.invalid_value("response.output_modalities", modalities, ["text", "audio"])
    limit = params.get("max_output_tokens")
    if limit is not None and limit != "inf" and not (_is_type(limit, int) and 1 <= limit <= 4096):
        raise errors.invalid_value("response.max_output_tokens", limit)
    for key, value in (params.get("metadata") or {}).items():
        if not isinstance(value, str):
            raise errors.invalid_type(f"response.metadata.{key}", str, value)
    audio = params.get("audio")
    output = audio.get("output") if isinstance(audio, Mapping) else None
    if isinstance(output, Mapping):
        check_audio_format(output.get("format"), "response.audio.output.format")
