"""Unstructuring (class -> wire dict): the half of the converter that writes events.

Each class gets one ``exec``-compiled function, generated once from its field types (see
:func:`rxrealtime.events._structure.compile_function`): ``type`` first, ``None`` fields left
out, nested models and sequences turned into plain JSON data, ``extra`` merged back last, so
``to_dict(decode(frame))`` gives back the frame's object without its ``null`` values.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

import attrs

from rxrealtime.events._base import Model
from rxrealtime.events._convert import _SCALARS, Conv, _split, converter
from rxrealtime.events._structure import compile_function

__all__ = ["register_unstructure", "unstructure_any"]


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
    return compile_function(f"<rxrealtime unstructure of {cls.__qualname__}>", "o", lines, ns)


def register_unstructure(cls: type) -> None:
    """Register the generated unstructure function of ``cls`` on the package's converter."""
    converter.register_unstructure_hook(cls, _build_unstructure(cls))
