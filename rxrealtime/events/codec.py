"""Frames in, events out: :func:`decode` (never raises) and :func:`encode` / :func:`to_dict`.

Decoding policy
===============

Every frame gives exactly one :class:`~rxrealtime.events.ServerEvent`, and :func:`decode`
never raises. **A typed event keeps its declared types**: every field whose type does not admit
``None`` is set, at every depth, and every value is of its field's declared type. One rule,
the same for events and for every resource inside them:

1. **Not an event at all** -> :class:`InvalidEvent` (``type`` None, ``raw`` the input,
   ``error`` saying why): bytes that are not UTF-8, text that is not JSON, JSON that is not an
   object, an object without a string ``type``.
2. **A string** ``type`` **we do not know** -> :class:`UnknownEvent` with the whole object in
   ``raw``. New server events never break a session.
3. **A required field that does not hold** -> :class:`InvalidEvent` naming its path from the
   event down: ``response.done: field 'response' must be an object, got an integer 5``,
   ``response.output_item.done: required field 'item.name' is missing``,
   ``...: field 'item.content[0]' must be an object, got a string '[Object]'``. Required means
   what the official SDK's models require (``event_id`` included, on every event but
   ``input_audio_buffer.dtmf_event_received``): a required field that is missing or ``null``,
   of the wrong JSON type, or a resource (or list element) whose own required fields do not
   hold, costs its owner, and so on up to the event. An integer where a number is expected is
   accepted (as ``float``); a boolean is never an integer.
4. **An optional field that does not fit is** ``None`` **and kept.** Absent or ``null``, an
   optional field is ``None``; a value that does not fit it (anything that would cost a required
   field, such as ``"[Object]"`` where an optional ``usage`` object belongs) is ``None`` too, and
   the value is kept, exactly as received, in the ``extra`` of the object that holds it. Only
   fields typed ``X | None`` can be ``None``, so only those need a check.
5. **Unknown keys** go to ``extra`` at every level; **unknown enum values** (statuses,
   reasons, formats, voices) are plain strings and kept as received; an item or content part
   of an unknown kind (a ``type`` or a message ``role`` that is unknown or missing) becomes
   :class:`~rxrealtime.events.UnknownItem` / :class:`~rxrealtime.events.UnknownContent`, an
   unknown format/turn detection/tool/usage/session kind the base class of its family, each
   with its fields in ``extra``.
6. **Beta frames** decode to the GA classes: the six renamed stream events by alias
   (``type`` keeps the beta string), beta-shaped sessions (no ``type``) and responses with
   their flat keys (``modalities``, ``voice``, ``output_audio_format``, ...) in ``extra``, beta
   content ``"text"``/``"audio"`` as :class:`~rxrealtime.events.OutputText` /
   :class:`~rxrealtime.events.OutputAudio`. Two fields the SDK requires are optional here
   because beta servers leave them out: ``name`` of ``response.function_call_arguments.done``
   and ``usage`` of ``conversation.item.input_audio_transcription.completed``.

Round trip: ``to_dict(decode(frame))`` equals the frame's object with its ``null`` values left
out (``None`` means "not set" throughout; ``extra`` is merged back, so nothing else is lost).

Encoding: :func:`encode` writes compact JSON (orjson) for a client event, any other event
class, or a plain mapping. ``None`` fields are left out (``"event_id": null`` is never sent);
a mapping is written as given except that its top-level ``None`` values are dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import orjson

from rxrealtime.events import client, items, resources, response, server, session
from rxrealtime.events._base import ClientEvent, InvalidEvent, Model, ServerEvent, UnknownEvent
from rxrealtime.events._convert import InvalidField, converter
from rxrealtime.events._flat import flat_decoder
from rxrealtime.events._structure import (
    compile_function,
    exact_shape,
    make_dispatcher,
    register,
    wire_key,
)
from rxrealtime.events._unstructure import register_unstructure, unstructure_any

__all__ = ["decode", "encode", "from_dict", "to_dict"]


# -- dispatch of the nested families ---------------------------------------------------------

_ROLES: Final = {
    "assistant": items.AssistantMessage,
    "user": items.UserMessage,
    "system": items.SystemMessage,
}
_ITEMS: Final[dict[Any, type]] = {
    "function_call": items.FunctionCall,
    "function_call_output": items.FunctionCallOutput,
    "mcp_approval_request": items.McpApprovalRequest,
    "mcp_approval_response": items.McpApprovalResponse,
    "mcp_list_tools": items.McpListTools,
    "mcp_call": items.McpToolCall,
    "item_reference": items.ItemReference,
}


def _pick_message(value: Mapping[str, Any]) -> type:
    role = value.get("role")
    return _ROLES.get(role, items.UnknownItem) if isinstance(role, str) else items.UnknownItem


def _pick_item(value: Mapping[str, Any]) -> type:
    kind = value.get("type")
    if kind == "message":
        return _pick_message(value)
    return _ITEMS.get(kind, items.UnknownItem) if isinstance(kind, str) else items.UnknownItem


def _by_type(table: Mapping[str, type], default: type) -> Any:
    def pick(value: Mapping[str, Any]) -> type:
        kind = value.get("type")
        return table.get(kind, default) if isinstance(kind, str) else default

    return pick


def _register_families() -> None:
    # "message" items are a family of their own, split by role
    make_dispatcher(items._Message, _pick_message, _ROLES, key="role")
    # (each table lists its most frequent values first: the dispatchers compare in that order)
    make_dispatcher(items.ConversationItem, _pick_item, {"message": items._Message, **_ITEMS})
    families: list[tuple[type, Mapping[str, type], type]] = [
        (
            items.ContentPart,
            {
                "output_audio": items.OutputAudio,
                "output_text": items.OutputText,
                "input_audio": items.InputAudio,
                "input_text": items.InputText,
                "audio": items.OutputAudio,
                "text": items.OutputText,
                "input_image": items.InputImage,
            },
            items.UnknownContent,
        ),
        (
            session.RealtimeAudioFormats,
            {
                "audio/pcm": session.AudioPCM,
                "audio/pcmu": session.AudioPCMU,
                "audio/pcma": session.AudioPCMA,
            },
            session.RealtimeAudioFormats,
        ),
        (
            session.TurnDetection,
            {"server_vad": session.ServerVad, "semantic_vad": session.SemanticVad},
            session.TurnDetection,
        ),
        (
            session.Tool,
            {"function": session.FunctionTool, "mcp": session.McpTool},
            session.Tool,
        ),
        (
            session.ToolChoice,
            {"function": session.ToolChoiceFunction, "mcp": session.ToolChoiceMcp},
            session.ToolChoice,
        ),
        (
            resources.TranscriptionUsage,
            {
                "tokens": resources.TranscriptionUsageTokens,
                "duration": resources.TranscriptionUsageDuration,
            },
            resources.TranscriptionUsage,
        ),
    ]
    for base, table, default in families:
        make_dispatcher(base, _by_type(table, default), table)

    sessions = {
        "realtime": session.RealtimeSessionConfig,
        "transcription": session.TranscriptionSessionConfig,
    }

    def pick_session(value: Mapping[str, Any]) -> type:
        kind = value.get("type")
        if kind is None:  # beta: flat session objects have no type
            return session.RealtimeSessionConfig
        return (
            sessions.get(kind, session.SessionConfig)
            if isinstance(kind, str)
            else (session.SessionConfig)
        )

    make_dispatcher(session.SessionConfig, pick_session, sessions)


def _model_classes() -> list[type]:
    found: list[type] = []
    for module in (items, session, resources, response, client):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, Model):
                found.append(obj)
    return found


_register_families()
for _cls in _model_classes():
    register(_cls)
    register_unstructure(_cls)

_STRUCTURE: Final = {
    cls: register(cls, event=True) for cls in set(server.SERVER_EVENT_TYPES.values())
}
for _cls in _STRUCTURE:
    register_unstructure(_cls)
_DECODERS: Final = {wire: _STRUCTURE[cls] for wire, cls in server.SERVER_EVENT_TYPES.items()}
"""Wire type -> compiled structure function, for every server type (aliases too)."""


def _unknown_to_dict(event: UnknownEvent) -> dict[str, Any]:
    return dict(event.raw)


def _invalid_to_dict(event: InvalidEvent) -> dict[str, Any]:
    raw = event.raw
    if isinstance(raw, str | bytes | bytearray | memoryview):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raw = None
    if isinstance(raw, dict):
        return raw
    raise ValueError(f"this InvalidEvent has no wire object ({event.error})")


converter.register_unstructure_hook(UnknownEvent, _unknown_to_dict)
converter.register_unstructure_hook(InvalidEvent, _invalid_to_dict)

_UNSTRUCTURE: Final = {
    cls: converter.get_unstructure_hook(cls)
    for cls in [*_model_classes(), *server.SERVER_EVENT_TYPES.values(), UnknownEvent, InvalidEvent]
}


# -- the public codec ------------------------------------------------------------------------

_loads: Final = orjson.loads
_JSONDecodeError: Final = orjson.JSONDecodeError


def decode(frame: str | bytes) -> ServerEvent:
    """Decode one frame from the server into an event. Never raises.

    ``frame`` is the text frame (``str``) or a binary frame (``bytes``, accepted when it holds
    UTF-8 JSON). The result is the event's class for a known ``type`` (beta names included),
    :class:`UnknownEvent` for an unknown one, and :class:`InvalidEvent` for anything that is
    not a usable event; see the module docstring for exactly where the line falls. Pure and
    thread-safe: no state is kept between calls.
    """
    try:
        obj = _loads(frame)
    except _JSONDecodeError as exc:
        return _not_json(frame, exc)
    except Exception as exc:  # not str/bytes at all: still one event, never an exception
        return _not_text(frame, exc)
    try:  # the hot path: a dict with a known type that fits (anything else raises)
        event: ServerEvent = _DECODERS[obj["type"]](obj)
    except Exception:
        return _decode_object(obj, frame)  # says what it is instead, or why it does not fit
    return event


def _not_json(frame: Any, exc: Exception) -> InvalidEvent:
    what = "not valid JSON" if isinstance(frame, str) else "binary frame is not UTF-8 JSON"
    return InvalidEvent(raw=frame, error=f"{what}: {exc}")


def _not_text(frame: Any, exc: Exception) -> InvalidEvent:
    return InvalidEvent(raw=frame, error=f"cannot decode a {type(frame).__name__}: {exc}")


_HOT: Final = (
    "response.output_audio.delta",
    "response.output_audio_transcript.delta",
    "response.output_text.delta",
    "conversation.item.input_audio_transcription.delta",
)
"""The stream events that make up most of a session's frames, most frequent first."""


