"""The Observable type sessions hand to users: subscriptions default to the session's
scheduler, and ``pipe`` keeps that default for everything piped from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

import reactivex
from reactivex import abc

from rxrealtime._compat import subscribe_function

__all__ = ["SessionObservable"]

_T = TypeVar("_T")
_A = TypeVar("_A")
_B = TypeVar("_B")
_C = TypeVar("_C")
_D = TypeVar("_D")
_E = TypeVar("_E")
_F = TypeVar("_F")
_G = TypeVar("_G")


class SessionObservable(reactivex.Observable[_T]):
    """An Observable whose subscriptions default to a loop-bound scheduler.

    ``subscribe(..., scheduler=None)`` uses the session's scheduler, and ``pipe(...)`` returns a
    ``SessionObservable`` again, so every operator applied through it receives the loop
    scheduler as its subscribe-time scheduler.
    """

    def __init__(
        self,
        subscribe: Callable[[abc.ObserverBase[_T], abc.SchedulerBase | None], abc.DisposableBase],
        scheduler: abc.SchedulerBase,
    ) -> None:
        super().__init__(subscribe)
        self.default_scheduler = scheduler

    def subscribe(
        self,
        on_next: abc.ObserverBase[_T] | Callable[[_T], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        on_completed: Callable[[], None] | None = None,
        *,
        scheduler: abc.SchedulerBase | None = None,
    ) -> abc.DisposableBase:
        return super().subscribe(
            on_next, on_error, on_completed, scheduler=scheduler or self.default_scheduler
        )

    @overload
    def pipe(self) -> SessionObservable[_T]: ...
    @overload
    def pipe(self, op1: Callable[[reactivex.Observable[_T]], _A], /) -> _A: ...
    @overload
    def pipe(
        self, op1: Callable[[reactivex.Observable[_T]], _A], op2: Callable[[_A], _B], /
    ) -> _B: ...
    @overload
    def pipe(
        self,
        op1: Callable[[reactivex.Observable[_T]], _A],
        op2: Callable[[_A], _B],
        op3: Callable[[_B], _C],
        /,
    ) -> _C: ...
    @overload
    def pipe(
        self,
        op1: Callable[[reactivex.Observable[_T]], _A],
        op2: Callable[[_A], _B],
        op3: Callable[[_B], _C],
        op4: Callable[[_C], _D],
        /,
    ) -> _D: ...
    @overload
    def pipe(
        self,
        op1: Callable[[reactivex.Observable[_T]], _A],
        op2: Callable[[_A], _B],
        op3: Callable[[_B], _C],
        op4: Callable[[_C], _D],
        op5: Callable[[_D], _E],
        /,
    ) -> _E: ...
    @overload
    def pipe(
        self,
        op1: Callable[[reactivex.Observable[_T]], _A],
        op2: Callable[[_A], _B],
        op3: Callable[[_B], _C],
        op4: Callable[[_C], _D],
        op5: Callable[[_D], _E],
        op6: Callable[[_E], _F],
        /,
    ) -> _F: ...
    @overload
    def pipe(
        self,
        op1: Callable[[reactivex.Observable[_T]], _A],
        op2: Callable[[_A], _B],
        op3: Callable[[_B], _C],
        op4: Callable[[_C], _D],
        op5: Callable[[_D], _E],
        op6: Callable[[_E], _F],
        op7: Callable[[_F], _G],
        /,
    ) -> _G: ...
    # Eight operators or more are not followed by the checker. There is deliberately no
    # catch-all for fewer: a wrongly composed pipe must be a type error, not ``Any``.
    @overload
    def pipe(
        self,
        op1: Callable[[Any], Any],
        op2: Callable[[Any], Any],
        op3: Callable[[Any], Any],
        op4: Callable[[Any], Any],
        op5: Callable[[Any], Any],
        op6: Callable[[Any], Any],
        op7: Callable[[Any], Any],
        op8: Callable[[Any], Any],
        /,
        *operators: Callable[[Any], Any],
    ) -> Any: ...
    def pipe(self, *operators: Callable[[Any], Any]) -> Any:
        result: Any = self
        for operator in operators:
            result = operator(result)
        if isinstance(result, reactivex.Observable) and not isinstance(result, SessionObservable):
            return SessionObservable(subscribe_function(result), self.default_scheduler)
        return result
