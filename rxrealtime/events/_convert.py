"""The one converter: structuring (wire dict -> class) and unstructuring (class -> wire dict).

A single :class:`cattrs.Converter` holds a structure and an unstructure hook for every class of
the events package. The hooks are generated once, at import, from the classes' field types (a
small ``exec``-compiled function per class, the technique attrs and cattrs use themselves), so
decoding a frame is one dict lookup on ``type`` plus one call with no per-field dispatch.

Two structuring modes (the policy is explained in :mod:`rxrealtime.events.codec`):

* **strict** (top-level events): a declared scalar field that is missing while required, or
  present with the wrong JSON type, raises :class:`InvalidField` naming the field.
* **lenient** (everything nested, and the nested fields of events): a value that does not fit
  becomes ``None`` and is kept, as received, in the owner's ``extra`` under its own key.

Both modes keep unknown keys in ``extra``. A field absent from the wire is ``None`` (never the
class default, so ``to_dict`` gives back what was received). Sequences become tuples.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Union

import attrs
import cattrs

from rxrealtime.events._base import EMPTY, Model

__all__ = [
    "BAD",
    "InvalidField",
    "converter",
    "make_dispatcher",
    "register",
    "structurer",
    "unstructure_any",
]


class InvalidField(Exception):
    """A top-level scalar field of a known event is missing or has the wrong JSON type."""


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


MISSING: Final = _Sentinel("MISSING")
BAD: Final = _Sentinel("BAD")
"""Returned by a lenient converter for a value that does not fit."""

converter: Final = cattrs.Converter()
"""The package's one converter; its hooks are registered once, when ``codec`` is imported."""

Conv = Callable[[Any], Any]
_EAGER: Final = frozenset({"type", "event_id"})
"""Fields read in the ``try`` block of an event's structure function besides required ones."""
_SCALARS: Final = (str, int, float, bool)
_JSON_NAMES: Final = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    dict: "an object",
    list: "an array",
    type(None): "null",
}


def _describe(value: Any) -> str:
    kind = _JSON_NAMES.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}" if value is not None else kind


def _expected(kinds: tuple[type, ...]) -> str:
    return " or ".join(_JSON_NAMES[k] for k in kinds)


# -- scalar checks ---------------------------------------------------------------------------


def _fits(value: Any, kinds: tuple[type, ...]) -> bool:
    if value.__class__ is bool:
        return bool in kinds
    return isinstance(value, kinds)


def _scalar_slow(name: str, kinds: tuple[type, ...], required: bool, strict: bool) -> Conv:
    """The slow path of a scalar field: absence, null, int-for-float, and mismatches."""
    wants_float = float in kinds and int not in kinds

    def slow(value: Any) -> Any:
        if value is MISSING or value is None:
            if required:
                got = "missing" if value is MISSING else "null"
                raise InvalidField(f"required field {name!r} is {got}")
            return None
        if _fits(value, kinds):
            return value
        if wants_float and value.__class__ is int:
            return float(value)
        if strict:
            raise InvalidField(
                f"field {name!r} must be {_expected(kinds)}, got {_describe(value)}"
            )
        return BAD

    return slow


# -- nested conversions ----------------------------------------------------------------------

_structurers: dict[type, Conv] = {}
"""Lenient structure function for each class (or union base), built on first need."""


def structurer(cls: type) -> Conv:
    """The lenient converter for ``cls``: a dict -> an instance, anything else -> :data:`BAD`."""
    found = _structurers.get(cls)
    if found is None:
        found = _structurers[cls] = _build_structure(cls, strict=False)
    return found