def _specialise(reference: Callable[[str | bytes], ServerEvent]) -> Any:
    """``reference`` (:func:`decode` as written above) with two fast paths in front: the C
    decoder of flat frames (:func:`~rxrealtime.events._flat.flat_decoder`, where the extension
    is in use), then the fast path of each :data:`_HOT` class (see
    :func:`~rxrealtime.events._structure.exact_shape`) compiled into it, in order, so a stream
    delta the C decoder does not take costs one function call, not three, and no hash of its
    ``type``. Any frame the fast paths do not take goes on exactly as in ``reference``, which
    every result equals (the tests check this); ``__wrapped__`` is ``reference``."""
    flat = flat_decoder(
        [(wire, server.SERVER_EVENT_TYPES[wire]) for wire in _HOT]
        + [(wire, cls) for wire, cls in server.SERVER_EVENT_TYPES.items() if wire not in _HOT]
    )
    ns: dict[str, Any] = {
        "_flat": flat,
        "_loads": _loads,
        "_JSONDecodeError": _JSONDecodeError,
        "_not_json": _not_json,
        "_not_text": _not_text,
        "_DECODERS": _DECODERS,
        "_decode_object": _decode_object,
        "_k_type": wire_key("type"),
    }
    body = (
        [
            "    event = _flat(frame)",
            "    if event is not None:",
            "        return event",
        ]
        if flat is not None
        else []
    )
    body += [
        "    try:",
        "        d = _loads(frame)",
        "    except _JSONDecodeError as exc:",
        "        return _not_json(frame, exc)",
        "    except Exception as exc:",
        "        return _not_text(frame, exc)",
        "    try:",
        "        t = d[_k_type]",
    ]
    for i, wire in enumerate(_HOT):
        cls = server.SERVER_EVENT_TYPES[wire]
        lines = exact_shape(cls, ns, prefix=f"_h{i}", is_dict=True, known={"type": "t"})
        body.append(f"        {'elif' if i else 'if'} t == {wire!r}:")
        body += [f"            {line}" for line in lines]
    body += [
        "        event = _DECODERS[t](d)",
        "    except Exception:",
        "        return _decode_object(d, frame)",
        "    return event",
    ]
    specialised = compile_function("<rxrealtime decode>", "frame", body, ns)
    return functools.update_wrapper(specialised, reference)


