"""``of_type``: keep only events of the given classes, narrowing the element type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from reactivex import Observable
from reactivex import operators as rx_ops

__all__ = ["of_type"]

_A = TypeVar("_A")
_B = TypeVar("_B")
_C = TypeVar("_C")
_D = TypeVar("_D")
_E = TypeVar("_E")


@overload
def of_type(cls: type[_A], /) -> Callable[[Observable[object]], Observable[_A]]: ...
@overload
def of_type(
    c1: type[_A], c2: type[_B], /
) -> Callable[[Observable[object]], Observable[_A | _B]]: ...
@overload
def of_type(
    c1: type[_A], c2: type[_B], c3: type[_C], /
) -> Callable[[Observable[object]], Observable[_A | _B | _C]]: ...
@overload
def of_type(
    c1: type[_A], c2: type[_B], c3: type[_C], c4: type[_D], /
) -> Callable[[Observable[object]], Observable[_A | _B | _C | _D]]: ...
@overload
def of_type(
    c1: type[_A], c2: type[_B], c3: type[_C], c4: type[_D], c5: type[_E], /
) -> Callable[[Observable[object]], Observable[_A | _B | _C | _D | _E]]: ...
@overload
def of_type(  # six classes or more: not followed by the checker (no catch-all for fewer)
    c1: type[Any],
    c2: type[Any],
    c3: type[Any],
    c4: type[Any],
    c5: type[Any],
    c6: type[Any],
    /,
    *classes: type[Any],
) -> Callable[[Observable[Any]], Observable[Any]]: ...


def of_type(*classes: type[Any]) -> Callable[[Observable[Any]], Observable[Any]]:
    """Keep the values that are instances of any of ``classes`` (subclasses included).

    ::

        --A--b--C--b--|      of_type(A, C)
        --A-----C-----|

    Beta event names decode to the GA classes, so ``of_type(ev.ResponseOutputTextDelta)`` also
    keeps ``response.text.delta`` events. For up to five classes the result type is the union
    of the classes, so a type checker knows what flows out (``session.events.pipe(
    ops.of_type(ev.ResponseDone))`` is an ``Observable[ResponseDone]``, and a pipe that feeds it
    to an operator expecting something else is a type error; ``tests/typing`` holds mypy and
    pyright to it).

    Ordering, completion and errors are the source's; nothing is buffered.

    Raises:
        TypeError: no class was given, or an argument is not a class.
    """
    if not classes:
        raise TypeError("of_type() needs at least one class")
    for cls in classes:
        if not isinstance(cls, type):
            raise TypeError(f"of_type() arguments must be classes, not {cls!r}")
    wanted = tuple(classes)
    keep: Callable[[Observable[Any]], Observable[Any]] = rx_ops.filter(
        lambda value: isinstance(value, wanted)
    )
    return keep
