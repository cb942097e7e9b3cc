"""Pins every reactivex/asyncio behaviour ``rxrealtime._compat`` relies on.

If one of these fails after upgrading reactivex (or Python), the shortcut named in the test no
longer holds: fix ``rxrealtime/_compat.py`` (and only it), don't loosen the test.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import reactivex
from reactivex import abc
from reactivex import operators as rops
from reactivex.disposable import Disposable

from rxrealtime import _compat


def test_running_loop_is_none_off_the_loop_and_the_loop_on_it() -> None:
    assert _compat.running_loop() is None
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(_on_loop()) is loop
    finally:
        loop.close()
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(_compat.running_loop()))
    thread.start()
    thread.join()
    assert seen == [None]


async def _on_loop() -> asyncio.AbstractEventLoop | None:
    return _compat.running_loop()


def _captured_observer(*args: Any) -> abc.ObserverBase[Any]:
    """The observer reactivex hands a subscribe function for ``subscribe(*args)``."""
    captured: list[abc.ObserverBase[Any]] = []

    def subscribe(observer: abc.ObserverBase[Any], _: abc.SchedulerBase | None) -> Any:
        captured.append(observer)
        return Disposable()

    reactivex.Observable(subscribe).subscribe(*args)
    return captured[0]


def test_subscribers_arrive_wrapped_and_the_direct_call_reaches_their_callback() -> None:
    got: list[int] = []
    observer = _captured_observer(got.append)
    direct = _compat.direct_on_next(observer)
    assert direct is not observer.on_next  # the shortcut is taken (not the bound fallback)
    direct(1)
    assert got == [1]
    # what the shortcut skips is only the is_stopped re-check: on_next delivers the same way
    observer.on_next(2)
    assert got == [1, 2]
    observer.dispose()
    observer.on_next(3)  # stopped: on_next drops it (a session guard does this itself)
    assert got == [1, 2]


def test_an_operator_pipeline_subscribes_through_the_same_wrapper() -> None:
    """What a session sees for ``events.pipe(op).subscribe(...)``: the shortcut applies too."""
    got: list[int] = []
    captured: list[abc.ObserverBase[int]] = []

    def subscribe(observer: abc.ObserverBase[int], _: abc.SchedulerBase | None) -> Any:
        captured.append(observer)
        return Disposable()

    reactivex.Observable(subscribe).pipe(rops.map(lambda x: x * 10)).subscribe(got.append)
    _compat.direct_on_next(captured[0])(4)
    assert got == [40]


def test_other_observers_keep_their_own_on_next() -> None:
    got: list[int] = []
    observer = reactivex.Observer(got.append)
    _compat.direct_on_next(observer)(5)
    assert got == [5]


def test_the_subscribe_function_of_an_observable_runs_its_subscriptions() -> None:
    source = reactivex.of(1, 2, 3).pipe(rops.map(lambda x: x + 1))
    core = _compat.subscribe_function(source)
    rewrapped: reactivex.Observable[int] = reactivex.Observable(core)
    got: list[int] = []
    rewrapped.subscribe(got.append)
    assert got == [2, 3, 4]


def test_first_of_nothing_raises_the_exported_class() -> None:
    errors: list[Exception] = []
    reactivex.empty().pipe(rops.first()).subscribe(on_error=errors.append)
    assert isinstance(errors[0], _compat.SequenceContainsNoElementsError)


def test_periodic_scheduler_builds_periodic_work_on_schedule_relative() -> None:
    class Manual(_compat.PeriodicScheduler):
        """Runs what is scheduled only when told to (records relative waits)."""

        def __init__(self) -> None:
            super().__init__()
            self.due: list[tuple[float, Any, Any]] = []

        def schedule(self, action: Any, state: Any = None) -> abc.DisposableBase:
            return self.schedule_relative(0.0, action, state)

        def schedule_relative(
            self, duetime: Any, action: Any, state: Any = None
        ) -> abc.DisposableBase:
            self.due.append((self.to_seconds(duetime), action, state))
            return Disposable()

        def schedule_absolute(
            self, duetime: Any, action: Any, state: Any = None
        ) -> abc.DisposableBase:
            return self.schedule_relative(self.to_datetime(duetime) - self.now, action, state)

        def step(self) -> None:
            _, action, state = self.due.pop(0)
            self.invoke_action(action, state=state)

    scheduler = Manual()
    ticks: list[int] = []

    def tick(state: Any) -> int:
        ticks.append(state)
        return int(state) + 1

    scheduler.schedule_periodic(timedelta(seconds=0.5), tick, 0)
    for _ in range(3):
        scheduler.step()
    assert ticks == [0, 1, 2]
    assert 0 < scheduler.due[0][0] <= 0.5  # the next tick, less the time the last one took


def test_observer_subclass_hooks_and_is_stopped() -> None:
    """The sinks' contract with ``reactivex.Observer``: the ``_core`` hooks and ``is_stopped``."""

    class Recording(_compat.Observer[int]):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[object] = []

        def _on_next_core(self, value: int) -> None:
            self.calls.append(value)

        def _on_error_core(self, error: Exception) -> None:
            self.calls.append(error)

        def _on_completed_core(self) -> None:
            self.calls.append("completed")

    sink = Recording()
    assert sink.is_stopped is False
    sink.on_next(1)
    sink.on_completed()
    sink.on_next(2)  # stopped: ignored
    sink.on_completed()  # once only
    assert sink.calls == [1, "completed"] and sink.is_stopped

    failed = Recording()
    error = ValueError("x")
    failed.on_error(error)
    failed.on_error(error)
    assert failed.calls == [error]

    disposed = Recording()
    disposed.dispose()
    assert disposed.is_stopped
    disposed.on_next(3)
    assert disposed.calls == []

    stopped_by_hand = Recording()
    stopped_by_hand.is_stopped = True  # how a sink closes itself
    stopped_by_hand.on_next(4)
    assert stopped_by_hand.calls == []
