"""Hypothesis strategies built from the event classes themselves, and the policy's checks.

* :func:`event_payloads` draws a wire object that fits a server event class: every required
  field present with a value of its declared type, optional ones absent, ``null`` or fitting,
  nested families (items by ``type``/``role``, content parts, formats, ...) dispatched on their
  key exactly as the codec does.
* :func:`field_paths` lists every field a decoded event's wire object holds, with whether the
  chain from the event down to it is required (then breaking it must cost the event).
* :func:`assert_well_typed` checks what the policy promises of any typed event: every required
  field set, every value of its declared type, at every depth.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Union

import attrs
from hypothesis import strategies as st

from rxrealtime import events as ev
from rxrealtime.events._base import Model
from rxrealtime.events._convert import families, required_fields

# what a JSON parser can give back (no NaN/Infinity, no lone surrogates)
json_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson reads
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(json_text, children, max_size=3)
    ),
    max_leaves=8,
)
_plain_values = st.recursive(
    json_scalars.filter(lambda v: v is not None),
    lambda children: (
        st.lists(children, max_size=2) | st.dictionaries(json_text, children, max_size=2)
    ),
    max_leaves=4,
)
"""JSON values without ``null`` anywhere (so a payload minus its nulls is what ``to_dict``
gives back even inside free-form values)."""
_SCALARS = (str, int, float, bool)


def members(annotation: Any) -> tuple[bool, list[Any]]:
    """(admits None, the other members) of a field annotation."""
    if annotation is Any:
        return True, [Any]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = typing.get_args(annotation)
        return type(None) in args, [a for a in args if a is not type(None)]
    return False, [annotation]


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


# -- valid payloads --------------------------------------------------------------------------


def _value(annotation: Any) -> st.SearchStrategy[Any]:
    """A JSON value that fits ``annotation`` (never ``null``)."""
    _, kinds = members(annotation)
    options: list[st.SearchStrategy[Any]] = []
    for kind in kinds:
        origin = typing.get_origin(kind)
        if kind is Any:
            options.append(_plain_values)
        elif kind is bool:
            options.append(st.booleans())
        elif kind is int:
            options.append(st.integers(min_value=-(2**53), max_value=2**53))
        elif kind is float:
            options.append(
                st.floats(allow_nan=False, allow_infinity=False)
                | st.integers(min_value=-1000, max_value=1000)
            )
        elif kind is str:
            options.append(json_text)
        elif origin in (Sequence, list, tuple):
            (element,) = typing.get_args(kind)[:1]
            options.append(st.lists(_value(element), max_size=2))
        elif origin in (Mapping, dict):
            options.append(st.dictionaries(json_text, _plain_values, max_size=2))
        elif attrs.has(kind):
            options.append(st.deferred(lambda kind=kind: objects(kind)))
        else:
            raise AssertionError(f"no strategy for {kind!r}")
    return st.one_of(options)


@functools.cache
def objects(cls: type, fixed: tuple[tuple[str, str], ...] = ()) -> st.SearchStrategy[Any]:
    """A wire object that decodes to ``cls`` (a family base: to one of its members)."""
    family = families().get(cls)
    if family is not None and not fixed:
        key, table = family
        options = []
        for value, member in table.items():
            if member is not cls and member in families():
                inner = objects(member)
                options.append(inner.map(lambda d, key=key, value=value: {**d, key: value}))
            else:
                options.append(objects(member, ((key, value),)))
        return st.one_of(options)
    hints = _hints(cls)
    required = required_fields(cls)
    pinned = dict(fixed)
    must: dict[str, st.SearchStrategy[Any]] = {}
    may: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(cls):
        name = field.name
        if name == "extra":
            continue
        if name in pinned:
            must[name] = st.just(pinned[name])
        elif name in required:
            must[name] = _value(hints[name])
        else:
            may[name] = st.none() | _value(hints[name])
    return st.fixed_dictionaries(must, optional=may)


def event_payloads(wire: str) -> st.SearchStrategy[dict[str, Any]]:
    """A wire object of the server event type ``wire`` (beta aliases included)."""
    return objects(ev.SERVER_EVENT_TYPES[wire], (("type", wire),))


# -- where a payload can be broken -----------------------------------------------------------


class FieldPath(NamedTuple):
    path: tuple[str | int, ...]
    annotation: Any
    chain_required: bool
    """Every field from the event down to this one (list elements included) is required."""
    is_key: bool
    """The dispatch key of its object (``type`` of the event, an item's ``type``/``role``, ...)."""


def dotted(path: Sequence[str | int]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


def _keys_of(obj: Model) -> set[str]:
    return {key for base, (key, _) in families().items() if isinstance(obj, base)}


def field_paths(event: ev.ServerEvent, raw: Mapping[str, Any]) -> list[FieldPath]:
    """Every field the wire object ``raw`` of the typed ``event`` holds, at every depth."""
    found: list[FieldPath] = []

    def walk(
        obj: Model,
        data: Mapping[str, Any],
        prefix: tuple[str | int, ...],
        chain: bool,
        keys: set[str],
    ) -> None:
        hints = _hints(type(obj))
        required = required_fields(type(obj))
        for field in attrs.fields(type(obj)):  # type: ignore[misc]
            name = field.name
            if name == "extra" or name not in data:
                continue
            here = (*prefix, name)
            link = chain and name in required
            found.append(FieldPath(here, hints[name], link, name in keys))
            value = getattr(obj, name)
            items = [(here, value, data[name])]
            if isinstance(value, tuple):
                element = typing.get_args(members(hints[name])[1][0])[0]
                for i, (item, item_raw) in enumerate(zip(value, data[name], strict=True)):
                    found.append(FieldPath((*here, i), element, link, False))
                    items.append(((*here, i), item, item_raw))
            for path, item, item_raw in items:
                if isinstance(item, Model):
                    walk(item, item_raw, path, link, _keys_of(item))

    walk(event, raw, (), True, {"type"})
    return found


def shallow_fits(value: Any, annotation: Any) -> bool:
    """Whether ``value`` is of a JSON kind ``annotation`` admits (objects not looked into)."""
    nullable, kinds = members(annotation)
    if value is None:
        return nullable
    for kind in kinds:
        origin = typing.get_origin(kind)
        if kind is Any:
            return True
        if kind is bool or value.__class__ is bool:
            if kind is bool and value.__class__ is bool:
                return True
            continue
        if kind in _SCALARS:
            if isinstance(value, kind) or (kind is float and isinstance(value, int)):
                return True
        elif origin in (Sequence, list, tuple):
            if isinstance(value, list):
                return True
        elif isinstance(value, dict):
            return True
    return False


def mutate(value: Any, path: Sequence[str | int], replacement: Any = ...) -> Any:
    """``value`` with the member at ``path`` replaced (``...``: deleted)."""
    head, *rest = path
    if isinstance(value, dict):
        if not rest and replacement is ...:
            return {k: v for k, v in value.items() if k != head}
        return {
            k: (mutate(v, rest, replacement) if rest else replacement) if k == head else v
            for k, v in value.items()
        }
    return [
        (mutate(v, rest, replacement) if rest else replacement) if i == head else v
        for i, v in enumerate(value)
    ]


# -- the promise of a typed event ------------------------------------------------------------


def _fits_declared(value: Any, kind: Any, where: str) -> bool:
    origin = typing.get_origin(kind)
    if kind is Any:
        return True
    if kind in (int, float, bool, str):
        return value.__class__ is kind
    if origin in (Sequence, list, tuple):
        (element,) = typing.get_args(kind)[:1]
        if not isinstance(value, tuple):
            return False
        for i, item in enumerate(value):
            assert any(_fits_declared(item, k, f"{where}[{i}]") for k in members(element)[1]), (
                f"{where}[{i}] = {item!r}"
            )
        return True
    if origin in (Mapping, dict):
        return isinstance(value, Mapping)
    if isinstance(value, kind):
        assert_well_typed(value, where)
        return True
    return False


def assert_well_typed(obj: Model, where: str = "event") -> None:
    """Every required field of ``obj`` is set and every value is of its declared type,
    recursively (an optional field may be ``None``)."""
    cls = type(obj)
    hints = _hints(cls)
    required = required_fields(cls)
    for field in attrs.fields(cls):  # type: ignore[misc]
        value = getattr(obj, field.name)
        here = f"{where}.{field.name}"
        if field.name == "extra":
            assert isinstance(value, Mapping), here
            continue
        if value is None:
            assert field.name not in required, f"required {here} is None"
            continue
        assert any(_fits_declared(value, k, here) for k in members(hints[field.name])[1]), (
            f"{here} = {value!r} is not {hints[field.name]}"
        )
