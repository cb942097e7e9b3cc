"""Flat frames decoded in one C call: :func:`flat_decoder`.

Most of a session's frames are *flat*: a JSON object whose every value is a string, an integer,
a boolean or ``null`` (the stream deltas, VAD and buffer events, the ``.done`` events of a
stream). :class:`rxrealtime._native.FlatDecoder` reads such a frame's text and builds its event
directly, with no dict, no key strings and no Python code in between. It is given here, for each
server event type, the class's fields in slot order and what JSON each admits, derived from the
class's own annotations by the same rules the general decoder applies
(:mod:`rxrealtime.events._convert`):

* a field admits a JSON string, integer or boolean when its type has ``str``, ``int`` or
  ``bool`` among its members (``Any`` admits all three); a number for a ``float`` field, an
  array or an object is never taken here;
* ``null`` is admitted exactly when the field is optional (not in ``required_fields``), and an
  absent optional field is ``None``;
* ``extra`` is the shared empty mapping: a key the class does not declare is never taken.

So what it returns is exactly the event the general decoder makes of the same frame (the tests
hold the two equal, on real captures and on frames mutated at random). For anything else -- an
escape in a string, a float, a nested value, an unknown or repeated key, ``type`` not the first
key, a non-ASCII ``str``, invalid UTF-8 -- it returns ``None`` and the general decoder decides,
as it always did. Pure and thread-safe.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs

from rxrealtime._construct import NATIVE
from rxrealtime.events._base import EMPTY, ServerEvent
from rxrealtime.events._convert import _split, required_fields

__all__ = ["flat_decoder", "flat_fields"]

# what a field admits (the bits rxrealtime/_flat.c reads)
ALLOW_STR: Final = 1
ALLOW_INT: Final = 2
ALLOW_BOOL: Final = 4
REQUIRED: Final = 8
KIND_TYPE: Final = 16
KIND_EXTRA: Final = 32

FlatDecode = Callable[[str | bytes | bytearray | memoryview], ServerEvent | None]


def flat_fields(cls: type) -> tuple[tuple[str, int], ...] | None:
    """``(name, kind)`` for every field of the event class ``cls``, or ``None`` when a frame of
    it can never be flat (a required field that admits no string, integer or boolean)."""
    hints = typing.get_type_hints(cls)
    required = required_fields(cls)
    fields: list[tuple[str, int]] = []
    for field in attrs.fields(cls):
        name = field.name
        if name in ("type", "extra"):
            fields.append((name, KIND_TYPE if name == "type" else KIND_EXTRA))
            continue
        members = _split(hints[name])[1]
        kind = ALLOW_STR | ALLOW_INT | ALLOW_BOOL if members == [Any] else 0
        kind |= ALLOW_STR if str in members else 0
        kind |= ALLOW_INT if int in members else 0
        kind |= ALLOW_BOOL if bool in members else 0
        if name in required:
            if not kind:
                return None
            kind |= REQUIRED
        fields.append((name, kind))
    return tuple(fields)


def flat_decoder(event_types: Iterable[tuple[str, type]]) -> FlatDecode | None:
    """The C decoder of flat frames of these ``(wire type, class)`` pairs (the most frequent
    first: it compares types in that order), or ``None`` where the extension is not in use
    (:data:`rxrealtime._construct.NATIVE`)."""
    if not NATIVE:
        return None
    from rxrealtime._native import FlatDecoder

    shapes: list[tuple[str, type, tuple[tuple[str, int], ...]]] = []
    for wire, cls in event_types:
        fields = flat_fields(cls)
        if fields is not None:
            shapes.append((wire, cls, fields))
    decoder: FlatDecode = FlatDecoder(tuple(shapes), EMPTY)
    return decoder
