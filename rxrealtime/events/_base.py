"""Base classes shared by every event and nested resource.

Every class in :mod:`rxrealtime.events` is a frozen, slotted attrs class built by :func:`model`
(keyword-only ``__init__``, equality by value, immutable). Field names are the wire names. Each
class has an ``extra`` field holding the keys the wire object carried that the class does not
declare, so nothing the server sends is lost and :func:`rxrealtime.events.to_dict` can put it
back. ``repr`` leaves out fields that are ``None`` and an empty ``extra``, so even a full
session object prints readably.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar, dataclass_transform

import attrs

__all__ = [
    "EMPTY",
    "ClientEvent",
    "InvalidEvent",
    "Model",
    "ServerEvent",
    "UnknownEvent",
    "model",
    "wire_type",
]

EMPTY: Mapping[str, Any] = MappingProxyType({})
"""The shared, immutable empty mapping every ``extra`` field defaults to."""

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(attrs.field,))
def model(cls: type[_T]) -> type[_T]:
    """Make ``cls`` a frozen, slotted, keyword-only attrs class (the one style used here)."""
    return attrs.frozen(cls, kw_only=True, repr=False)


class Model:
    """Root of every event and resource class: the compact ``repr`` and field-order cache."""

    __slots__ = ()
    _repr_cache: ClassVar[dict[type, tuple[str, ...]]] = {}

    @classmethod
    def _repr_names(cls) -> tuple[str, ...]:
        names = Model._repr_cache.get(cls)
        if names is None:
            fields = [f.name for f in attrs.fields(cls)]  # type: ignore[arg-type]
            # ``type`` first: it is what a reader looks for.
            names = tuple(["type"] * ("type" in fields) + [n for n in fields if n != "type"])
            Model._repr_cache[cls] = names
        return names

    def __repr__(self) -> str:
        shown = []
        for name in type(self)._repr_names():
            value = getattr(self, name)
            if value is None or (name == "extra" and not value):
                continue
            shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


@model
class ServerEvent(Model):
    """Base of every event the server sends (and of :class:`UnknownEvent`/:class:`InvalidEvent`).

    ``type`` is the wire type string as received: a beta ``response.text.delta`` decodes to
    :class:`~rxrealtime.events.ResponseOutputTextDelta` whose ``type`` is
    ``"response.text.delta"``. ``event_id`` is the server's id for the event: a decoded event
    always has one, except ``input_audio_buffer.dtmf_event_received`` (the protocol gives it
    none); it is typed optional because events built in code (and synthetic ones such as
    :class:`~rxrealtime.reconnect.ResponseInterrupted`) have none.
    """

    _required_on_wire: ClassVar[frozenset[str]] = frozenset({"event_id"})
    """Fields typed optional that a decoded frame must carry all the same."""

    type: str | None
    event_id: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class ClientEvent(Model):
    """Base of every event the client sends; ``event_id`` is optional and omitted when ``None``."""

    type: str
    event_id: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class UnknownEvent(ServerEvent):
    """A JSON object whose ``type`` is a string this version does not know.

    ``raw`` is the whole object as received; nothing is interpreted.
    """

    type: str
    raw: Mapping[str, Any] = EMPTY


@model
class InvalidEvent(ServerEvent):
    """A frame that is not a usable event: not UTF-8, not JSON, not a JSON object, no string
    ``type``, or a known type with a required field (at any depth) missing, ``null`` or of the
    wrong type (see :mod:`rxrealtime.events.codec`).

    ``type`` is the ``type`` string when the frame had one, ``raw`` the input exactly as given to
    :func:`~rxrealtime.events.decode` (``str`` or ``bytes``; the object itself for
    :func:`~rxrealtime.events.from_dict`), ``error`` a readable sentence saying what is wrong.
    """

    type: str | None = None
    raw: Any = None
    error: str = ""


def wire_type(cls: type[ServerEvent] | type[ClientEvent]) -> str:
    """The wire ``type`` an event class stands for (the default of its ``type`` field)."""
    default = attrs.fields_dict(cls)["type"].default  # type: ignore[arg-type]
    if not isinstance(default, str):
        raise TypeError(f"{cls.__name__} is not a concrete event class")
    return default
