"""The one converter and its building blocks: the decoding rule, :class:`InvalidField`, the
conversions of sequences, mappings and unions, and the per-field checks.

A single :class:`cattrs.Converter` holds a structure and an unstructure hook for every class of
the events package; the hooks are generated once, at import, from the classes' field types
(:mod:`rxrealtime.events._structure` for structuring, :mod:`rxrealtime.events._unstructure`
for unstructuring).

One rule for every class, at every depth (the policy is explained in
:mod:`rxrealtime.events.codec`):

* a **required** field (its type does not admit ``None``, it has no default, or the class lists
  it in ``_required_on_wire``) that is missing, ``null`` or of the wrong type makes the whole
  object fail: its structure function raises :class:`InvalidField` naming the path from the
  event down (``item.content[0]``), and so does every owner up to the event;
* an **optional** field that is absent or ``null`` is ``None``; one whose value does not fit
  (anything that would make a required field fail, nested failures included) is ``None`` too,
  and its value is kept, exactly as received, in the owner's ``extra`` under its own key.

Unknown keys go to ``extra``. A field absent from the wire is ``None`` (never the class
default, so ``to_dict`` gives back what was received). Sequences become tuples.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, Union

import attrs
import cattrs

__all__ = ["InvalidField", "converter", "families", "required_fields"]


MISSING: Final = object()
"""What a required field read from the wire holds when its key is absent."""

_JSON_NAMES: Final = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    dict: "an object",
    list: "an array",
    type(None): "null",
}


class InvalidField(Exception):
    """A required field is missing, ``null`` or of the wrong type.

    ``path`` names it from the outermost object that was being decoded (names and list
    indexes; owners prepend their own field name as the exception passes through them);
    ``str()`` is the readable sentence, e.g. ``field 'item.content[0]' must be an object, got a
    string '[Object]'`` or ``required field 'response' is missing``.
    """

    def __init__(self, expected: str, value: Any) -> None:
        super().__init__(expected, value)
        self.expected = expected
        self.value = value
        self.path: list[str | int] = []

    def within(self, key: str | int) -> InvalidField:
        """Prepend ``key`` (the owner's field name or list index) to the path; returns self."""
        self.path.insert(0, key)
        return self

    @property
    def dotted(self) -> str:
        """The path as text: ``item.content[0].text``."""
        text = ""
        for key in self.path:
            text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
        return text

    def __str__(self) -> str:
        if self.value is MISSING or self.value is None:
            got = "missing" if self.value is MISSING else "null"
            return f"required field {self.dotted!r} is {got}"
        return f"field {self.dotted!r} must be {self.expected}, got {_describe(self.value)}"


def _describe(value: Any) -> str:
    kind = _JSON_NAMES.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


converter: Final = cattrs.Converter()
"""The package's one converter; its hooks are registered once, when ``codec`` is imported."""

Conv = Callable[[Any], Any]
_EAGER: Final = frozenset({"type", "event_id"})
"""Fields read in the ``try`` block of a structure function besides the required ones."""
_SCALARS: Final = (str, int, float, bool)


# -- scalar checks ---------------------------------------------------------------------------


def _fits(value: Any, kinds: tuple[type, ...]) -> bool:
    if value.__class__ is bool:
        return bool in kinds
    return isinstance(value, kinds)


def _scalar_slow(kinds: tuple[type, ...]) -> Conv:
    """The slow path of a scalar: int-for-float, or :class:`InvalidField` (missing, ``null`` and
    mismatches alike; the caller decides whether that costs the owner or only the field)."""
    wants_float = float in kinds and int not in kinds
    expected = " or ".join(_JSON_NAMES[k] for k in kinds)

    def slow(value: Any) -> Any:
        if value is not None and _fits(value, kinds):
            return value
        if wants_float and value.__class__ is int:
            return float(value)
        raise InvalidField(expected, value)

    return slow


# -- nested conversions ----------------------------------------------------------------------

_families: dict[type, tuple[str, Mapping[str, type]]] = {}


def families() -> Mapping[type, tuple[str, Mapping[str, type]]]:
    """Each family base registered with :func:`make_dispatcher` -> (its key, key value -> class)."""
    return types.MappingProxyType(_families)


def _index_failure(element: Conv, value: list[Any]) -> InvalidField:
    """The failure of the first element of ``value`` that does not convert, with its index."""
    for i, item in enumerate(value):
        try:
            element(item)
        except InvalidField as exc:
            return exc.within(i)
    raise AssertionError("no element failed")  # pragma: no cover - called after a failure


def _sequence(element: Conv) -> Conv:
    def convert(value: Any) -> Any:
        if value.__class__ is not list:
            raise InvalidField("an array", value)
        try:
            return tuple(map(element, value))
        except InvalidField:
            raise _index_failure(element, value) from None

    return convert


def _scalar_sequence(kind: type) -> Conv:
    """A list of one scalar type: taken as it is when every element is exactly ``kind``."""
    general = _sequence(_scalar_slow((kind,)))

    def convert(value: Any) -> Any:
        if value.__class__ is not list:
            raise InvalidField("an array", value)
        for item in value:
            if item.__class__ is not kind:
                return general(value)
        return tuple(value)

    return convert


def _mapping(value: Any) -> Any:
    if value.__class__ is not dict:
        raise InvalidField("an object", value)
    return value


def _any(value: Any) -> Any:
    return value


def _present(value: Any) -> Any:
    """A required field of any JSON value: present and not ``null``."""
    if value is MISSING or value is None:
        raise InvalidField("a JSON value", value)
    return value


def _union(kinds: tuple[type, ...], nested: Conv) -> Conv:
    """``str | SomeModel`` and the like: scalars as they are, objects by the nested converter."""
    expected = " or ".join([_JSON_NAMES[k] for k in kinds] + ["an object"])

    def convert(value: Any) -> Any:
        if _fits(value, kinds):
            return value
        if value.__class__ is dict:
            return nested(value)
        raise InvalidField(expected, value)

    return convert


def _split(tp: Any) -> tuple[bool, list[Any]]:
    """(nullable, the other members) of a possibly-optional type."""
    if tp is Any:
        return True, [Any]
    if typing.get_origin(tp) in (Union, types.UnionType):
        members = list(typing.get_args(tp))
        nullable = type(None) in members
        return nullable, [m for m in members if m is not type(None)]
    return False, [tp]


# -- generated structure functions -----------------------------------------------------------


def required_fields(cls: type) -> frozenset[str]:
    """The fields of ``cls`` a decoded frame must carry (see the module docstring)."""
    hints = typing.get_type_hints(cls)
    on_wire: frozenset[str] = getattr(cls, "_required_on_wire", frozenset())
    return frozenset(
        f.name
        for f in attrs.fields(cls)
        if f.name != "extra"
        and (f.default is attrs.NOTHING or not _split(hints[f.name])[0] or f.name in on_wire)
    )
