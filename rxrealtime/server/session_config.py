"""Session resources (GA shapes) and how ``session.update`` changes them.

The server's session is a plain wire dict, exactly what ``session.created`` / ``session.updated``
carry. :func:`apply_update` validates an update against the GA request models
(:data:`~rxrealtime.server.request_models.REALTIME_SESSION` /
:data:`~rxrealtime.server.request_models.TRANSCRIPTION_SESSION`: every field the SDK types is
accepted, unknown keys are ``unknown_parameter`` naming the dotted path, values are checked) and
merges it. ``audio``, ``audio.input``, ``audio.output`` and ``audio.input.noise_reduction`` are
merged key by key; every other field is replaced; ``null`` clears a setting
(``audio.input.turn_detection: null`` disables VAD); a turn-detection object is completed with
the defaults of its ``type``; noise reduction, when first enabled, gets ``strength`` 1.0.

The live service's rules on changes are enforced: the session ``type`` and ``model`` cannot
change, and the voice cannot change once the session has produced audio
(``cannot_update_voice``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from rxrealtime.server import errors
from rxrealtime.server.conversation import StoredItem
from rxrealtime.server.request_models import REALTIME_SESSION, TRANSCRIPTION_SESSION
from rxrealtime.server.responses import ResponseConfig
from rxrealtime.server.schema import check

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "apply_update",
    "expires_at",
    "expiry_message",
    "realtime_session",
    "response_config",
    "transcription_session",
    "turn_detection_defaults",
]

DEFAULT_INSTRUCTIONS = (
    "You are the rxrealtime embedded model: a small deterministic assistant for demos and tests."
)

_PCM = {"type": "audio/pcm", "rate": 24000}
_SESSION_TTL_S = 3600
_MERGED = frozenset(
    {
        "session.audio",
        "session.audio.input",
        "session.audio.output",
        "session.audio.input.noise_reduction",
    }
)


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
        "parallel_tool_calls": True,
        "reasoning": None,
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


def _merge(target: dict[str, Any], update: Mapping[str, Any], path: str) -> None:
    for key, value in update.items():
        here = f"{path}.{key}"
        current = target.get(key)
        if key == "turn_detection" and isinstance(value, Mapping):
            base = (
                dict(current)
                if isinstance(current, dict) and current.get("type") == value["type"]
                else turn_detection_defaults(str(value["type"]))
            )
            base.update(copy.deepcopy(dict(value)))
            target[key] = base
        elif key == "noise_reduction" and isinstance(value, Mapping) and current is None:
            target[key] = {"strength": 1.0, **copy.deepcopy(dict(value))}
        elif here in _MERGED and isinstance(value, Mapping) and isinstance(current, dict):
            _merge(current, value, here)
        else:
            target[key] = copy.deepcopy(value)


def _voice(session: Mapping[str, Any]) -> object:
    return ((session.get("audio") or {}).get("output") or {}).get("voice")


def apply_update(
    session: Mapping[str, Any], update: object, *, audio_produced: bool = False
) -> dict[str, Any]:
    """Return ``session`` changed by a ``session.update``'s ``session`` object.

    ``audio_produced``: whether the session has already sent assistant audio (then the voice
    is fixed). Raises :class:`~rxrealtime.server.errors.ClientError` (and changes nothing) when
    the update is not an object, lacks ``type``, changes the session type or model, changes the
    voice after audio, or has unknown or invalid fields.
    """
    if not isinstance(update, Mapping):
        raise errors.invalid_type("session", dict, update)
    if "type" not in update:
        raise errors.missing_parameter("session.type")
    if update["type"] != session["type"]:
        raise errors.invalid_value("session.type", update["type"], [str(session["type"])])
    spec = REALTIME_SESSION if session["type"] == "realtime" else TRANSCRIPTION_SESSION
    checked: dict[str, Any] = check(spec, update, "session")
    model = checked.get("model")
    if model is not None and model != session.get("model"):
        raise errors.ClientError(
            f"Cannot update a session's model: the session was created with "
            f"'{session.get('model')}'. Open a new session to use '{model}'.",
            code="invalid_value",
            param="session.model",
        )
    voice = _voice(checked)
    if audio_produced and voice is not None and voice != _voice(session):
        raise errors.ClientError(
            "Cannot update a conversation's voice if assistant audio is present.",
            code="cannot_update_voice",
        )
    merged = copy.deepcopy(dict(session))
    _merge(merged, checked, "session")
    return merged


def _pick(params: Mapping[str, Any], key: str, default: Any) -> Any:
    """``params[key]`` unless absent or ``null``, else ``default``."""
    value = params.get(key)
    return default if value is None else value


def response_config(
    session: Mapping[str, Any], params: Mapping[str, Any], items: tuple[StoredItem, ...]
) -> ResponseConfig:
    """The settings of one response: ``response.create``'s checked ``response`` object over the
    session's defaults (a field absent or ``null`` takes the session's value). ``items`` is the
    response's input."""
    audio_output = dict(session["audio"]["output"])
    audio_output.pop("speed", None)
    override = (params.get("audio") or {}).get("output") or {}
    audio_output.update({key: value for key, value in override.items() if value is not None})
    limit = _pick(params, "max_output_tokens", session.get("max_output_tokens"))
    return ResponseConfig(
        output_modalities=tuple(
            _pick(params, "output_modalities", session.get("output_modalities")) or ["audio"]
        ),
        instructions=str(_pick(params, "instructions", session.get("instructions")) or ""),
        tools=tuple(_pick(params, "tools", session.get("tools")) or ()),
        tool_choice=_pick(params, "tool_choice", session.get("tool_choice")) or "auto",
        max_output_tokens=limit or "inf",
        metadata=params.get("metadata"),
        audio_output=audio_output,
        in_conversation=params.get("conversation") != "none",
        items=items,
        parallel_tool_calls=_pick(params, "parallel_tool_calls", session.get("parallel_tool_calls"))
        is not False,
    )


def expires_at(session_limit: float | None = None, now: float | None = None) -> int:
    """Unix time at which a session created at ``now`` (default: now) expires: ``session_limit``
    seconds later, rounded; one hour (like the live service) when the limit is ``None``."""
    if now is None:
        now = time.time()
    if session_limit is None:
        return int(now) + _SESSION_TTL_S
    return round(now + session_limit)


def expiry_message(session_limit: float) -> str:
    """The live service's message: the limit in whole minutes, or in seconds under a minute."""
    if session_limit >= 60:
        value, unit = f"{round(session_limit / 60)}", "minute"
    else:
        value, unit = f"{session_limit:g}", "second"
    return f"Your session hit the maximum duration of {value} {unit}{'' if value == '1' else 's'}."
