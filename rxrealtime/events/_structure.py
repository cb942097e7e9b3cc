"""Generated structure functions and family dispatchers (wire dict -> class).

Each class gets one ``exec``-compiled function, generated once from its field types (the
technique attrs and cattrs use themselves), and each family of classes (items by ``type`` and
``role``, content parts, formats, ...) one dispatcher, so decoding a frame is a few calls with
no per-field dispatch. The rule they implement is in :mod:`rxrealtime.events._convert`.

Every function has two parts. The **fast path** (:func:`exact_shape`) takes the shape nearly
every frame has: no unknown key, every value exactly of its declared type; it reads, checks
and builds with the fewest operations CPython offers. Anything else falls through to the
**general path**, which decides each field by the policy (``InvalidField`` naming the path,
misfits of optional fields to ``extra``); on the shapes both take, both give the same object.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import attrs
import orjson

from rxrealtime._construct import slot_builder
from rxrealtime.events._base import EMPTY
from rxrealtime.events._convert import (
    _EAGER,
    _SCALARS,
    MISSING,
    Conv,
    InvalidField,
    _any,
    _families,
    _mapping,
    _present,
    _scalar_sequence,
    _scalar_slow,
    _sequence,
    _split,
    _union,
    converter,
    required_fields,
)

__all__ = ["compile_function", "exact_shape", "make_dispatcher", "register", "wire_key"]

_structurers: dict[type, Conv] = {}
"""Structure function for each class (or family base), built on first need."""
_picks: dict[type, Callable[[Mapping[str, Any]], type]] = {}


def structurer(cls: type) -> Conv:
    """The structure function of ``cls`` (its dispatcher for a family base): a dict -> an
    instance; raises :class:`InvalidField` for anything else, or when a required field (at
    any depth) does not hold."""
    found = _structurers.get(cls)
    if found is None:
        build = _build_dispatcher if cls in _picks else _build_structure
        found = _structurers[cls] = build(cls)
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
    whose dispatcher then decides). The dispatcher is compiled when first needed (after every
    family is registered): one string comparison per listed value, in the order given (most
    frequent first), each followed by that class's fast path, inline.
    """
    _families[base] = (key, types.MappingProxyType(dict(by_type)))
    _picks[base] = pick


def _slow_dispatch(base: type) -> Conv:
    """A family's general path: ``pick`` chooses (the base's own structure for the base)."""
    pick = _picks[base]
    chosen: dict[type, Conv] = {}

    def slow(value: Any) -> Any:
        if value.__class__ is not dict:
            raise InvalidField("an object", value)
        cls = pick(value)
        structure = chosen.get(cls)
        if structure is None:
            build = _build_structure(cls) if cls is base else structurer(cls)
            structure = chosen[cls] = build
        return structure(value)

    return slow


def _build_dispatcher(base: type) -> Conv:
    ns: dict[str, Any] = {"_slow": _slow_dispatch(base)}
    body = ["    if d.__class__ is _dict:"]
    body += [f"        {line}" for line in _dispatch_lines(base, ns, "_d", {})]
    body.append("    return _slow(d)")
    return compile_function(f"<rxrealtime dispatch of {base.__qualname__}>", "d", body, ns)


def _dispatch_lines(
    base: type, ns: dict[str, Any], prefix: str, known: dict[str, str]
) -> list[str]:
    """Compare ``d[key]`` with each listed value; on a match, that class's fast path, then its
    structure function (a nested family: the same, one level down, then its general path)."""
    key, by_type = _families[base]
    kind = f"kind{len(known)}"
    ns[f"{prefix}_k"] = wire_key(key)
    lines = [f"{kind} = d.get({prefix}_k)"]
    for i, (value, cls) in enumerate(by_type.items()):
        p, seen = f"{prefix}{i}", {**known, key: kind}
        lines.append(f"{'elif' if i else 'if'} {kind} == {value!r}:")
        if cls in _picks and cls is not base:
            inner = _dispatch_lines(cls, ns, p, seen)
            ns[f"{p}_s"] = _slow_dispatch(cls)
        else:
            fields = attrs.fields_dict(cls)
            fast = key in fields  # else the key is unknown to the class: never its fast path
            inner = exact_shape(cls, ns, prefix=p, is_dict=True, known=seen) if fast else []
            ns[f"{p}_s"] = _build_structure(cls) if cls is base else structurer(cls)
        lines += [f"    {line}" for line in inner] + [f"    return {p}_s(d)"]
    return lines


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


