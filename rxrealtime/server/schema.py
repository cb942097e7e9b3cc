"""A small declarative schema for client request payloads, answered with the live service's errors.

A spec (:class:`Str`, :class:`Int`, :class:`Num`, :class:`Bool`, :class:`Free`, :class:`Obj`,
:class:`Arr`, :class:`Map`, :class:`Either`, :class:`Tagged`) describes one JSON value;
:func:`check` validates a value against it and returns the value normalised (integral decimals in
integer fields become ``int``; everything else is returned as given). Errors are
:class:`~rxrealtime.server.errors.ClientError` with the live service's codes and messages:

* wrong JSON type → ``invalid_type`` ("Invalid type for 'P': expected an integer, but got a string
  instead.");
* value outside an enumeration → ``invalid_value``; unknown key → ``unknown_parameter``; missing
  key → ``missing_required_parameter``;
* bounds → ``string_above_max_length``, ``integer_below_min_value``, ``integer_above_max_value``,
  ``decimal_below_min_value``, ``decimal_above_max_value``, ``array_above_max_length``,
  ``object_above_max_properties``;
* free-form values (a tool's ``parameters``) nested deeper than
  :data:`~rxrealtime.server.limits.MAX_JSON_DEPTH` → ``invalid_value``.

Guarantees: :func:`check` never raises anything but ``ClientError`` for any JSON value (whatever
its nesting: the schema's own depth bounds the recursion and free-form values are measured
iteratively), never mutates its input, and reports the first problem found, by dotted path
(``session.audio.input.turn_detection.threshold``, ``session.tools[0]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from rxrealtime.server import errors
from rxrealtime.server.limits import MAX_JSON_DEPTH

__all__ = [
    "Arr",
    "Bool",
    "Either",
    "Free",
    "Int",
    "Map",
    "Num",
    "Obj",
    "Spec",
    "Str",
    "Tagged",
    "check",
    "json_depth",
    "join",
]


@attrs.frozen
class Str:
    """A string, optionally one of ``enum`` and at most ``max_length`` characters."""

    enum: tuple[str, ...] | None = None
    max_length: int | None = None
    nullable: bool = True


@attrs.frozen
class Int:
    """An integer (an integral decimal such as ``300.0`` is accepted and made an ``int``)."""

    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[int, ...] | None = None
    nullable: bool = True


@attrs.frozen
class Num:
    """A decimal (integers accepted)."""

    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = True


@attrs.frozen
class Bool:
    nullable: bool = True


@attrs.frozen
class Free:
    """Any JSON value nested at most :data:`~rxrealtime.server.limits.MAX_JSON_DEPTH` levels
    (``limited=False``: any depth, for a value another spec checks later); ``kind``
    (``dict``/``list``/``None``) restricts the top-level type."""

    kind: type | None = None
    nullable: bool = True
    limited: bool = True


@attrs.frozen
class Obj:
    """An object with known ``fields`` (others are ``unknown_parameter``)."""

    fields: Mapping[str, Spec]
    required: frozenset[str] = frozenset()
    nullable: bool = True


@attrs.frozen
class Arr:
    item: Spec
    max_items: int | None = None
    min_items: int = 0
    nullable: bool = True


@attrs.frozen
class Map:
    """An object with arbitrary keys whose values all match ``value``."""

    value: Spec
    max_pairs: int | None = None
    key_max_length: int | None = None
    nullable: bool = True


@attrs.frozen
class Either:
    """One of several specs, chosen by the value's JSON type (the first whose type matches)."""

    options: tuple[Spec, ...]
    nullable: bool = True


@attrs.frozen
class Tagged:
    """An object discriminated by ``key`` (default ``type``); ``default`` is the variant used when
    the key is absent (``None``: the key is required)."""

    variants: Mapping[str, Obj]
    key: str = "type"
    default: str | None = None
    nullable: bool = True