def make_dispatcher(
    base: type,
    pick: Callable[[Mapping[str, Any]], type],
    by_type: Mapping[str, type] | None = None,
    *,
    key: str = "type",
) -> None:
    """Decode values of the field type ``base`` with the class ``pick(value)`` chooses.

    ``by_type`` (optional) is a shortcut for the common case: the class for each string value
    of the field ``key`` it lists, taken without calling ``pick``; it must agree with what
    ``pick`` returns for such values (a class listed may be the base of a family registered
    here too, whose dispatcher then decides). Structure functions are looked up when first needed
    (after every family is registered), never per value.
    """

    chosen: dict[type, Conv] = {base: _build_structure(base, strict=False)}
    fast: dict[str, Conv] = {}

    def slow(value: Any) -> Any:
        if not fast and by_type:
            fast.update({kind: structurer(cls) for kind, cls in by_type.items()})
        cls = pick(value)
        structure = chosen.get(cls)
        if structure is None:
            structure = chosen[cls] = structurer(cls)
        return structure(value)

    def dispatch(value: Any) -> Any:
        if value.__class__ is not dict:
            return BAD
        kind = value.get(key)
        if kind.__class__ is str:
            structure = fast.get(kind)
            if structure is not None:
                return structure(value)
        return slow(value)

    _structurers[base] = dispatch


def _sequence(element: Conv) -> Conv:
    def convert(value: Any) -> Any:
        if value.__class__ is not list:
            return BAD
        if not value:
            return ()
        out = tuple(map(element, value))
        for item in out:
            if item is BAD:
                return BAD
        return out

    return convert


def _scalar_sequence(kind: type) -> Conv:
    """A list of one scalar type: taken as it is when every element is exactly ``kind``."""
    general = _sequence(_scalar_slow("item", (kind,), False, False))

    def convert(value: Any) -> Any:
        if value.__class__ is not list:
            return BAD
        for item in value:
            if item.__class__ is not kind:
                return general(value)
        return tuple(value)

    return convert


def _mapping(value: Any) -> Any:
    return value if value.__class__ is dict else BAD


def _any(value: Any) -> Any:
    return value


def _union(kinds: tuple[type, ...], nested: list[Conv]) -> Conv:
    """``str | SomeModel`` and the like: scalars as they are, objects by the nested converter."""

    def convert(value: Any) -> Any:
        if kinds and _fits(value, kinds):
            return value
        for conv in nested:
            result = conv(value)
            if result is not BAD:
                return result
        return BAD

    return convert