def _build_structure(cls: type, *, event: bool = False) -> Conv:
    """Compile ``structure(d) -> cls`` for one class (``event``: for a top-level server event,
    called only with a dict whose ``type`` is a string that selected ``cls``, neither of which
    is checked again): the fast path (:func:`exact_shape`), then the general path.

    The general path reads the keys an object nearly always has (``type``, ``event_id`` and
    its required fields) in one ``try`` block of plain subscripts, the others with ``d.get``;
    a value of exactly the declared scalar type, or an absent optional one, costs one or two
    identity tests, anything else the field's slow path. A required field that does not hold
    raises :class:`InvalidField` with the field's name prepended to the path; an optional one
    that does not fit is ``None`` and goes to ``extra`` with the keys the class does not
    declare. The instance is built as in the fast path (see :mod:`rxrealtime._construct`).
    """
    if "extra" not in attrs.fields_dict(cls):
        raise TypeError(f"{cls.__name__} has no 'extra' field")  # a bug in a class definition
    fields = [f for f in attrs.fields(cls) if f.name != "extra"]
    hints = typing.get_type_hints(cls)
    known = frozenset(f.name for f in fields)
    required = required_fields(cls)
    ns: dict[str, Any] = {
        "_new": slot_builder(cls),
        "_M": MISSING,
        "_KNOWN": known,
        "_all_known": known.issuperset,
        "_extra": _extra,
    }
    eager = [f.name for f in fields if f.name in required or f.name in _EAGER]
    lazy = [f.name for f in fields if f.name not in eager]
    var = {f.name: f"v{i}" for i, f in enumerate(fields)}
    trusted = frozenset({"type"} if event else ())
    fast = exact_shape(cls, ns, prefix="_f", is_dict=event, trusted=trusted)
    body = [f"    {line}" for line in fast]
    if not event:
        body += ["    if d.__class__ is not _dict:", "        raise _IF('an object', d)"]
    body.append("    bad = None")
    if eager:
        body += [f"    {var[n]} = d.get({n!r}, _M)" for n in eager]
    if lazy:
        body.append("    get = d.get")
        body += [f"    {var[n]} = get({n!r})" for n in lazy]
    for i, field in enumerate(fields):
        name, v = field.name, var[field.name]
        members = _split(hints[name])[1]
        if event and name == "type":  # the string that chose this class
            continue
        if all(m in _SCALARS for m in members):
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
    extra = "_EMPTY if bad is None and _all_known(d) else _extra(d, _KNOWN, bad)"
    body.append(f"    return _new({_build_args(cls, var, extra)})")
    return compile_function(f"<rxrealtime structure of {cls.__qualname__}>", "d", body, ns)


@functools.cache
def wire_key(name: str) -> str:
    """``name`` as the very ``str`` object ``orjson`` gives for that key.

    ``orjson`` caches the key strings it creates, so the dicts it returns usually hold this
    object, and a lookup with it matches on identity instead of comparing characters (when
    they differ, an equal string finds the same value, only a little slower).
    """
    (key,) = orjson.loads(orjson.dumps({name: 0}))
    return str(key)


_SHARED: Final[dict[str, Any]] = {
    "_str": str,
    "_int": int,
    "_float": float,
    "_bool": bool,
    "_dict": dict,
    "_IF": InvalidField,
    "_EMPTY": EMPTY,
}
"""Names the generated code refers to besides its own (prefixed) ones."""
_TYPE_NAMES: Final = {str: "_str", int: "_int", float: "_float", bool: "_bool"}


