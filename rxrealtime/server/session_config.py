"""Session resources (GA shapes) and how ``session.update`` changes them.

The server's session is a plain wire dict, exactly what ``session.created`` / ``session.updated``
carry. :func:`apply_update` validates an update against the GA schema (unknown keys are rejected
with ``unknown_parameter``, naming the dotted path) and deep-merges it: nested objects are merged
key by key, ``null`` clears a setting (``audio.input.turn_detection: null`` disables VAD) and a
turn-detection object is completed with the defaults of its ``type``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rxrealtime.server import errors
from rxrealtime.server.validation import check_audio_format

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "apply_update",
    "realtime_session",
    "transcription_session",
    "turn_detection_defaults",
]

DEFAULT_INSTRUCTIONS = (
    "You are the rxrealtime embedded model: a small deterministic assistant for demos and tests."
)

_PCM = {"type": "audio/pcm", "rate": 24000}

# None = a leaf (any value accepted here, checked elsewhere if at all); a dict = nested object.
_TURN_DETECTION: dict[str, Any] = dict.fromkeys(
    (
        "type",
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "idle_timeout_ms",
        "create_response",
        "interrupt_response",
        "eagerness",
    )
)
_AUDIO_INPUT: dict[str, Any] = {
    "format": None,
    "noise_reduction": None,
    "transcription": None,
    "turn_detection": _TURN_DETECTION,
}
_REALTIME_SCHEMA: dict[str, Any] = {
    **dict.fromkeys(
        (
            "type",
            "model",
            "output_modalities",
            "instructions",
            "tools",
            "tool_choice",
            "max_output_tokens",
            "tracing",
            "truncation",
            "prompt",
            "include",
        )
    ),
    "audio": {"input": _AUDIO_INPUT, "output": dict.fromkeys(("format", "voice", "speed"))},
}
_TRANSCRIPTION_SCHEMA: dict[str, Any] = {
    "type": None,
    "include": None,
    "audio": {"input": _AUDIO_INPUT},
}


def turn_detection_defaults(kind: str) -> dict[str, Any]:
    """The settings a ``server_vad`` / ``semantic_vad`` turn detection starts from."""
    if kind == "semantic_vad":
        return {
            "type": "semantic_vad",
            "eagerness": "auto",
            "create_response": True,
            "interrupt_response": True,
        }
    return {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }


def realtime_session(
    session_id: str, model: str, expires_at: int, instructions: str = DEFAULT_INSTRUCTIONS
) -> dict[str, Any]:
    """A new realtime session as the live service announces it in ``session.created``."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": instructions,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "audio": {
            "input": {
                "format": dict(_PCM),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": turn_detection_defaults("server_vad"),
            },
            "output": {"format": dict(_PCM), "voice": "marin", "speed": 1.0},
        },
        "include": None,
    }


def transcription_session(session_id: str, expires_at: int) -> dict[str, Any]:
    """A new transcription session (``?intent=transcription``)."""
    return {
        "type": "transcription",
        "object": "realtime.transcription_session",
        "id": session_id,
        "expires_at": expires_at,
        "audio": {
            "input": {
                "format": dict(_PCM),
                "transcription": {
                    "model": "gpt-4o-mini-transcribe",
                    "language": None,
                    "prompt": "",
                },
                "noise_reduction": None,
                "turn_detection": turn_detection_defaults("server_vad"),
            }
        },
        "include": None,
    }


def _check_keys(update: Mapping[str, Any], schema: Mapping[str, Any], path: str) -> None:
    for key, value in update.items():
        if key not in schema:
            raise errors.unknown_parameter(f"{path}.{key}")
        nested = schema[key]
        if nested is not None and value is not None:
            if not isinstance(value, Mapping):
                raise errors.invalid_type(f"{path}.{key}", dict, value)
            _check_keys(value, nested, f"{path}.{key}")


def _check_values(update: Mapping[str, Any]) -> None:
    modalities = update.get("output_modalities")
    if "output_modalities" in update and (
        not isinstance(modalities, list)
        or not modalities
        or any(m not in ("text", "audio") for m in modalities)
    ):
        raise errors.invalid_value("session.output_modalities", modalities, ["text", "audio"])
    if "instructions" in update and not isinstance(update["instructions"], str):
        raise errors.invalid_type("session.instructions", str, update["instructions"])
    if "tools" in update and not isinstance(update["tools"], list):
        raise errors.invalid_type("session.tools", list, update["tools"])
    audio = update.get("audio") or {}
    for direction in ("input", "output"):
        settings = audio.get(direction) or {}
        if "format" in settings:
            check_audio_format(settings["format"], f"session.audio.{direction}.format")
    turn = (audio.get("input") or {}).get("turn_detection")
    if isinstance(turn, Mapping) and turn.get("type") not in ("server_vad", "semantic_vad"):
        raise errors.invalid_value(
            "session.audio.input.turn_detection.type",
            turn.get("type"),
            ["server_vad", "semantic_vad"],
        )


def _merge(target: dict[str, Any], update: Mapping[str, Any], path: str) -> None:
    for key, value in update.items():
        if key == "turn_detection" and isinstance(value, Mapping):
            current = target.get(key)
            base = (
                dict(current)
                if isinstance(current, dict) and current.get("type") == value["type"]
                else turn_detection_defaults(str(value["type"]))
            )
            base.update(copy.deepcopy(dict(value)))
            target[key] = base
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict) and key != "format":
            _merge(target[key], value, f"{path}.{key}")
        else:
            target[key] = copy.deepcopy(value)


def apply_update(session: Mapping[str, Any], update: object) -> dict[str, Any]:
    """Return ``session`` changed by a ``session.update``'s ``session`` object.

    Raises :class:`~rxrealtime.server.errors.ClientError` (and changes nothing) when the update is
    not an object, lacks ``type``, changes the session type, or has unknown or invalid fields.
    """
    if not isinstance(update, Mapping):
        raise errors.invalid_type("session", dict, update)
    if "type" not in update:
        raise errors.missing_parameter("session.type")
    if update["type"] != session["type"]:
        raise errors.invalid_value("session.type", update["type"], [str(session["type"])])
    schema = _REALTIME_SCHEMA if session["type"] == "realtime" else _TRANSCRIPTION_SCHEMA
    _check_keys(update, schema, "session")
    _check_values(update)
    merged = copy.deepcopy(dict(session))
    _merge(merged, update, "session")
    return merged
