"""Thread hops: blocking sinks on a worker thread, fed from the loop without blocking it
(see :mod:`rxrealtime.scheduling`).

Two rules beside the overflow policies:

* **Drops are counted and logged.** A value a full hop discards (``drop_oldest``,
  ``drop_newest``) is counted in ``statistics().dropped`` and logged on the ``rxrealtime``
  logger (the first drop and every 1000th). They are the hop's own: a session's
  ``statistics().dropped`` counts only the session's buffers.
* **A stuck sink never holds anyone after the end.** Once the hop is ended (``on_completed``,
  ``on_error``, an overflow with ``error``/``block``, ``dispose``) it takes no more values, so it
  stops holding back-pressure at once, even while its sink is stuck in a call: the producer
  (a session's receive loop, and everything else on the loop) is never held by an ended hop.
  What is queued still waits for the sink; if the sink never returns, the daemon worker is
  abandoned (logged). A session's ``close()`` does not wait for back-pressure either (see
  :class:`~rxrealtime.session.RealtimeSession`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs
from reactivex import abc

from rxrealtime._compat import running_loop
from rxrealtime.errors import BufferOverflowError
from rxrealtime.scheduling.loop import Backpressure
from rxrealtime.scheduling.overflow import End, Overflow, check_policy

__all__ = ["HopStatistics", "ThreadObserver", "observe_on_thread"]

_T = TypeVar("_T")
log = logging.getLogger("rxrealtime")

_LOG_DROPS_EVERY = 1000
"""After the first drop, one in this many is logged."""


@attrs.frozen
class HopStatistics:
    """Snapshot of a :class:`ThreadObserver`."""

    delivered: int
    dropped: int
    queued: int
    max_queued: int
    sink_errors: int
    done: bool


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
        check_policy(maxsize, overflow)
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
            self._count_drop_locked()
            return False
        if policy == "drop_oldest":
            self._queue.popleft()
            self._count_drop_locked()
            return True
        loop = running_loop()
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

    def _count_drop_locked(self) -> None:
        self._dropped += 1
        if self._dropped == 1 or self._dropped % _LOG_DROPS_EVERY == 0:
            log.warning(
                "rxrealtime thread hop %s dropped %d value(s) so far (%s, maxsize %d): "
                "its sink is slower than the stream",
                self._thread.name,
                self._dropped,
                self.overflow,
                self.maxsize,
            )

    def _stop_locked(self, end: End) -> None:
        """Take no more values; queue ``end``; stop holding back-pressure (see the rules)."""
        self._stopped = True
        self._queue.append(end)
        self._cond.notify_all()
        if self._gate is not None:
            if end.error is not _DISPOSED:
                log.warning(
                    "rxrealtime thread hop %s ended while its sink is %d value(s) behind; it "
                    "no longer holds the stream back (a sink that never returns is abandoned)",
                    self._thread.name,
                    sum(1 for v in self._queue if not isinstance(v, End)),
                )
            self._maybe_release_locked(force=True)

    def _fail_locked(self, error: Exception) -> None:
        self._stop_locked(End(error))

    def on_error(self, error: Exception) -> None:
        with self._cond:
            if not self._stopped:
                self._fail_locked(error)

    def on_completed(self) -> None:
        with self._cond:
            if not self._stopped:
                self._stop_locked(End(None))

    def dispose(self) -> None:
        """Stop now: queued values are discarded, the sink gets no terminal notification."""
        with self._cond:
            self._dropped += sum(1 for v in self._queue if not isinstance(v, End))
            self._queue.clear()
            self._stop_locked(End(_DISPOSED))

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
                if isinstance(item, End):
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
                queued=sum(1 for v in self._queue if not isinstance(v, End)),
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