def exact_shape(
    cls: type,
    ns: dict[str, Any],
    *,
    prefix: str,
    is_dict: bool = False,
    trusted: frozenset[str] = frozenset(),
    known: Mapping[str, str] | None = None,
) -> list[str]:
    """The fast path of a structure function: source lines (unindented) that return the
    instance when the dict ``d`` has no key ``cls`` does not declare and every value is exactly
    of its declared type, and fall through otherwise, having changed nothing but locals.

    That is the shape nearly every frame has, and one where the decoding policy has nothing to
    decide. ``len(d)`` equal to the number of fields and every field read by subscript means
    every key is there and none is unknown; otherwise every key being known (one C-level scan)
    and the required ones read by subscript means the same of the keys that are there, and an
    absent optional field is ``None``, as a ``null`` one is. A required value of one of its
    declared scalar types (an integer for a number, converted), an optional one that is that
    or ``null``, and nested values their own structure functions accept, are exactly what the
    general path keeps, with an empty ``extra``. Anything else (a missing required, unknown,
    or ill-typed key, a nested failure) falls through to the general path, which decides it as
    always, reading ``d`` afresh. Names used are added to ``ns`` (:data:`_SHARED`, ``prefix``-ed
    ones, ``_k_<field>``); locals are ``fast``, ``get`` and ``v0``, ``v1``, ...
    ``is_dict``: ``d`` is known to be a dict; ``trusted``: fields read but known to be strings
    (the ``type`` that chose an event class); ``known``: fields whose value (a string) a local
    already holds, by that local's name.
    """
    fields = [f for f in attrs.fields(cls) if f.name != "extra"]
    hints = typing.get_type_hints(cls)
    required = required_fields(cls)
    ns.update(_SHARED)
    ns[f"{prefix}_new"] = slot_builder(cls)
    ns[f"{prefix}_all_known"] = frozenset(f.name for f in fields).issuperset
    var = {f.name: f"v{i}" for i, f in enumerate(fields)}
    var.update(known or {})
    must: list[str] = []
    may: list[str] = []
    checks: list[str] = []
    after: list[str] = []
    for i, field in enumerate(fields):
        name, v = field.name, var[field.name]
        if known and name in known:
            continue
        (must if name in required or name in trusted else may).append(name)
        if name in trusted:
            continue
        members = _split(hints[name])[1]
        scalars = [m for m in members if m in _SCALARS]
        origin = typing.get_origin(members[0])
        test = " or ".join(f"{v}.__class__ is {_TYPE_NAMES[m]}" for m in scalars)
        if float in scalars and int not in scalars:  # an integer where a number is expected
            test += f" or {v}.__class__ is _int"
            after.append(f"if {v}.__class__ is _int: {v} = _float({v})")
        if members == [Any]:
            test = "" if name not in required else f"{v} is not None"
        elif len(members) == 1 and origin in (Mapping, dict):
            test = f"{v}.__class__ is _dict"
        elif len(scalars) < len(members):  # a nested object, or a union with one
            ns[f"{prefix}_c{i}"] = _nested_conv(hints[name], name in required)
            convert = f"{v} = {prefix}_c{i}({v})"
            when = [f"{v} is not None"] if name not in required else []  # (a required None fails)
            when += [f"{v}.__class__ is not {_TYPE_NAMES[m]}" for m in scalars]
            after.append(f"if {' and '.join(when)}: {convert}" if when else convert)
            continue
        if test and name not in required and members != [Any]:
            test = f"{v} is None or {test}"
        if test:
            checks.append(f"({test})" if " or " in test else test)

    def read(names: list[str], how: str) -> list[str]:
        ns.update({f"_k_{n}": wire_key(n) for n in names})
        return [f"{var[n]} = {how.format('_k_' + n)}" for n in names]

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
    if is_dict:
        lines = shape
    else:
        lines = ["if d.__class__ is _dict:", *[f"    {line}" for line in shape]]
        lines += ["else:", "    fast = False"]
    lines.append(f"if fast{''.join(' and ' + check for check in checks)}:")
    indent = "    "
    build = [f"return {prefix}_new({_build_args(cls, var, '_EMPTY')})"]
    if after:
        lines += [f"{indent}try:"] + [f"{indent}    {line}" for line in after]
        lines += [f"{indent}except _IF:", f"{indent}    pass", f"{indent}else:"]
        indent += "    "
    lines += [f"{indent}{line}" for line in build]
    return lines


def compile_function(filename: str, arg: str, body: list[str], ns: dict[str, Any]) -> Conv:
    """Compile ``def fn(arg): body`` with the values of ``ns`` (and :data:`_SHARED`) as its
    globals, a namespace of its own.

    CPython reads a global of an unchanged namespace about as fast as a local (the specialised
    ``LOAD_GLOBAL``), and unlike closure cells, which a call copies into its frame and releases
    one by one, or keyword-only defaults, filled one dict lookup at a time, the names a call
    does not use cost it nothing.
    """
    namespace: dict[str, Any] = {**_SHARED, **ns}
    source = "\n".join([f"def fn({arg}):", *body])
    exec(compile(source, filename, "exec"), namespace)  # from our own classes
    fn: Conv = namespace["fn"]
    return fn


def _build_args(cls: type, var: Mapping[str, str], extra: str) -> str:
    """The arguments of ``cls``'s :func:`~rxrealtime._construct.slot_builder`, in field order:
    each field's local (``var``), and the expression ``extra`` for ``extra``."""
    return ", ".join(extra if f.name == "extra" else var[f.name] for f in attrs.fields(cls))


def _extra(d: dict[str, Any], known: frozenset[str], bad: dict[str, Any] | None) -> dict[str, Any]:
    extra = {k: v for k, v in d.items() if k not in known}
    if bad:
        extra.update(bad)
    return extra


def register(cls: type, *, event: bool = False) -> Conv:
    """Register the structure function of ``cls`` on the converter and return it (``event``: the
    one for a top-level server event, see :func:`_build_structure`)."""
    structure = _build_structure(cls, event=True) if event else structurer(cls)
    converter.register_structure_hook(cls, lambda value, _: structure(value))
    return structure
