"""The one piece of Rx plumbing every stateful operator shares.

An operator here is written as a *step*: a small object that receives each input value together
with an ``emit`` callback and may call it zero or more times, plus a ``finish`` hook run when the
source completes. :func:`stateful` turns a step factory into a pipeable operator. Each
subscription gets a fresh step (operators are cold and re-subscribable), so no state is shared
between subscribers.

Guarantees of every operator built with :func:`stateful`:

* outputs are delivered synchronously, in the order the step emits them, on the thread that
  delivered the input (the session's event-loop thread for a live session);
* an exception raised by the step is forwarded as ``on_error`` (it is a bug, not data) and the
  subscription stops; an exception raised by a downstream observer is *not* attributed to the
  step: it propagates exactly as it would without the operator;
* ``on_completed`` is forwarded after the outputs of ``finish``; ``on_error`` of the source is
  forwarded as is (``finish`` is not run: an errored stream has no well-defined tail);
* disposing the subscription disposes the upstream subscription.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from reactivex import Observable, abc
from reactivex.scheduler import CurrentThreadScheduler

__all__ = ["Clock", "Step", "resolve_clock", "stateful"]

_A_contra = TypeVar("_A_contra", contravariant=True)
_B_co = TypeVar("_B_co", covariant=True)
_A = TypeVar("_A")
_B = TypeVar("_B")

Clock = Callable[[], datetime]
"""A source of the current time; operators that measure time read it from a scheduler."""


class Step(Protocol[_A_contra, _B_co]):
    """Per-subscription state machine of a stateful operator."""

    def step(self, value: _A_contra, emit: Callable[[_B_co], None], /) -> None:
        """Handle one input value, calling ``emit`` for each output."""

    def finish(self, emit: Callable[[_B_co], None], /) -> None:
        """Handle completion of the source, calling ``emit`` for each trailing output."""


def resolve_clock(
    explicit: abc.SchedulerBase | None, subscribe_scheduler: abc.SchedulerBase | None
) -> Clock:
    """The clock a time-measuring operator reads.

    The scheduler passed to the operator wins, then the scheduler given to ``subscribe`` (a
    ``TestScheduler`` in marble tests, the loop-bound scheduler for a live session), then the
    wall clock in UTC.
    """
    scheduler = explicit or subscribe_scheduler or CurrentThreadScheduler.singleton()
    return lambda: scheduler.now


def stateful(
    factory: Callable[[Clock], Step[_A, _B]],
    *,
    scheduler: abc.SchedulerBase | None = None,
) -> Callable[[Observable[_A]], Observable[_B]]:
    """Build a pipeable operator from a step factory called once per subscription.

    ``factory`` receives the clock resolved by :func:`resolve_clock` from ``scheduler`` and the
    subscriber's scheduler; operators that do not measure time ignore it.
    """

    def operator(source: Observable[_A]) -> Observable[_B]:
        def subscribe(
            observer: abc.ObserverBase[_B], subscribe_scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            machine = factory(resolve_clock(scheduler, subscribe_scheduler))

            def run(action: Callable[[Callable[[_B], None]], None]) -> bool:
                pending: list[_B] = []
                try:
                    action(pending.append)
                except Exception as error:  # a bug in the step: surface it, don't hide it
                    observer.on_error(error)
                    return False
                for value in pending:
                    observer.on_next(value)
                return True

            def on_next(value: _A) -> None:
                run(lambda emit: machine.step(value, emit))

            def on_completed() -> None:
                if run(machine.finish):
                    observer.on_completed()

            return source.subscribe(
                on_next, observer.on_error, on_completed, scheduler=subscribe_scheduler
            )

        return Observable(subscribe)

    return operator
