"""Building instances of frozen, slotted ``attrs`` classes at the cost of plain slot stores.

An ``attrs`` frozen class's ``__init__`` stores each field through a generic call, because its
``__setattr__`` raises. The decoder and the operators build millions of such instances (every
event, every nested object, every delta record), each with every field already of its type, so
they use :func:`slot_builder` instead: a callable taking one value per field, by position and
in field order, that returns an ordinary instance of the class -- its ``type()``, equality,
hash, ``repr``, copying and immutability are the class's own.

Two implementations, with the same results (``tests/test_construct.py`` holds them equal):

* ``rxrealtime._native.SlotBuilder``, a small C extension built by the install where a C
  compiler exists: one call that allocates the instance and stores each value in its slot;
* the pure-Python fallback: a private subclass of the class (no slots of its own, ``object``'s
  ``__setattr__``) is filled with plain stores, then given the class as its ``__class__``,
  which the identical memory layout allows.

:data:`NATIVE` says which one is in use; the environment variable
``RXREALTIME_PURE_PYTHON=1`` forces the fallback (for tests and comparisons).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

import attrs

try:
    from rxrealtime._native import SlotBuilder as _SlotBuilder
except ImportError:  # not compiled (no C compiler at install time): the fallback below
    _SlotBuilder = None  # type: ignore[assignment, misc]

__all__ = ["NATIVE", "slot_builder"]

NATIVE: bool = _SlotBuilder is not None and os.environ.get("RXREALTIME_PURE_PYTHON") != "1"
"""Whether :func:`slot_builder` returns the C builder."""

_T = TypeVar("_T")


def slot_builder(cls: type[_T]) -> Callable[..., _T]:
    """A constructor for the frozen, slotted ``attrs`` class ``cls`` taking every field by
    position, in field order (no defaults: the caller passes each field, already of its type).
    Raises ``TypeError`` if ``cls`` is not slotted or a field has a converter or validator
    (which the builder would skip). Cached per class; safe to call from any thread."""
    return cast(Callable[..., _T], _builder(cast(type, cls)))


@functools.cache
def _builder(cls: type) -> Callable[..., Any]:
    if not attrs.has(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a slotted attrs class")
    fields = attrs.fields(cls)
    for field in fields:
        if field.converter is not None or field.validator is not None:
            raise TypeError(f"{cls.__name__}.{field.name} has a converter or validator")
    names = tuple(field.name for field in fields)
    if NATIVE:
        return cast(Callable[..., Any], _SlotBuilder(cls, names))
    return _python_builder(cls, names)


def _python_builder(cls: type, names: tuple[str, ...]) -> Callable[..., Any]:
    twin = type(
        f"_Mutable{cls.__name__}",
        (cls,),
        {
            "__slots__": (),
            "__init__": object.__init__,  # so ``twin()`` is the cheapest way to an instance
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__module__": __name__,
            "__qualname__": f"_Mutable{cls.__qualname__}",
        },
    )
    stores = "".join(f"    o.{name} = {name}\n" for name in names)
    source = (
        f"def build({', '.join(names)}, /):\n    o = _twin()\n{stores}"
        "    o.__class__ = _cls\n    return o\n"
    )
    namespace: dict[str, Any] = {"_twin": twin, "_cls": cls}
    exec(compile(source, f"<slot_builder {cls.__qualname__}>", "exec"), namespace)  # our class
    built: Callable[..., Any] = namespace["build"]
    return built
