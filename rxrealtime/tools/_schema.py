"""JSON Schemas from type hints, checking the model's arguments against them, and the one
cattrs converter that turns checked arguments into Python values (see :mod:`rxrealtime.tools`)."""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import enum
import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Union

import attrs
import cattrs

from ._docstrings import parse_docstring

__all__ = [
    "CONVERTER",
    "ToolArgumentsError",
    "check",
    "field_description",
    "hints_of",
    "output_text",
    "schema_for",
    "with_details",
]

_SCALARS: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    type(None): "null",
}
_ARRAYS = (list, tuple, set, frozenset, cabc.Sequence, cabc.MutableSequence, cabc.Set,
           cabc.MutableSet, cabc.Iterable, cabc.Collection)  # fmt: skip
_MAPPINGS = (dict, cabc.Mapping, cabc.MutableMapping)


def _json_type(value: Any) -> str | None:
    for kind, name in _SCALARS.items():
        if type(value) is kind:
            return name
    return None


def _enum_schema(values: list[Any], hint: object) -> dict[str, Any]:
    kinds = {_json_type(value) for value in values}
    if None in kinds or not values:
        raise TypeError(f"{hint!r}: enum values must be str, int, float, bool or None")
    schema: dict[str, Any] = {"enum": values}
    if len(kinds) == 1:
        schema = {"type": kinds.pop(), "enum": values}
    return schema


def _json_default(value: Any) -> tuple[bool, Any]:
    """``(True, json_value)`` when ``value`` is plain JSON (Enum members as their value)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or type(value) in (str, int, float, bool):
        return True, value
    if isinstance(value, list | tuple):
        items = [_json_default(item) for item in value]
        return all(ok for ok, _ in items), [item for _, item in items]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        pairs = {key: _json_default(item) for key, item in value.items()}
        return all(ok for ok, _ in pairs.values()), {k: v for k, (_, v) in pairs.items()}
    return False, None


def field_description(hint: Any) -> str | None:
    if typing.get_origin(hint) is Annotated:
        return next((x for x in typing.get_args(hint)[1:] if isinstance(x, str)), None)
    return None


def with_details(schema: dict[str, Any], description: str | None, default: Any) -> dict[str, Any]:
    schema = dict(schema)
    if description and "description" not in schema:
        schema["description"] = description
    if default is not inspect.Parameter.empty:
        ok, value = _json_default(default)
        if ok:
            schema["default"] = value
    return schema


def hints_of(owner: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(owner, include_extras=True)
    except Exception as error:  # an unresolvable forward reference, mostly
        raise TypeError(f"cannot resolve the type hints of {owner!r}: {error}") from error


def _object_schema(cls: type, seen: tuple[type, ...]) -> dict[str, Any]:
    if cls in seen:
        raise TypeError(f"{cls.__qualname__} is recursive; tools need finite schemas")
    hints = hints_of(cls)
    doc = cls.__doc__ or ""
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("):
        doc = ""  # the signature dataclasses writes when there is no docstring
    summary, documented = parse_docstring(doc)
    properties: dict[str, Any] = {}
    required: list[str] = []
    fields: list[tuple[str, Any, Any, str | None]] = []  # name, hint, default, description
    if attrs.has(cls):
        for a in attrs.fields(cls):
            if not a.init:
                continue
            default: Any = a.default
            if default is attrs.NOTHING:
                default = _REQUIRED
            elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = inspect.Parameter.empty  # optional; a factory's value is not shown
            fields.append((a.name, hints.get(a.name, Any), default, a.metadata.get("description")))
    else:
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            default = f.default if f.default is not dataclasses.MISSING else inspect.Parameter.empty
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                default = _REQUIRED
            fields.append((f.name, hints.get(f.name, Any), default, f.metadata.get("description")))
    for name, hint, default, description in fields:
        description = field_description(hint) or description or documented.get(name)
        if default is _REQUIRED:
            required.append(name)
            default = inspect.Parameter.empty
        properties[name] = with_details(_schema(hint, (*seen, cls)), description, default)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    if summary:
        schema["description"] = summary
    return schema


_REQUIRED = object()


def _schema(hint: Any, seen: tuple[type, ...] = ()) -> dict[str, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        schema = _schema(args[0], seen)
        description = field_description(hint)
        return {**schema, "description": description} if description else schema
    if hint is Any or hint is object or hint is inspect.Parameter.empty:
        return {}
    if hint is None or hint in _SCALARS:
        return {"type": _SCALARS[type(None) if hint is None else hint]}
    if origin is Literal:
        return _enum_schema(list(args), hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_schema([member.value for member in hint], hint)
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema(arg, seen) for arg in args]}
    if hint in _ARRAYS or origin in _ARRAYS:
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            raise TypeError(f"{hint!r}: fixed-length tuples are not supported; use tuple[T, ...]")
        schema = {"type": "array"}
        if args:
            schema["items"] = _schema(args[0], seen)
        if hint in (set, frozenset) or origin in (set, frozenset, cabc.Set, cabc.MutableSet):
            schema["uniqueItems"] = True
        return schema
    if hint in _MAPPINGS or origin in _MAPPINGS:
        if args and args[0] is not str:
            raise TypeError(f"{hint!r}: JSON object keys are strings; use dict[str, T]")
        return (
            {"type": "object", "additionalProperties": _schema(args[1], seen)}
            if args
            else {"type": "object"}
        )
    if isinstance(hint, type) and (attrs.has(hint) or dataclasses.is_dataclass(hint)):
        return _object_schema(hint, seen)
    raise TypeError(f"unsupported type hint for a tool parameter: {hint!r}")


def schema_for(hint: Any) -> dict[str, Any]:
    """The JSON Schema of one type hint, as ``@tool`` builds it for a parameter (see the module
    docstring for the supported hints). Raises ``TypeError`` for an unsupported hint."""
    return _schema(hint)


# -- checking --------------------------------------------------------------------------------


def _where(path: tuple[str | int, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text or "arguments"


def _show(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


_WORDS = {"string": "a string", "integer": "an integer", "number": "a number",
          "boolean": "true or false", "null": "null", "array": "an array",
          "object": "an object"}  # fmt: skip


def _describe(schema: Mapping[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_describe(branch) for branch in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(value) for value in schema["enum"])
    kind = schema.get("type")
    return _WORDS.get(kind, "any value") if isinstance(kind, str) else "any value"


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (type(value) is int) or (type(value) is float and value.is_integer())
    if kind == "number":
        return type(value) in (int, float)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return _json_type(value) == kind


def _same(a: Any, b: Any) -> bool:
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _equal(a: Any, b: Any) -> bool:
    """JSON equality (``1 == 1.0``, but ``true != 1``), at any depth."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return _same(a, b) and type(a) not in (list, dict) and type(b) not in (list, dict)