def from_dict(obj: Any) -> ServerEvent:
    """Decode an already-parsed JSON value (e.g. a recording's ``event``). Never raises.

    Same rules as :func:`decode`; an :class:`InvalidEvent`'s ``raw`` is ``obj`` itself.
    """
    return _decode_object(obj, obj)


def _decode_object(obj: Any, raw: Any) -> ServerEvent:
    if obj.__class__ is not dict:
        return InvalidEvent(raw=raw, error=f"expected a JSON object, got {_json_kind(obj)}")
    kind = obj.get("type")
    if not isinstance(kind, str):
        what = "missing" if "type" not in obj else f"not a string ({_json_kind(kind)})"
        return InvalidEvent(raw=raw, error=f"the event's 'type' is {what}")
    structure = _DECODERS.get(kind)
    if structure is None:
        return UnknownEvent(type=kind, event_id=_event_id(obj), raw=obj)
    try:
        event: ServerEvent = structure(obj)
    except InvalidField as exc:
        return InvalidEvent(type=kind, event_id=_event_id(obj), raw=raw, error=f"{kind}: {exc}")
    except Exception as exc:  # a bug of ours must still not end the session
        return InvalidEvent(
            type=kind, event_id=_event_id(obj), raw=raw, error=f"{kind}: cannot decode ({exc!r})"
        )
    return event


