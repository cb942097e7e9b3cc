"""The loop-bound scheduler and the back-pressure gate (see :mod:`rxrealtime.scheduling`)."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar, TypeVar

from reactivex import abc, typing
from reactivex.disposable import CompositeDisposable, Disposable, SingleAssignmentDisposable

from rxrealtime._compat import PeriodicScheduler, running_loop

__all__ = ["Backpressure", "LoopScheduler"]

_TState = TypeVar("_TState")


class LoopScheduler(PeriodicScheduler):
    """A reactivex scheduler that runs every action on one asyncio event loop's thread.

    Safe to call from any thread. ``now`` is wall-clock UTC (like reactivex's own schedulers);
    relative waits use the loop's monotonic clock. Disposing a scheduled item cancels it if it
    has not run yet (from another thread the cancellation itself hops onto the loop).
    One instance per loop: use :meth:`for_loop` or :meth:`current`.
    """

    _instances: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopScheduler]] = (
        weakref.WeakKeyDictionary()
    )
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop

    @classmethod
    def for_loop(cls, loop: asyncio.AbstractEventLoop) -> LoopScheduler:
        """The scheduler bound to ``loop`` (created once per loop)."""
        with cls._instances_lock:
            scheduler = cls._instances.get(loop)
            if scheduler is None:
                scheduler = cls._instances[loop] = cls(loop)
            return scheduler

    @classmethod
    def current(cls) -> LoopScheduler:
        """The scheduler of the running loop (call from async code or a loop callback)."""
        return cls.for_loop(asyncio.get_running_loop())

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def _on_loop(self) -> bool:
        return running_loop() is self._loop

    def schedule(
        self, action: typing.ScheduledAction[_TState], state: _TState | None = None
    ) -> abc.DisposableBase:
        return self._call_later(0.0, action, state)

    def schedule_relative(
        self,
        duetime: typing.RelativeTime,
        action: typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        return self._call_later(max(0.0, self.to_seconds(duetime)), action, state)

    def schedule_absolute(
        self,
        duetime: typing.AbsoluteTime,
        action: typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        return self.schedule_relative(self.to_datetime(duetime) - self.now, action, state)

    @property
    def now(self) -> datetime:
        return super().now

    def _call_later(
        self, delay: float, action: typing.ScheduledAction[_TState], state: _TState | None
    ) -> abc.DisposableBase:
        sad = SingleAssignmentDisposable()
        handle: asyncio.Handle | None = None
        cancelled = False

        def run() -> None:
            if not cancelled:
                sad.disposable = self.invoke_action(action, state=state)

        def arm() -> None:
            nonlocal handle
            if cancelled:
                return
            loop = self._loop
            handle = loop.call_later(delay, run) if delay > 0 else loop.call_soon(run)

        def cancel() -> None:
            nonlocal cancelled
            cancelled = True
            if handle is not None:
                handle.cancel()

        def dispose() -> None:
            if self._on_loop():
                cancel()
            elif not self._loop.is_closed():
                self._loop.call_soon_threadsafe(cancel)

        if self._on_loop():
            arm()
        else:
            self._loop.call_soon_threadsafe(arm)
        return CompositeDisposable(sad, Disposable(dispose))


# ---------------------------------------------------------------------------------------------
# back-pressure


class Backpressure:
    """A gate producers respect before producing more; consumers hold it while they are full.

    All methods are called on the loop thread (consumers on other threads hop with
    ``call_soon_threadsafe``). :meth:`for_loop` returns the gate shared by everything on a loop;
    a session also has its own gate for its iterators.

    A producer either awaits :meth:`wait` (a session's receive task) or, when it cannot await
    (a replay driven by a scheduler), registers :meth:`when_open` and holds its values back
    meanwhile. ``holders`` (read it, never change it) is empty exactly when the gate is open,
    so a hot loop may test it without a call.
    """

    _instances: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Backpressure]] = (
        weakref.WeakKeyDictionary()
    )

    __slots__ = ("__weakref__", "_callbacks", "_open", "holders")

    def __init__(self) -> None:
        self.holders: dict[int, object] = {}
        self._open: asyncio.Event | None = None
        self._callbacks: list[Callable[[], object]] = []

    @classmethod
    def for_loop(cls, loop: asyncio.AbstractEventLoop) -> Backpressure:
        """The gate shared by every producer and consumer on ``loop``."""
        gate = cls._instances.get(loop)
        if gate is None:
            gate = cls._instances[loop] = cls()
        return gate

    @property
    def blocked(self) -> bool:
        """Whether some consumer holds the gate."""
        return bool(self.holders)

    def hold(self, holder: object) -> None:
        """Close the gate on behalf of ``holder`` (idempotent per holder)."""
        self.holders[id(holder)] = holder
        if self._open is not None:
            self._open.clear()

    def release(self, holder: object) -> None:
        """Withdraw ``holder``; when nobody holds the gate any more, wake every waiter and run
        the :meth:`when_open` callbacks (once each, in registration order)."""
        self.holders.pop(id(holder), None)
        if not self.holders:
            if self._open is not None:
                self._open.set()
            if self._callbacks:
                callbacks, self._callbacks = self._callbacks, []
                for callback in callbacks:
                    callback()

    def when_open(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once, as soon as nobody holds the gate: at once if nobody does,
        otherwise from the :meth:`release` that opens it (keep it short: schedule work)."""
        if not self.holders:
            callback()
        else:
            self._callbacks.append(callback)

    async def wait(self) -> None:
        """Return once no consumer holds the gate (immediately if none does)."""
        if not self.holders:
            return
        if self._open is None:
            self._open = asyncio.Event()
        self._open.clear()
        await self._open.wait()
