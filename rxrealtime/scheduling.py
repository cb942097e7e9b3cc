"""The bridge between asyncio and Rx: a loop-bound scheduler, back-pressure, thread hops,
and awaiting Observables from async code.

Threads
    Everything a session emits is delivered on its event loop's thread. :class:`LoopScheduler`
    runs scheduled work (``delay``, ``debounce``, ``buffer_with_time``, ``timeout``, …) on that
    same thread: ``call_soon``/``call_later`` when scheduled from the loop thread, their
    ``*_threadsafe`` forms from any other thread. Sessions subscribe with it, so operators
    applied with ``session.events.pipe(...)`` need no ``scheduler=`` argument; for other
    Observables pass ``scheduler=LoopScheduler.current()``.

Overflow policies (``Overflow``), shared by :func:`observe_on_thread`, :func:`to_async_iterable`
and the session's own iterators; each buffer holds at most ``maxsize`` values:

``"block"``
    Back-pressure, never blocking the event loop: when the buffer is full the value is still
    accepted and the buffer *holds* a :class:`Backpressure` gate; producers that honour the gate
    (every rxrealtime session's receive loop does, before reading its next frame) suspend with
    ``await`` until the consumer drains below ``maxsize``, so the socket (then TCP) pushes back
    on the server. A producer that ignores the gate can overfill the buffer up to
    ``2 * maxsize``; past that the buffer fails as with ``"error"``. Producing from a thread
    with no event loop really blocks that thread until there is room.
``"drop_oldest"`` / ``"drop_newest"``
    The oldest queued value (resp. the new one) is discarded and counted in ``dropped``.
``"error"``
    The buffer fails: the consumer receives :class:`~rxrealtime.errors.BufferOverflowError`
    after the values already queued, and ``on_next`` raises it to the producer (a session logs
    it and detaches that subscriber).

Awaiting
    :func:`first`, :func:`last`, :func:`to_list` and :func:`to_async_iterable` subscribe on the
    running loop and never block it, never call ``asyncio.run``: they work in Jupyter's loop.
    Cancelling the awaiting task disposes the subscription.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, ClassVar, Final, Generic, Literal, TypeVar, cast

import attrs
import reactivex
from reactivex import abc, typing
from reactivex.disposable import CompositeDisposable, Disposable, SingleAssignmentDisposable
from reactivex.internal.exceptions import SequenceContainsNoElementsError
from reactivex.scheduler.periodicscheduler import PeriodicScheduler

from rxrealtime.errors import BufferOverflowError

__all__ = [
    "Backpressure",
    "HopStatistics",
    "LoopScheduler",
    "Overflow",
    "SequenceContainsNoElementsError",
    "ThreadObserver",
    "first",
    "last",
    "observe_on_thread",
    "to_async_iterable",
    "to_list",
]

_T = TypeVar("_T")
_TState = TypeVar("_TState")
Overflow = Literal["block", "drop_oldest", "drop_newest", "error"]
_POLICIES: Final = frozenset({"block", "drop_oldest", "drop_newest", "error"})
_MISSING: Any = object()
log = logging.getLogger("rxrealtime")

_running_loop = asyncio.events._get_running_loop


def _check_policy(maxsize: int, overflow: str) -> None:
    if overflow not in _POLICIES:
        raise ValueError(f"overflow must be one of {sorted(_POLICIES)}, not {overflow!r}")
    if maxsize < 1:
        raise ValueError("maxsize must be >= 1")


# ---------------------------------------------------------------------------------------------
# scheduler


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
        return _running_loop() is self._loop

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
    """A gate producers await before producing more; consumers hold it while they are full.

    All methods are called on the loop thread (consumers on other threads hop with
    ``call_soon_threadsafe``). :meth:`for_loop` returns the gate shared by everything on a loop;
    a session also has its own gate for its iterators.
    """

    _instances: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Backpressure]] = (
        weakref.WeakKeyDictionary()
    )

    __slots__ = ("__weakref__", "_holders", "_open")

    def __init__(self) -> None:
        self._holders: dict[int, object] = {}
        self._open: asyncio.Event | None = None

    @classmethod
    def for_loop(cls, loop: asyncio.AbstractEventLoop) -> Backpressure:
        gate = cls._instances.get(loop)
        if gate is None:
            gate = cls._instances[loop] = cls()
        return gate

    @property
    def blocked(self) -> bool:
        return bool(self._holders)

    def hold(self, holder: object) -> None:
        self._holders[id(holder)] = holder
        if self._open is not None:
            self._open.clear()

    def release(self, holder: object) -> None:
        self._holders.pop(id(holder), None)
        if not self._holders and self._open is not None:
            self._open.set()

    async def wait(self) -> None:
        """Return once no consumer holds the gate (immediately if none does)."""
        if not self._holders:
            return
        if self._open is None:
            self._open = asyncio.Event()
        self._open.clear()
        await self._open.wait()


# ---------------------------------------------------------------------------------------------
# thread hop


@attrs.frozen
class HopStatistics:
    """Snapshot of a :class:`ThreadObserver`."""

    delivered: int
    dropped: int
    queued: int
    max_queued: int
    sink_errors: int
    done: bool


class _Terminal:
    __slots__ = ("error",)

    def __init__(self, error: Exception | None) -> None:
        self.error = error


class ThreadObserver(abc.ObserverBase[_T], Generic[_T]):
    """An observer that queues values and delivers them to a blocking sink on a worker thread.

    Ordering: the sink sees values in the order ``on_next`` accepted them, then at most one
    terminal notification. ``on_next`` never blocks an event loop (see the module docstring
    for the overflow policies). An exception from the sink is logged on the ``rxrealtime``
    logger, counted, and ends the hop (later values are discarded). :meth:`dispose` discards
    what is queued and stops the worker. The worker is a daemon thread named ``name``.
    """

    def __init__(
        self,
        on_next: Callable[[_T], object],
        on_error: Callable[[Exception], object] | None = None,
        on_completed: Callable[[], object] | None = None,
        *,
        maxsize: int = 1024,
        overflow: Overflow = "block",
        name: str | None = None,
    ) -> None:
        _check_policy(maxsize, overflow)
        self._sink_next, self._sink_error, self._sink_completed = on_next, on_error, on_completed
        self.maxsize, self.overflow = maxsize, overflow
        self._queue: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._stopped = False  # no more values accepted
        self._done = False  # worker finished
        self._delivered = self._dropped = self._max = self._sink_errors = 0
        # (loop, gate, token): the token makes a late release from the worker harmless
        self._gate: tuple[asyncio.AbstractEventLoop, Backpressure, object] | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._thread = threading.Thread(
            target=self._work, name=name or "rxrealtime-hop", daemon=True
        )
        self._thread.start()

    # -- producer side (any thread; normally the loop thread) --------------------------------

    def on_next(self, value: _T) -> None:
        with self._cond:
            if self._stopped:
                return
            size = len(self._queue)
            if size >= self.maxsize and not self._overflow_locked(size):
                return
            self._queue.append(value)
            self._max = max(self._max, len(self._queue))
            self._cond.notify()

    def _overflow_locked(self, size: int) -> bool:
        """Apply the policy to a full queue; return False to discard the new value."""
        policy = self.overflow
        if policy == "drop_newest":
            self._dropped += 1
            return False
        if policy == "drop_oldest":
            self._queue.popleft()
            self._dropped += 1
            return True
        loop = _running_loop()
        if policy == "block" and loop is None:
            while len(self._queue) >= self.maxsize and not self._stopped:
                self._cond.wait()
            return not self._stopped
        if policy == "block" and size < 2 * self.maxsize:
            if self._gate is None:
                gate, token = Backpressure.for_loop(loop), object()  # type: ignore[arg-type]
                gate.hold(token)
                self._gate = (loop, gate, token)  # type: ignore[assignment]
            return True
        self._fail_locked(BufferOverflowError(f"thread hop buffer full ({self.maxsize} values)"))
        raise BufferOverflowError(f"thread hop buffer full ({self.maxsize} values)")

    def _fail_locked(self, error: Exception) -> None:
        self._stopped = True
        self._queue.append(_Terminal(error))
        self._cond.notify_all()

    def on_error(self, error: Exception) -> None:
        with self._cond:
            if not self._stopped:
                self._fail_locked(error)

    def on_completed(self) -> None:
        with self._cond:
            if not self._stopped:
                self._stopped = True
                self._queue.append(_Terminal(None))
                self._cond.notify_all()

    def dispose(self) -> None:
        """Stop now: queued values are discarded, the sink gets no terminal notification."""
        with self._cond:
            self._stopped = True
            self._dropped += sum(1 for v in self._queue if not isinstance(v, _Terminal))
            self._queue.clear()
            self._queue.append(_Terminal(_DISPOSED))
            self._cond.notify_all()

    # -- worker ------------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._queue:
                        self._cond.wait()
                    item = self._queue.popleft()
                    self._cond.notify_all()  # wake a thread producer blocked on "block"
                    self._maybe_release_locked()
                if isinstance(item, _Terminal):
                    self._finish(item.error)
                    return
                try:
                    self._sink_next(item)
                except Exception:
                    self._sink_errors += 1
                    log.exception("thread-hop sink raised; the hop is stopped")
                    self.dispose()
                    continue
                self._delivered += 1
        finally:
            with self._cond:
                self._done = True
                self._queue.clear()
                self._maybe_release_locked(force=True)
                waiters, self._waiters = self._waiters, []
            for loop, fut in waiters:
                _resolve_threadsafe(loop, fut)

    def _finish(self, error: Exception | None) -> None:
        try:
            if error is _DISPOSED:
                return
            if error is None:
                if self._sink_completed is not None:
                    self._sink_completed()
            elif self._sink_error is not None:
                self._sink_error(error)
            else:
                log.error("thread-hop sink ended with an error: %r", error)
        except Exception:
            self._sink_errors += 1
            log.exception("thread-hop sink raised in its terminal handler")

    def _maybe_release_locked(self, force: bool = False) -> None:
        if self._gate is not None and (force or len(self._queue) < self.maxsize):
            loop, gate, token = self._gate
            self._gate = None
            if not loop.is_closed():
                loop.call_soon_threadsafe(gate.release, token)

    # -- observation -------------------------------------------------------------------------

    def statistics(self) -> HopStatistics:
        with self._cond:
            return HopStatistics(
                delivered=self._delivered,
                dropped=self._dropped,
                queued=sum(1 for v in self._queue if not isinstance(v, _Terminal)),
                max_queued=self._max,
                sink_errors=self._sink_errors,
                done=self._done,
            )

    async def wait_done(self) -> None:
        """Wait, without blocking the loop, until the worker has delivered its terminal
        notification (or was disposed) and exited."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._done:
                return
            self._waiters.append((loop, fut))
        await fut

    def join(self, timeout: float | None = None) -> bool:
        """Block the calling thread (never the loop's) until the worker exits."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


_DISPOSED = Exception("disposed")


def _resolve_threadsafe(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> None:
    def resolve() -> None:
        if not fut.done():
            fut.set_result(None)

    if not loop.is_closed():
        loop.call_soon_threadsafe(resolve)


def observe_on_thread(
    sink: abc.ObserverBase[_T] | Callable[[_T], object],
    on_error: Callable[[Exception], object] | None = None,
    on_completed: Callable[[], object] | None = None,
    *,
    maxsize: int = 1024,
    overflow: Overflow = "block",
    name: str | None = None,
) -> ThreadObserver[_T]:
    """Return an observer that runs a blocking ``sink`` on its own worker thread.

    ``sink`` is an observer or an ``on_next`` callable (with optional ``on_error`` and
    ``on_completed``). Subscribe the result where you would subscribe the sink::

        hop = observe_on_thread(write_to_disk, maxsize=256, overflow="drop_oldest")
        session.events.subscribe(hop)

    See the module docstring for ``overflow``. Await ``hop.wait_done()`` to know the sink saw
    the end of the stream.
    """
    if isinstance(sink, abc.ObserverBase):
        return ThreadObserver(
            sink.on_next,
            sink.on_error,
            sink.on_completed,
            maxsize=maxsize,
            overflow=overflow,
            name=name,
        )
    return ThreadObserver(
        sink, on_error, on_completed, maxsize=maxsize, overflow=overflow, name=name
    )


# ---------------------------------------------------------------------------------------------
# async iteration


class LoopQueueObserver(abc.ObserverBase[_T], Generic[_T]):
    """An observer feeding an async iterator on one loop, with a bounded buffer.

    ``on_next`` may be called from the loop thread (the normal case) or any other thread (it
    then hops with ``call_soon_threadsafe``). The iterator yields the values in order, then
    stops on completion or raises the error. Used by :func:`to_async_iterable` and by a
    session's ``async for``.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        maxsize: int,
        overflow: Overflow,
        gate: Backpressure | None = None,
    ) -> None:
        _check_policy(maxsize, overflow)
        self._loop = loop
        self.maxsize, self.overflow = maxsize, overflow
        self._gate = gate or Backpressure.for_loop(loop)
        self._queue: collections.deque[_T] = collections.deque()
        self._terminal: _Terminal | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._holding = False
        self.dropped = 0
        self._closed = False
        self.on_close: Callable[[], None] | None = None

    def on_next(self, value: _T) -> None:
        if _running_loop() is not self._loop:
            self._loop.call_soon_threadsafe(self.on_next, value)
            return
        if self._closed or self._terminal is not None:
            return
        queue = self._queue
        if len(queue) >= self.maxsize:
            policy = self.overflow
            if policy == "drop_newest":
                self.dropped += 1
                return
            if policy == "drop_oldest":
                queue.popleft()
                self.dropped += 1
            elif policy == "block" and len(queue) < 2 * self.maxsize:
                if not self._holding:
                    self._holding = True
                    self._gate.hold(self)
            else:
                error = BufferOverflowError(f"async iterator buffer full ({self.maxsize} values)")
                self._end(_Terminal(error))
                raise error
        queue.append(value)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_error(self, error: Exception) -> None:
        self._end_threadsafe(_Terminal(error))

    def on_completed(self) -> None:
        self._end_threadsafe(_Terminal(None))

    def _end_threadsafe(self, terminal: _Terminal) -> None:
        if _running_loop() is not self._loop:
            self._loop.call_soon_threadsafe(self._end, terminal)
        else:
            self._end(terminal)

    def _end(self, terminal: _Terminal) -> None:
        if self._terminal is None:
            self._terminal = terminal
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> _T:
        """The next value; raises ``StopAsyncIteration`` at the end or the stream's error."""
        while True:
            if self._queue:
                value = self._queue.popleft()
                if self._holding and len(self._queue) < self.maxsize:
                    self._holding = False
                    self._gate.release(self)
                return value
            terminal = self._terminal
            if terminal is not None or self._closed:
                self._release()
                if terminal is not None and terminal.error is not None:
                    raise terminal.error
                raise StopAsyncIteration
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    @property
    def buffered(self) -> int:
        return len(self._queue)

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self._gate.release(self)

    def close(self) -> None:
        """Stop: drop what is queued, release the gate, run ``on_close`` once."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._release()
        callback, self.on_close = self.on_close, None
        if callback is not None:
            callback()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class ObservableIterator(AsyncIterator[_T]):
    """Async iterator over an Observable; closing it (``aclose``, ``async with``, or dropping
    the last reference) disposes the subscription."""

    def __init__(self, observer: LoopQueueObserver[_T], subscription: abc.DisposableBase) -> None:
        self._observer = observer
        self._subscription = subscription
        observer.on_close = subscription.dispose

    def __aiter__(self) -> ObservableIterator[_T]:
        return self

    async def __anext__(self) -> _T:
        try:
            return await self._observer.get()
        except StopAsyncIteration:
            self._observer.close()
            raise
        except BaseException:
            self._observer.close()
            raise

    async def aclose(self) -> None:
        self._observer.close()

    async def __aenter__(self) -> ObservableIterator[_T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._observer.close()

    def __del__(self) -> None:
        observer = getattr(self, "_observer", None)
        if observer is not None and not observer._closed:
            loop = observer._loop
            if _running_loop() is loop:
                observer.close()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(observer.close)


def to_async_iterable(
    source: reactivex.Observable[_T],
    *,
    maxsize: int = 1024,
    overflow: Overflow = "block",
) -> ObservableIterator[_T]:
    """Subscribe to ``source`` now (on the running loop's scheduler) and iterate its values.

    ``async for x in to_async_iterable(obs): ...`` yields every value in order, ends on
    completion, raises the error on error. Values arriving faster than the loop body consumes
    them are buffered (``maxsize``) under the ``overflow`` policy. Must be called with a
    running loop.
    """
    loop = asyncio.get_running_loop()
    observer: LoopQueueObserver[_T] = LoopQueueObserver(loop, maxsize=maxsize, overflow=overflow)
    subscription = source.subscribe(observer, scheduler=LoopScheduler.for_loop(loop))
    return ObservableIterator(observer, subscription)


# ---------------------------------------------------------------------------------------------
# awaiting


def _collect(
    source: reactivex.Observable[_T], keep: Literal["first", "last", "all"]
) -> asyncio.Future[list[_T]]:
    """Subscribe to ``source`` now, on the running loop, and return a future of its values.

    The subscription is made before this returns, so a hot source (``session.events``) cannot
    deliver the awaited event in the gap between the call and the ``await``. The subscription is
    disposed when the future settles, and cancelling the future disposes it too (as a
    done-callback, so on the loop's next turns).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[_T]] = loop.create_future()
    values: list[_T] = []

    def settle(error: Exception | None) -> None:
        if done.done():
            return
        if error is None:
            done.set_result(values)
        else:
            done.set_exception(error)

    def push(value: _T) -> None:
        if done.done():
            return
        if keep == "last":
            values[:] = [value]
            return
        values.append(value)
        if keep == "first":
            done.set_result(values)

    def on_loop(fn: Callable[..., None], *args: Any) -> None:
        if _running_loop() is loop:
            fn(*args)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    subscription = source.subscribe(
        lambda v: on_loop(push, v),
        lambda e: on_loop(settle, e),
        lambda: on_loop(settle, None),
        scheduler=LoopScheduler.for_loop(loop),
    )
    done.add_done_callback(lambda _: subscription.dispose())
    return done


def _pick_one(future: asyncio.Future[list[_T]], default: Any) -> asyncio.Future[_T]:
    """A future of the single value ``future`` collects (or ``default``); cancelling it
    cancels ``future`` and so disposes the subscription."""
    result: asyncio.Future[_T] = future.get_loop().create_future()

    def transfer(source: asyncio.Future[list[_T]]) -> None:
        if result.done():
            return
        if source.cancelled():
            result.cancel()
        elif (error := source.exception()) is not None:
            result.set_exception(error)
        else:
            try:
                result.set_result(_one(source.result(), default))
            except SequenceContainsNoElementsError as empty:
                result.set_exception(empty)

    future.add_done_callback(transfer)
    result.add_done_callback(lambda r: future.cancel() if r.cancelled() else None)
    return result


def _one(values: list[_T], default: Any) -> _T:
    if values:
        return values[0]
    if default is _MISSING:
        raise SequenceContainsNoElementsError()
    return cast(_T, default)


def first(source: reactivex.Observable[_T], *, default: Any = _MISSING) -> asyncio.Future[_T]:
    """A future of the first value of ``source``; ``default`` (or
    ``SequenceContainsNoElementsError``) when it completes empty.

    Subscribes at call time (call it *before* sending the request whose answer you await)
    and disposes the subscription once the value is there. Must be called on a running loop.
    """
    return _pick_one(_collect(source, "first"), default)


def last(source: reactivex.Observable[_T], *, default: Any = _MISSING) -> asyncio.Future[_T]:
    """A future of the last value of ``source`` once it completes (subscribes at call time;
    see :func:`first` for ``default``)."""
    return _pick_one(_collect(source, "last"), default)


def to_list(source: reactivex.Observable[_T]) -> asyncio.Future[list[_T]]:
    """A future of every value of ``source``, once it completes; fails with its error.
    Subscribes at call time."""
    return _collect(source, "all")
