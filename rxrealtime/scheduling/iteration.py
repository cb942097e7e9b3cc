"""Async iteration over Observables: a bounded, loop-bound queue observer and its iterator
(see :mod:`rxrealtime.scheduling`)."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

import reactivex
from reactivex import abc

from rxrealtime._compat import running_loop
from rxrealtime.errors import BufferOverflowError
from rxrealtime.scheduling.loop import Backpressure, LoopScheduler
from rxrealtime.scheduling.overflow import End, Overflow, check_policy

__all__ = ["LoopQueueObserver", "ObservableIterator", "to_async_iterable"]

_T = TypeVar("_T")


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
        check_policy(maxsize, overflow)
        self._loop = loop
        self.maxsize, self.overflow = maxsize, overflow
        self._gate = gate or Backpressure.for_loop(loop)
        self._queue: collections.deque[_T] = collections.deque()
        self._terminal: End | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._holding = False
        self.dropped = 0
        self._closed = False
        self.on_close: Callable[[], None] | None = None

    def on_next(self, value: _T) -> None:
        if running_loop() is not self._loop:
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
                self._end(End(error))
                raise error
        queue.append(value)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_error(self, error: Exception) -> None:
        self._end_threadsafe(End(error))

    def on_completed(self) -> None:
        self._end_threadsafe(End(None))

    def _end_threadsafe(self, terminal: End) -> None:
        if running_loop() is not self._loop:
            self._loop.call_soon_threadsafe(self._end, terminal)
        else:
            self._end(terminal)

    def _end(self, terminal: End) -> None:
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
            if running_loop() is loop:
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
