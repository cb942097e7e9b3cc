"""The one converter: structuring (wire dict -> class) and unstructuring (class -> wire dict).

A single :class:`cattrs.Converter` holds a structure and an unstructure hook for every class of
the events package. The hooks are generated once, at import, from the classes' field types (a
small ``exec``-compiled function per class, the technique attrs and cattrs use themselves), so
decoding a frame is one dict lookup on ``type`` plus one call with no per-field dispatch.

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

import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Union

import attrs
import cattrs

from rxrealtime.events._base import EMPTY

__all__ = [
    "InvalidField",
    "converter",
    "exact_shape",
    "families",
    "make_dispatcher",
    "register",
    "required_fields",
    "structurer",
]


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

_structurers: dict[type, Conv] = {}
"""Structure function for each class (or family base), built on first need."""

_families: dict[type, tuple[str, Mapping[str, type]]] = {}


def families() -> Mapping[type, tuple[str, Mapping[str, type]]]:
    """Each family base registered with :func:`make_dispatcher` -> (its key, key value -> class)."""
    return types.MappingProxyType(_families)


def structurer(cls: type) -> Conv:
    """The structure function of ``cls``: a dict -> an instance; raises :class:`InvalidField`
    for anything else, or when a required field (at any depth) does not hold."""
    found = _structurers.get(cls)
    if found is None:
        found = _structurers[cls] = _build_structure(cls)
    return found


def make_dispatcher(
    base: type,
    pick: Callable[[Mapping[str, Any]], type],
    by_type: Mapping[str, type],
    *,
    key: str = "type",
) -> None:
    """Decode values of the field type ``base`` with the class ``pick(value)`` chooses.

    ``by_type`` is the shortcut for the common case: the class for each string value of the
    field ``key`` it lists, taken without calling ``pick``; it must agree with what ``pick``
    returns for such values (a class listed may be the base of a family registered here too,
    whose dispatcher then decides). Structure functions are looked up when first needed (after
    every family is registered), never per value.
    """
    _families[base] = (key, types.MappingProxyType(dict(by_type)))
    chosen: dict[type, Conv] = {base: _build_structure(base)}
    fast: dict[str, Conv] = {}

    def slow(value: Any) -> Any:
        if not fast:
            fast.update({kind: structurer(cls) for kind, cls in by_type.items()})
        cls = pick(value)
        structure = chosen.get(cls)
        if structure is None:
            structure = chosen[cls] = structurer(cls)
        return structure(value)

    def dispatch(value: Any) -> Any:
        if value.__class__ is not dict:
            raise InvalidField("an object", value)
        kind = value.get(key)
        if kind.__class__ is str:
            structure = fast.get(kind)
            if structure is not None:
                return structure(value)
        return slow(value)

    _structurers[base] = dispatch


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


def _nested_conv(tp: Any, required: bool) -> Conv:
    """The converter for one non-scalar field type (it raises :class:`InvalidField`)."""
    _, members = _split(tp)
    if members == [Any]:
        return _present if required else _any
    if len(members) > 1:
        kinds = tuple(m for m in members if m in _SCALARS)
        nested = [m for m in members if m not in _SCALARS]
        if len(nested) != 1:
            raise TypeError(f"unsupported union {tp!r}")  # a bug in a class definition
        return _union(kinds, _nested_conv(nested[0], True))
    (tp,) = members
    origin = typing.get_origin(tp)
    if origin in (Sequence, tuple, list):
        (element,) = typing.get_args(tp)[:1]
        if element in _SCALARS:
            return _scalar_sequence(element)
        return _sequence(_nested_conv(element, True))
    if origin in (Mapping, dict):
        return _mapping
    if attrs.has(tp):
        return structurer(tp)
    raise TypeError(f"no converter for field type {tp!r}")  # a bug in a class definition


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


def _build_structure(cls: type, *, event: bool = False) -> Conv:
    """Compile ``structure(d) -> cls`` for one class (``event``: for a top-level server event,
    called only with a dict whose ``type`` is a string that selected ``cls``, neither of which
    is checked again).

    The keys an object nearly always has (``type``, ``event_id`` and its required fields) are
    read in one ``try`` block of plain subscripts, the others with ``d.get``. A value of exactly
    the declared scalar type, or an absent optional one, costs one or two identity tests; only
    anything else reaches the field's slow path. A required field that does not hold raises
    :class:`InvalidField` with the field's name prepended to the path; an optional one that
    does not fit is ``None`` and goes to ``extra`` with the keys the class does not declare.
    The instance is filled as a mutable twin (see :func:`_mutable_twin`; the classes have no
    validators or converters, so this is what their ``__init__`` does, at a fraction of the
    cost). Everything the code refers to is a closure variable (see :func:`_compile`), so it
    runs on local and cell variables only.
    """
    if "extra" not in attrs.fields_dict(cls):
        raise TypeError(f"{cls.__name__} has no 'extra' field")  # a bug in a class definition
    fields = [f for f in attrs.fields(cls) if f.name != "extra"]
    hints = typing.get_type_hints(cls)
    known = frozenset(f.name for f in fields)
    required = required_fields(cls)
    ns: dict[str, Any] = {
        "_cls": cls,
        "_twin": _mutable_twin(cls),
        "_M": MISSING,
        "_IF": InvalidField,
        "_EMPTY": EMPTY,
        "_KNOWN": known,
        "_all_known": known.issuperset,
        "_extra": _extra,
    }
    eager = [f.name for f in fields if f.name in required or f.name in _EAGER]
    lazy = [f.name for f in fields if f.name not in eager]
    var = {f.name: f"v{i}" for i, f in enumerate(fields)}

    body = ["    " + line for line in exact_shape(cls, ns, prefix="_f", event=event)]
    if not event:
        body += ["    if d.__class__ is not dict:", "        raise _IF('an object', d)"]
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
        members = _split(hints[name])[1]
        scalar = all(m in _SCALARS for m in members)
        if event and name == "type":  # the string that chose this class
            continue
        if scalar:
            ns[f"_conv{i}"] = _scalar_slow(tuple(members))
            for j, member in enumerate(members):
                ns[f"_t{i}_{j}"] = member
            test = " and ".join(f"{v}.__class__ is not _t{i}_{j}" for j in range(len(members)))
        else:
            ns[f"_conv{i}"] = _nested_conv(hints[name], name in required)
            test = ""
        if name in required:
            indent = "    "
            if test:  # a value of exactly the declared type skips the call
                body.append(f"    if {test}:")
                indent = "        "
            body.append(f"{indent}try:")
            body.append(f"{indent}    {v} = _conv{i}({v})")
            body.append(f"{indent}except _IF as exc:")
            body.append(f"{indent}    raise exc.within({name!r})")
            continue
        if name in eager:  # an optional field read eagerly: absent is None
            body.append(f"    if {v} is _M:")
            body.append(f"        {v} = None")
        body.append(f"    if {v} is not None{' and ' + test if test else ''}:")
        body.append("        try:")
        body.append(f"            {v} = _conv{i}({v})")
        body.append("        except _IF:")
        body.append(f"            bad = {{**(bad or {{}}), {name!r}: {v}}}")
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
    return _compile(f"<rxrealtime structure of {cls.__qualname__}>", "d", body, ns)


_SHARED: Final[dict[str, Any]] = {
    "_str": str,
    "_int": int,
    "_float": float,
    "_bool": bool,
    "_dict": dict,
    "_IF": InvalidField,
    "_EMPTY": EMPTY,
}
"""Names the code of :func:`exact_shape` refers to besides its own (prefixed) ones."""
_TYPE_NAMES: Final = {str: "_str", int: "_int", float: "_float", bool: "_bool"}


def exact_shape(
    cls: type, ns: dict[str, Any], *, prefix: str, event: bool = False, type_var: str = ""
) -> list[str]:
    """The fast path of a structure function: source lines (unindented) that return the
    instance when the dict ``d`` has no key ``cls`` does not declare and every value is exactly
    of its declared type, and fall through otherwise, having changed nothing but locals.

    That is the shape nearly every frame has, and one where the decoding policy has nothing to
    decide. ``len(d)`` equal to the number of fields and every field read by subscript means
    every key is there and none is unknown; otherwise every key being known (one C-level scan)
    and the required ones read by subscript means the same of the keys that are there, and an
    absent optional field is ``None``, as a ``null`` one is. A required value of one of its
    declared scalar types, an optional one that is that or ``null``, and nested values their
    own structure functions accept, are exactly what the general path keeps as they are, with
    an empty ``extra``. Anything else (an int for a float, a missing required, unknown, or
    ill-typed key, a nested failure) falls through to the general path, which decides it as
    always, reading ``d`` afresh. Names the lines use are added to ``ns`` (:data:`_SHARED` and
    ``prefix``-ed ones); locals are ``fast``, ``get``, ``v0``, ``v1``, ... and ``o``.
    ``event``: ``d`` is known to be a dict whose ``type`` chose ``cls``, so neither is checked;
    ``type_var`` names a local already holding ``d['type']``.
    """
    fields = [f for f in attrs.fields(cls) if f.name != "extra"]
    hints = typing.get_type_hints(cls)
    required = required_fields(cls)
    ns.update(_SHARED)
    ns[f"{prefix}_twin"], ns[f"{prefix}_cls"] = _mutable_twin(cls), cls
    ns[f"{prefix}_all_known"] = frozenset(f.name for f in fields).issuperset
    var = {f.name: f"v{i}" for i, f in enumerate(fields)}
    if type_var:
        var["type"] = type_var
    must, may, checks, nested = [], [], [], []
    for i, field in enumerate(fields):
        name, v = field.name, var[field.name]
        if name == "type" and type_var:
            continue
        (must if name in required or (name == "type" and event) else may).append(name)
        if name == "type" and event:
            continue
        members = _split(hints[name])[1]
        origin = typing.get_origin(members[0])
        if all(m in _SCALARS for m in members):
            test = " or ".join(f"{v}.__class__ is {_TYPE_NAMES[m]}" for m in members)
        elif members == [Any]:
            test = "" if name not in required else f"{v} is not None"
        elif len(members) == 1 and origin in (Mapping, dict):
            test = f"{v}.__class__ is _dict"
        else:
            ns[f"{prefix}_c{i}"] = _nested_conv(hints[name], name in required)
            convert = f"{v} = {prefix}_c{i}({v})"
            nested.append(convert if name in required else f"if {v} is not None: {convert}")
            continue
        if test and name not in required and members != [Any]:
            test = f"{v} is None or {test}"
        if test:
            checks.append(f"({test})" if " or " in test else test)

    def read(names: list[str], how: str) -> list[str]:
        return [f"{var[n]} = {how.format(repr(n))}" for n in names]

    def attempt(lines: list[str]) -> list[str]:
        if not lines:
            return ["fast = True"]
        return ["try:", *[f"    {line}" for line in lines], "    fast = True", "except KeyError:"]

    shape = [f"if len(d) == {len(fields)}:"]
    shape += [f"    {line}" for line in attempt(read(must + may, "d[{}]"))]
    shape += ["        fast = False"] if must or may else []
    if may:
        shape.append(f"elif {prefix}_all_known(d):")
        shape += [f"    {line}" for line in attempt(read(must, "d[{}]"))]
        shape += ["        fast = False"] if must else []
        shape += ["    get = d.get"] + [f"    {line}" for line in read(may, "get({})")]
    shape += ["else:", "    fast = False"]
    if event:
        lines = shape
    else:
        lines = ["if d.__class__ is _dict:", *[f"    {line}" for line in shape]]
        lines += ["else:", "    fast = False"]
    lines.append(f"if fast{''.join(' and ' + check for check in checks)}:")
    indent = "    "
    build = [f"o = {prefix}_twin()"] + [f"o.{name} = {v}" for name, v in var.items()]
    build += ["o.extra = _EMPTY", f"o.__class__ = {prefix}_cls", "return o"]
    if nested:
        lines += [f"{indent}try:"] + [f"{indent}    {line}" for line in nested]
        lines += [f"{indent}except _IF:", f"{indent}    pass", f"{indent}else:"]
        indent += "    "
    lines += [f"{indent}{line}" for line in build]
    return lines


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


# -- registration ----------------------------------------------------------------------------


def register(cls: type, *, event: bool = False) -> Conv:
    """Register the structure function of ``cls`` on the converter and return it (``event``: the
    one for a top-level server event, see :func:`_build_structure`)."""
    structure = _build_structure(cls, event=True) if event else structurer(cls)
    converter.register_structure_hook(cls, lambda value, _: structure(value))
    return structure