Spec = Str | Int | Num | Bool | Free | Obj | Arr | Map | Either | Tagged


def join(path: str, key: str) -> str:
    """``session`` + ``audio`` → ``session.audio`` (the top level has no prefix)."""
    return f"{path}.{key}" if path else key


def json_depth(value: object, limit: int) -> int:
    """Nesting depth of ``value`` (a scalar is 0, ``[]`` is 1), measured iteratively; stops
    counting once ``limit`` is exceeded (returns ``limit + 1``)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        if depth > limit:
            return limit + 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


def _accepts(spec: Spec, value: object) -> bool:
    """Whether ``value``'s JSON type is the one ``spec`` describes (for :class:`Either`)."""
    if isinstance(spec, Str):
        return isinstance(value, str)
    if isinstance(spec, Int):
        return _is_integer(value)
    if isinstance(spec, Num):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(spec, Bool):
        return isinstance(value, bool)
    if isinstance(spec, Obj | Map | Tagged):
        return isinstance(value, Mapping)
    if isinstance(spec, Arr):
        return isinstance(value, list)
    if isinstance(spec, Free):
        if spec.kind is dict:
            return isinstance(value, Mapping)
        return spec.kind is None or isinstance(value, spec.kind)
    return any(_accepts(option, value) for option in spec.options)


_EXACT = 2**53  # beyond this a decimal no longer stands for one integer


