"""Client events checked before they are sent, and audio appends kept under the size limit.

:meth:`RealtimeSession.send <rxrealtime.session.RealtimeSession.send>` calls
:func:`validate_client_event` on plain mappings (typed ``ev.ClientEvent`` instances are already
shaped by their classes) and refuses, *before anything is sent*, with
:class:`~rxrealtime.errors.InvalidClientEventError` naming the field:

* a mapping without a string ``type``, or with a type that is not a client event
  (``ev.CLIENT_EVENT_TYPES``);
* a missing required field or a top-level field of the wrong JSON type (``bool`` is not an
  integer here), an ``event_id`` that is not a string;
* a ``conversation.item.create`` item without a string ``type``, a message whose ``role`` is not
  ``user``/``assistant``/``system`` or whose ``content`` is not a list of objects with a string
  ``type``.

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

_STR, _INT, _OBJ = (str,), (int,), (Mapping,)
# wire type -> {field: (accepted python types, required)}
_FIELDS: Final[dict[str, dict[str, tuple[tuple[type, ...], bool]]]] = {
    "session.update": {"session": (_OBJ, True)},
    "response.create": {"response": (_OBJ, False)},
    "response.cancel": {"response_id": (_STR, False)},
    "conversation.item.create": {"item": (_OBJ, True), "previous_item_id": (_STR, False)},
    "conversation.item.delete": {"item_id": (_STR, True)},
    "conversation.item.retrieve": {"item_id": (_STR, True)},
    "conversation.item.truncate": {
        "item_id": (_STR, True),
        "content_index": (_INT, True),
        "audio_end_ms": (_INT, True),
    },
    "input_audio_buffer.append": {"audio": (_STR, True)},
    "input_audio_buffer.commit": {},
    "input_audio_buffer.clear": {},
    "output_audio_buffer.clear": {},
}
_ROLES: Final = ("user", "assistant", "system")
_WANTED: Final[dict[tuple[type, ...], str]] = {
    _STR: "a string",
    _INT: "an integer",
    _OBJ: "an object",
}


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return f"a {type(value).__name__}"


def _fits(value: object, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def _fail(kind: str, field: str, message: str) -> InvalidClientEventError:
    return InvalidClientEventError(f"invalid {kind} event: {field}: {message}", field=field)


def validate_client_event(event: Mapping[str, Any]) -> str:
    """Check a client event given as a mapping; return its type or raise
    :class:`~rxrealtime.errors.InvalidClientEventError` (see the module docstring)."""
    if not isinstance(event, Mapping):
        raise InvalidClientEventError(
            f"a client event must be an ev.ClientEvent or a mapping, got {_kind(event)}", "type"
        )
    kind = event.get("type")
    if "type" not in event:
        raise InvalidClientEventError("a client event needs a 'type' field", "type")
    if not isinstance(kind, str):
        raise InvalidClientEventError(f"'type' must be a string, got {_kind(kind)}", "type")
    fields = _FIELDS.get(kind)
    if fields is None:
        known = ", ".join(sorted(ev.CLIENT_EVENT_TYPES))
        raise InvalidClientEventError(
            f"unknown client event type {kind!r}; expected one of: {known}", "type"
        )
    event_id = event.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        raise _fail(kind, "event_id", f"must be a string, got {_kind(event_id)}")
    for name, (types, required) in fields.items():
        value = event.get(name)
        if value is None:
            if required:
                raise _fail(kind, name, "is required")
            continue
        if not _fits(value, types):
            want = _WANTED[types]
            raise _fail(kind, name, f"must be {want}, got {_kind(value)}")
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
    if role not in _ROLES:
        raise _fail(kind, "item.role", f"must be one of {', '.join(_ROLES)}, got {role!r}")
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