def _event_id(obj: dict[str, Any]) -> str | None:
    value = obj.get("event_id")
    return value if isinstance(value, str) else None


def _json_kind(value: Any) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def to_dict(event: ServerEvent | ClientEvent | Model) -> dict[str, Any]:
    """The wire object of any event (or nested resource): wire names, ``type`` first, ``None``
    fields left out, ``extra`` merged back. :class:`UnknownEvent` gives its ``raw`` object; an
    :class:`InvalidEvent` gives the object it was decoded from, or raises ``ValueError`` when the
    frame was not a JSON object."""
    hook = _UNSTRUCTURE.get(type(event))
    if hook is None:
        if not isinstance(event, Model):
            raise TypeError(f"not an rxrealtime event: {type(event).__name__}")
        hook = converter.get_unstructure_hook(type(event))
    result: dict[str, Any] = hook(event)
    return result


def _default(value: Any) -> Any:
    if isinstance(value, Model):
        return to_dict(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot encode a {type(value).__name__} as JSON")


def encode(event: ClientEvent | ServerEvent | Mapping[str, Any]) -> str:
    """The compact wire JSON of a client event (or any event class, or a plain mapping).

    ``None`` fields are left out. A mapping may hold event classes (they are written as their
    wire objects); its top-level ``None`` values are dropped. Raises ``TypeError`` for anything
    that is neither an event nor a mapping, or holds values JSON cannot represent.
    """
    if isinstance(event, Model):
        data: Any = to_dict(event)
    elif isinstance(event, Mapping):
        data = {k: unstructure_any(v) for k, v in event.items() if v is not None}
    else:
        raise TypeError(f"cannot encode a {type(event).__name__}; expected an event or a mapping")
    return orjson.dumps(data, default=_default).decode()


if not TYPE_CHECKING:  # type checkers see decode as written; at run time it is specialised
    decode = _specialise(decode)