def _is_integer(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value.is_integer() and abs(value) <= _EXACT
    return isinstance(value, int)


def _expected(spec: Spec) -> type:
    """The Python type named in an ``invalid_type`` message for ``spec``."""
    if isinstance(spec, Str):
        return str
    if isinstance(spec, Int):
        return int
    if isinstance(spec, Num):
        return float
    if isinstance(spec, Bool):
        return bool
    if isinstance(spec, Arr):
        return list
    if isinstance(spec, Free):
        return spec.kind or dict
    if isinstance(spec, Either):
        return _expected(spec.options[0])
    return dict


def _bound_error(path: str, kind: str, side: str, bound: object, got: object) -> errors.ClientError:
    relation = ">=" if side == "below" else "<="
    word = "minimum" if side == "below" else "maximum"
    return errors.ClientError(
        f"Invalid '{path}': {kind} {side} {word} value. Expected a value {relation} {bound}, "
        f"but got {got} instead.",
        code=f"{kind}_{side}_{'min' if side == 'below' else 'max'}_value",
        param=path,
    )


def _check_str(spec: Str, value: str, path: str) -> str:
    if spec.enum is not None and value not in spec.enum:
        raise errors.invalid_value(path, value, list(spec.enum))
    if spec.max_length is not None and len(value) > spec.max_length:
        raise errors.ClientError(
            f"Invalid '{path}': string too long. Expected a string with maximum length "
            f"{spec.max_length}, but got a string with length {len(value)} instead.",
            code="string_above_max_length",
            param=path,
        )
    return value


def _check_number(spec: Int | Num, value: int | float, path: str) -> int | float:
    kind = "integer" if isinstance(spec, Int) else "decimal"
    if isinstance(spec, Int):
        value = int(value)
        if spec.choices is not None and value not in spec.choices:
            raise errors.invalid_value(path, value, [str(c) for c in spec.choices])
    if spec.minimum is not None and value < spec.minimum:
        raise _bound_error(path, kind, "below", _number(spec.minimum), _number(value))
    if spec.maximum is not None and value > spec.maximum:
        raise _bound_error(path, kind, "above", _number(spec.maximum), _number(value))
    return value


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _check_obj(spec: Obj, value: Mapping[str, Any], path: str) -> dict[str, Any]:
    for key in value:
        if key not in spec.fields:
            raise errors.unknown_parameter(join(path, str(key)))
    for key in sorted(spec.required):
        if key not in value:
            raise errors.missing_parameter(join(path, key))
    out: dict[str, Any] = {}
    for key, item in value.items():
        field = spec.fields[key]
        if item is None and key in spec.required:
            raise errors.invalid_type(join(path, key), _expected(field), None)
        out[key] = check(field, item, join(path, key))
    return out


def _check_map(spec: Map, value: Mapping[str, Any], path: str) -> dict[str, Any]:
    if spec.max_pairs is not None and len(value) > spec.max_pairs:
        raise errors.ClientError(
            f"Invalid '{path}': too many properties. Expected an object with at most "
            f"{spec.max_pairs} properties, but got an object with {len(value)} properties "
            "instead.",
            code="object_above_max_properties",
            param=path,
        )
    out: dict[str, Any] = {}
    for key, item in value.items():
        if spec.key_max_length is not None and len(key) > spec.key_max_length:
            raise errors.ClientError(
                f"Invalid '{path}': property name too long. Expected a property name with "
                f"maximum length {spec.key_max_length}, but got a name with length {len(key)} "
                "instead.",
                code="string_above_max_length",
                param=path,
            )
        out[key] = check(spec.value, item, join(path, key))
    return out


def _check_tagged(spec: Tagged, value: Mapping[str, Any], path: str) -> dict[str, Any]:
    tag = value.get(spec.key, spec.default)
    if tag is None:
        raise errors.missing_parameter(join(path, spec.key))
    if not isinstance(tag, str):
        raise errors.invalid_type(join(path, spec.key), str, tag)
    variant = spec.variants.get(tag)
    if variant is None:
        raise errors.invalid_value(join(path, spec.key), tag, list(spec.variants))
    return _check_obj(variant, value, path)


def _check_free(spec: Free, value: object, path: str) -> object:
    if spec.kind is not None and not _accepts(spec, value):
        raise errors.invalid_type(path, spec.kind, value)
    if spec.limited and json_depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise errors.ClientError(
            f"Invalid '{path}': the value is nested too deeply (more than {MAX_JSON_DEPTH} "
            "levels).",
            code="invalid_value",
            param=path,
        )
    return value


def check(spec: Spec, value: object, path: str) -> Any:
    """Validate ``value`` against ``spec`` at ``path``; return it normalised (see the module
    docstring). Raises :class:`~rxrealtime.server.errors.ClientError` only."""
    if value is None:
        if spec.nullable:
            return None
        raise errors.invalid_type(path, _expected(spec), None)
    if isinstance(spec, Either):
        for option in spec.options:
            if _accepts(option, value):
                return check(option, value, path)
        raise errors.invalid_type(path, _expected(spec), value)
    if isinstance(spec, Free):
        return _check_free(spec, value, path)
    if not _accepts(spec, value):
        raise errors.invalid_type(path, _expected(spec), value)
    if isinstance(spec, Str):
        assert isinstance(value, str)
        return _check_str(spec, value, path)
    if isinstance(spec, Int | Num):
        assert isinstance(value, int | float)
        return _check_number(spec, value, path)
    if isinstance(spec, Bool):
        return value
    if isinstance(spec, Arr):
        assert isinstance(value, list)
        if spec.max_items is not None and len(value) > spec.max_items:
            raise errors.ClientError(
                f"Invalid '{path}': array too long. Expected an array with maximum length "
                f"{spec.max_items}, but got an array with length {len(value)} instead.",
                code="array_above_max_length",
                param=path,
            )
        if len(value) < spec.min_items:
            raise errors.ClientError(
                f"Invalid '{path}': empty array. Expected an array with minimum length "
                f"{spec.min_items}, but got an empty array instead.",
                code="empty_array",
                param=path,
            )
        return [check(spec.item, item, f"{path}[{index}]") for index, item in enumerate(value)]
    assert isinstance(value, Mapping)
    if isinstance(spec, Map):
        return _check_map(spec, value, path)
    if isinstance(spec, Tagged):
        return _check_tagged(spec, value, path)
    return _check_obj(spec, value, path)