def _split(tp: Any) -> tuple[bool, list[Any]]:
    """(nullable, the other members) of a possibly-optional type."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        members = list(typing.get_args(tp))
        nullable = type(None) in members
        return nullable, [m for m in members if m is not type(None)]
    return False, [tp]


def _nested_conv(tp: Any) -> Conv:
    """The lenient converter for one non-scalar field type."""
    if tp is Any:
        return _any
    _, members = _split(tp)
    if len(members) > 1:
        kinds = tuple(m for m in members if m in _SCALARS)
        nested = [_nested_conv(m) for m in members if m not in _SCALARS]
        return _union(kinds, nested)
    (tp,) = members
    origin = typing.get_origin(tp)
    if origin in (Sequence, tuple, list):
        (element,) = typing.get_args(tp)[:1]
        if element in _SCALARS:
            return _scalar_sequence(element)
        return _sequence(_nested_conv(element))
    if origin in (Mapping, dict):
        return _mapping
    if attrs.has(tp):
        return structurer(tp)
    if tp in _SCALARS:
        return _scalar_slow("item", (tp,), False, False)
    raise TypeError(f"no converter for field type {tp!r}")  # a bug in a class definition


# -- generated structure functions -----------------------------------------------------------


def _build_structure(cls: type, *, strict: bool) -> Conv:
    """Compile ``structure(d) -> cls`` for one class (lenient ones return :data:`BAD` for a
    non-dict).

    The keys an event nearly always has (``type``, ``event_id`` and its required fields) are
    read in one ``try`` block of plain subscripts, the others with ``d.get``. A value of exactly
    the declared scalar type, or an absent optional one, costs one or two identity tests; only
    anything else reaches the field's slow path. Keys the class does not declare, and (lenient
    fields) values that do not fit, go to ``extra``. The instance is filled as a mutable twin
    (see :func:`_mutable_twin`; the classes have no validators or converters, so this is what
    their ``__init__`` does, at a fraction of the cost). Everything the code refers to is a
    closure variable (see :func:`_compile`), so it runs on local and cell variables only.
    """
    if "extra" not in attrs.fields_dict(cls):
        raise TypeError(f"{cls.__name__} has no 'extra' field")  # a bug in a class definition
    fields = [f for f in attrs.fields(cls) if f.name != "extra"]
    hints = typing.get_type_hints(cls)
    known = frozenset(f.name for f in fields)
    ns: dict[str, Any] = {
        "_cls": cls,
        "_twin": _mutable_twin(cls),
        "_M": MISSING,
        "_BAD": BAD,
        "_EMPTY": EMPTY,
        "_KNOWN": known,
        "_all_known": known.issuperset,
        "_extra": _extra,
    }
    split = {f.name: _split(hints[f.name]) for f in fields}
    required = {
        f.name for f in fields if strict and not split[f.name][0] and f.default is attrs.NOTHING
    }
    eager = [f.name for f in fields if strict and (f.name in required or f.name in _EAGER)]
    lazy = [f.name for f in fields if f.name not in eager]
    var = {f.name: f"v{i}" for i, f in enumerate(fields)}

    body = [] if strict else ["    if d.__class__ is not dict:", "        return _BAD"]
    body.append("    bad = None")
    if eager:
        body.append("    try:")
        body += [f"        {var[n]} = d[{n!r}]" for n in eager]
        body.append("        whole = True")
        body.append("    except KeyError:")
        body += [f"        {var[n]} = d.get({n!r}, _M)" for n in eager]
        body.append("        whole = False")
    if lazy:
        body.append("    get = d.get")
        body += [f"    {var[n]} = get({n!r})" for n in lazy]
    for i, field in enumerate(fields):
        name, v = field.name, var[field.name]
        members = split[name][1]
        if all(m in _SCALARS for m in members):
            ns[f"_slow{i}"] = _scalar_slow(name, tuple(members), name in required, strict)
            for j, member in enumerate(members):
                ns[f"_t{i}_{j}"] = member
            test = " and ".join(f"{v}.__class__ is not _t{i}_{j}" for j in range(len(members)))
            if name in lazy:  # absent or null: None, no slow path
                test = f"{v} is not None and {test}"
            body.append(f"    if {test}:")
            body.append(f"        {v} = _slow{i}({v})")
            check_bad = not strict
        else:
            ns[f"_conv{i}"] = _nested_conv(hints[name])
            if name in eager:
                body.append(f"    if {v} is _M:")
                body.append(f"        {v} = None")
            body.append(f"    if {v} is not None:")
            body.append(f"        {v} = _conv{i}({v})")
            check_bad = True
        if check_bad:  # inside the branch above: only after a slow path or a conversion
            body.append(f"        if {v} is _BAD:")
            body.append(f"            bad = {{**(bad or {{}}), {name!r}: d[{name!r}]}}")
            body.append(f"            {v} = None")
    body.append("    o = _twin()")
    body += [f"    o.{name} = {v}" for name, v in var.items()]
    # no unknown keys: every key is known (cheapest when all fields were read eagerly)
    no_unknown = "_all_known(d)"
    if eager and not lazy:
        no_unknown = f"(whole and len(d) == {len(eager)}) or {no_unknown}"
    body.append(f"    if bad is None and ({no_unknown}):")
    body.append("        o.extra = _EMPTY")
    body.append("    else:")
    body.append("        o.extra = _extra(d, _KNOWN, bad)")
    body.append("    o.__class__ = _cls")
    body.append("    return o")
    mode = "strict" if strict else "lenient"
    return _compile(f"<rxrealtime {mode} structure of {cls.__qualname__}>", "d", body, ns)


def _compile(filename: str, arg: str, body: list[str], ns: dict[str, Any]) -> Conv:
    """Compile ``def fn(arg): body`` as a closure over the values of ``ns``.

    Closure cells are read as fast as local variables, and unlike default arguments they cost
    nothing per call (CPython fills keyword-only defaults one dict lookup at a time).
    """
    lines = [f"def make({', '.join(ns)}):", f"    def fn({arg}):"]
    lines += [f"    {line}" for line in body]
    lines.append("    return fn")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), filename, "exec"), namespace)  # from our own classes
    fn: Conv = namespace["make"](**ns)
    return fn


@functools.cache
def _mutable_twin(cls: type) -> type:
    """A private subclass of ``cls`` whose instances accept plain attribute stores.

    The frozen classes' ``__setattr__``/``__delattr__`` raise, so their ``__init__`` stores
    each field through a generic call. The twin adds no slots and takes both methods back from
    ``object``; CPython then stores its slots directly (the specialised ``STORE_ATTR`` of
    3.11+). A structure function fills a twin and sets its ``__class__`` to ``cls``, which the
    identical memory layout allows: what it returns is an ordinary, frozen ``cls`` instance
    (its ``type()``, equality, hash, ``repr``, copying and immutability are those of ``cls``),
    built at a fraction of the cost. No twin instance ever leaves this module.
    """
    namespace = {
        "__slots__": (),
        "__init__": object.__init__,  # so ``twin()`` is the cheapest way to get an instance
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,
        "__module__": __name__,
        "__qualname__": f"_Mutable{cls.__qualname__}",
    }
    return type(f"_Mutable{cls.__name__}", (cls,), namespace)


def _extra(d: dict[str, Any], known: frozenset[str], bad: dict[str, Any] | None) -> dict[str, Any]:
    extra = {k: v for k, v in d.items() if k not in known}
    if bad:
        extra.update(bad)
    return extra


# -- generated unstructure functions ---------------------------------------------------------


def unstructure_any(value: Any) -> Any:
    """Any value -> plain JSON data (models become wire dicts, sequences lists)."""
    if isinstance(value, Model):
        return converter.unstructure(value)
    if isinstance(value, list | tuple):
        return [unstructure_any(v) for v in value]
    if isinstance(value, Mapping):
        return {k: unstructure_any(v) for k, v in value.items()}
    return value


def _build_unstructure(cls: type) -> Conv:
    """Compile ``unstructure(obj) -> dict``: ``type`` first, ``None`` fields left out,
    ``extra`` merged back last."""
    fields = attrs.fields(cls)
    hints = typing.get_type_hints(cls)
    ns: dict[str, Any] = {"_un": unstructure_any}
    order = sorted(fields, key=lambda f: f.name != "type")
    lines = ["    d = {}"]
    for field in order:
        name = field.name
        if name == "extra":
            continue
        _, members = _split(hints[name])
        plain = all(m in _SCALARS for m in members)
        lines.append(f"    v = o.{name}")
        lines.append("    if v is not None:")
        lines.append(f"        d[{name!r}] = {'v' if plain else '_un(v)'}")
    if "extra" in attrs.fields_dict(cls):
        lines.append("    if o.extra:")
        lines.append("        for k, v in o.extra.items():")
        lines.append("            d[k] = _un(v)")
    lines.append("    return d")
    return _compile(f"<rxrealtime unstructure of {cls.__qualname__}>", "o", lines, ns)


# -- registration ----------------------------------------------------------------------------


def register(cls: type, *, strict: bool) -> Conv:
    """Register ``cls`` on the converter; return its (strict or lenient) structure function."""
    structure = _build_structure(cls, strict=strict) if strict else structurer(cls)
    converter.register_structure_hook(cls, lambda value, _: structure(value))
    converter.register_unstructure_hook(cls, _build_unstructure(cls))
    return structure