def check(value: Any, schema: Mapping[str, Any], path: tuple[str | int, ...] = ()) -> list[str]:
    """Every way ``value`` (decoded JSON) fails the ``schema`` built here, as messages naming
    the path; empty when it fits. Handles what :func:`schema_for` produces."""
    errors: list[str] = []
    _check(value, schema, path, errors)
    return errors


def _check(
    value: Any, schema: Mapping[str, Any], path: tuple[str | int, ...], errors: list[str]
) -> None:
    if "anyOf" in schema:
        verdicts = [check(value, branch, path) for branch in schema["anyOf"]]
        if all(verdicts):
            # one branch of the value's own JSON type: its problems say more than "expected A
            # or B" (``options.unit: ...`` rather than ``options: expected an object or null``)
            typed = [
                problems
                for branch, problems in zip(schema["anyOf"], verdicts, strict=True)
                if isinstance(branch.get("type"), str) and _is(value, branch["type"])
            ]
            if len(typed) == 1:
                errors.extend(typed[0])
            else:
                errors.append(f"{_where(path)}: expected {_describe(schema)}, got {_show(value)}")
        return
    kind = schema.get("type")
    if isinstance(kind, str) and not _is(value, kind):
        errors.append(f"{_where(path)}: expected {_WORDS[kind]}, got {_show(value)}")
        return
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        errors.append(f"{_where(path)}: expected {_describe(schema)}, got {_show(value)}")
        return
    if kind == "array" and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], (*path, index), errors)
    if kind == "array" and schema.get("uniqueItems"):
        for index, item in enumerate(value):
            if any(_equal(item, earlier) for earlier in value[:index]):
                errors.append(f"{_where((*path, index))}: repeats an earlier item")
    elif kind == "object":
        what = "argument" if not path else "field"
        properties: Mapping[str, Any] = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                errors.append(f"{_where(path)}: missing required {what} {name!r}")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                _check(item, properties[name], (*path, name), errors)
            elif extra is False:
                errors.append(f"{_where(path)}: unexpected {what} {name!r}")
            elif isinstance(extra, Mapping):
                _check(item, extra, (*path, name), errors)


# -- conversion ------------------------------------------------------------------------------


class ToolArgumentsError(ValueError):
    """The model's arguments do not fit the tool's signature; ``problems`` lists each one
    (with its path), and ``str()`` joins them in a message meant for the model."""

    def __init__(self, tool: str, problems: list[str]) -> None:
        self.tool = tool
        self.problems = tuple(problems)
        super().__init__(f"invalid arguments for {tool}: " + "; ".join(problems))


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)

    def union_hook(hint: Any) -> Callable[[Any, Any], Any]:
        branches = [(arg, _schema(arg)) for arg in typing.get_args(hint)]

        def structure(value: Any, _: Any) -> Any:
            for branch, schema in branches:
                if not check(value, schema):
                    return None if branch is type(None) else converter.structure(value, branch)
            raise ValueError(f"{_show(value)} fits none of {hint!r}")

        return structure

    converter.register_structure_hook_factory(_is_union, union_hook)
    return converter


CONVERTER = _make_converter()
"""The one converter: checked JSON in, Python values out (and results back to JSON)."""


def output_text(result: Any) -> str:
    """A tool's result as the output text the model reads: a ``str`` verbatim, anything else
    as JSON (attrs/dataclass instances and ``Enum`` members unstructured first; values JSON
    cannot hold as ``str()``)."""
    if isinstance(result, str):
        return result
    return json.dumps(CONVERTER.unstructure(result), default=str)
