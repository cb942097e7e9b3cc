"""Client events checked before they are sent, and audio appends kept under the size limit.

:meth:`RealtimeSession.send <rxrealtime.session.RealtimeSession.send>` calls
:func:`validate_client_event` on every event, typed or not: an ``ev.ClientEvent`` is checked as
the wire dict it encodes to (``ev.to_dict``), so ``ev.ConversationItemDelete(item_id=5)`` is
refused exactly like ``{"type": "conversation.item.delete", "item_id": 5}``. It refuses, *before
anything is sent*, with :class:`~rxrealtime.errors.InvalidClientEventError` naming the field:

* a mapping without a string ``type``, or with a type that is not a client event
  (``ev.CLIENT_EVENT_TYPES``);
* a missing required field or a top-level field of the wrong JSON type (``bool`` is not an
  integer here), an ``event_id`` that is not a string;
* a ``conversation.item.create`` item without a string ``type``, a message whose ``role`` is not
  one of ``ev.MESSAGE_ROLES`` or whose ``content`` is not a list of objects with a string
  ``type``.

The fields, their kinds and which are required are not written here: they come from
``ev.CLIENT_EVENT_SCHEMA``, which the events layer derives from the event classes.

Unknown extra keys are left for the server to judge (the service may add fields). Every encoded
client frame larger than :data:`MAX_EVENT_BYTES` (the service's 15 MiB per event) is refused
with :class:`~rxrealtime.errors.EventTooLargeError`; :func:`split_audio` is how the typed
``session.input_audio_buffer.append(...)`` helper stays under it, sending several appends.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from rxrealtime import events as ev
from rxrealtime.errors import InvalidClientEventError

__all__ = ["MAX_AUDIO_APPEND_BYTES", "MAX_EVENT_BYTES", "split_audio", "validate_client_event"]

MAX_EVENT_BYTES: Final = 15 * 1024 * 1024
"""The largest client event the service accepts (15 MiB)."""

MAX_AUDIO_APPEND_BYTES: Final = ((MAX_EVENT_BYTES - 4096) * 3 // 4) // 6 * 6
"""Raw audio bytes per ``input_audio_buffer.append`` when :func:`split_audio` splits: the
base64 text plus the event's envelope stays under :data:`MAX_EVENT_BYTES`, and pieces end on a
whole PCM16 sample (a multiple of 6 bytes is also a whole base64 quantum)."""

_WANTED: Final = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
}


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return f"a {type(value).__name__}"


def _fail(kind: str, field: str, message: str) -> InvalidClientEventError:
    return InvalidClientEventError(f"invalid {kind} event: {field}: {message}", field=field)


def validate_client_event(event: ev.ClientEvent | Mapping[str, Any]) -> str:
    """Check a client event (typed, or a mapping); return its type or raise
    :class:`~rxrealtime.errors.InvalidClientEventError` (see the module docstring).

    A typed event is checked as the wire dict it encodes to, so both take one path."""
    if isinstance(event, ev.ClientEvent):
        event = ev.to_dict(event)
    if not isinstance(event, Mapping):
        raise InvalidClientEventError(
            f"a client event must be an ev.ClientEvent or a mapping, got {_kind(event)}", "type"
        )
    kind = event.get("type")
    if "type" not in event:
        raise InvalidClientEventError("a client event needs a 'type' field", "type")
    if not isinstance(kind, str):
        raise InvalidClientEventError(f"'type' must be a string, got {_kind(kind)}", "type")
    fields = ev.CLIENT_EVENT_SCHEMA.get(kind)
    if fields is None:
        known = ", ".join(sorted(ev.CLIENT_EVENT_TYPES))
        raise InvalidClientEventError(
            f"unknown client event type {kind!r}; expected one of: {known}", "type"
        )
    for name, field in fields.items():
        value = event.get(name)
        if value is None:
            if field.required:
                raise _fail(kind, name, "is required")
            continue
        if not field.accepts(value):
            raise _fail(kind, name, f"must be {_WANTED[field.kind]}, got {_kind(value)}")
    if kind == "conversation.item.create":
        _check_item(kind, event["item"])
    return kind


def _check_item(kind: str, item: Mapping[str, Any]) -> None:
    item_type = item.get("type")
    if not isinstance(item_type, str):
        raise _fail(kind, "item.type", f"must be a string, got {_kind(item_type)}")
    if item_type != "message":
        return
    role = item.get("role")
    if role not in ev.MESSAGE_ROLES:
        roles = ", ".join(ev.MESSAGE_ROLES)
        raise _fail(kind, "item.role", f"must be one of {roles}, got {role!r}")
    content = item.get("content")
    if not isinstance(content, list | tuple):
        raise _fail(kind, "item.content", f"must be a list, got {_kind(content)}")
    for index, part in enumerate(content):
        where = f"item.content[{index}]"
        if not isinstance(part, Mapping):
            raise _fail(kind, where, f"must be an object, got {_kind(part)}")
        if not isinstance(part.get("type"), str):
            raise _fail(kind, f"{where}.type", f"must be a string, got {_kind(part.get('type'))}")
        for text_field in ("text", "transcript", "audio"):
            value = part.get(text_field)
            if value is not None and not isinstance(value, str):
                raise _fail(kind, f"{where}.{text_field}", f"must be a string, got {_kind(value)}")


def split_audio(
    audio: bytes | bytearray | memoryview | str, limit: int = MAX_AUDIO_APPEND_BYTES
) -> Iterator[bytes | str]:
    """Cut audio into pieces of at most ``limit`` raw bytes, in order.

    Raw audio is cut every ``limit`` bytes (``limit`` must be a multiple of 6: whole PCM16
    samples and whole base64 quanta). Base64 text is cut every ``limit * 4 // 3`` characters,
    so each piece is valid base64 on its own and decodes to the same bytes in order.
    """
    if limit <= 0 or limit % 6:
        raise ValueError(f"limit must be a positive multiple of 6, got {limit}")
    if isinstance(audio, str):
        step = limit * 4 // 3
        for start in range(0, max(len(audio), 1), step):
            yield audio[start : start + step]
        return
    view = memoryview(audio).cast("B")
    for start in range(0, max(len(view), 1), limit):
        yield bytes(view[start : start + limit])
