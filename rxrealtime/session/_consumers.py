"""The consumer side of :class:`~rxrealtime.session.hub.EventHub`: its base class.

:class:`Consumers` holds who listens — Rx subscribers (each behind a guard), bounded async
iterators, the one shared ``recv()`` queue — and the backlog kept for the first of them. It
delivers an event to all of them under the guards, hands the backlog over, lets consumers join,
and ends every consumer when the stream ends. The producer side (counting what is received and
sent, keeping the backlog, :meth:`~rxrealtime.session.hub.EventHub.end`) and the statistics are
the hub's own; the rules both follow are stated in :mod:`rxrealtime.session.hub`. Private to
the session package: other code uses the hub.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

from reactivex import abc
from reactivex.disposable import Disposable

from rxrealtime import events as ev
from rxrealtime._compat import direct_on_next
from rxrealtime.errors import ConnectionClosed, ConnectionClosedOK, redact
from rxrealtime.scheduling import LoopQueueObserver, ObservableIterator, Overflow
from rxrealtime.scheduling.loop import Backpressure

__all__ = ["PROPAGATED", "Consumers", "Frame"]

log = logging.getLogger("rxrealtime")

PROPAGATED: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit)
"""What a consumer may raise through the hub (see Guards in :mod:`rxrealtime.session.hub`);
anything else is its own error."""

Frame = str | bytes | bytearray | memoryview
"""A frame as received: text, or bytes-like (binary frames, and text frames the fast receive
path hands over undecoded: websockets' own buffer, not copied)."""


def _subscriber_context() -> contextvars.Context | None:
    """The context a subscriber's callbacks run in, when it matters: inside a Jupyter kernel.

    ipykernel routes what code prints (and displays) to the cell whose context it runs in. The
    producer (a receive task) was created by the cell that connected, so without this every
    subscriber's output would land under that cell; with it, it lands under the cell that
    subscribed. Elsewhere callbacks simply run in the producer's context (no per-event cost).
    """
    return contextvars.copy_context() if "ipykernel" in sys.modules else None


def _run_in(
    context: contextvars.Context, on_next: Callable[[ev.ServerEvent], None], event: ev.ServerEvent
) -> None:
    context.run(on_next, event)


class _Guard:
    """One Rx subscriber; ``active`` turns False when it is disposed or detached."""

    __slots__ = ("active", "context", "observer", "on_next")

    def __init__(self, observer: abc.ObserverBase[ev.ServerEvent]) -> None:
        self.observer = observer
        self.context = _subscriber_context()
        # Bound once: delivery is the per-event hot path. The guard's ``active`` flag stops
        # delivery on dispose and at the end, so reactivex's own re-check can be skipped.
        target = direct_on_next(observer)
        self.on_next: Callable[[ev.ServerEvent], None] = (
            target if self.context is None else functools.partial(_run_in, self.context, target)
        )
        self.active = True


class Consumers:
    """Who listens to one stream of server events, and delivery to them (the base class of
    :class:`~rxrealtime.session.hub.EventHub`; see :mod:`rxrealtime.session.hub` for the
    rules). Not thread-safe: call it from one thread (the loop's)."""

    __slots__ = (
        "_backlog",
        "_call_soon",
        "_dropped",
        "_flush_scheduled",
        "_last_error",
        "_loop",
        "_observers",
        "_queues",
        "_recv_queue",
        "_secrets",
        "_subscriber_errors",
        "_terminal",
        "buffer_size",
        "gate",
        "joined",
    )

    def __init__(
        self,
        *,
        call_soon: Callable[[Callable[[], None]], object],
        buffer_size: int,
        loop: asyncio.AbstractEventLoop | None,
        secrets: tuple[str, ...],
    ) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be >= 1")
        self.buffer_size = buffer_size
        """Bound of the backlog, of the ``recv()`` queue and of iterators by default."""
        self.gate = Backpressure()
        """Held by this hub's iterators while they are full (see the hub's Back-pressure)."""
        self.joined: Callable[[], None] | None = None
        """Called whenever a consumer joins (a replay starts when its first consumer does)."""
        self._call_soon = call_soon
        self._loop = loop
        self._secrets = secrets
        self._observers: tuple[_Guard, ...] = ()
        self._queues: tuple[LoopQueueObserver[ev.ServerEvent], ...] = ()
        self._recv_queue: LoopQueueObserver[tuple[Frame, ev.ServerEvent]] | None = None
        self._backlog: collections.deque[tuple[Frame, ev.ServerEvent]] | None = collections.deque()
        self._flush_scheduled = False
        self._terminal: ConnectionClosed | None = None
        self._last_error: str | None = None
        self._subscriber_errors = self._dropped = 0

    # -- delivery ----------------------------------------------------------------------------

    def _deliver(self, frame: Frame, event: ev.ServerEvent) -> None:
        for guard in self._observers:
            if guard.active:
                try:
                    guard.on_next(event)
                except PROPAGATED:
                    raise
                except BaseException as exc:  # see Guards
                    self._subscriber_failed(guard, exc)
        for queue in self._queues:
            try:
                queue.on_next(event)
            except PROPAGATED:
                raise
            except BaseException as exc:  # overflow="error" iterators
                self._queue_failed(queue, exc)
        recv_queue = self._recv_queue
        if recv_queue is not None:
            before = recv_queue.dropped
            recv_queue.on_next((frame, event))
            if recv_queue.dropped != before:
                self._count_drop("recv() queue full")

    def _count_drop(self, why: str) -> None:
        self._dropped += 1
        if self._dropped == 1 or self._dropped % 1000 == 0:
            log.warning("rxrealtime dropped %d event(s) so far: %s", self._dropped, why)

    def _has_consumers(self) -> bool:
        return bool(self._observers or self._queues or self._recv_queue is not None)

    def _flush(self) -> None:
        """Hand the backlog to the consumers present now (then the end, if it came)."""
        self._flush_scheduled = False
        backlog, self._backlog = self._backlog, None
        if backlog is None:
            return
        for frame, event in backlog:
            self._deliver(frame, event)
        if self._terminal is not None:
            self._end_consumers()

    def _joined(self) -> None:
        if self._backlog is not None and not self._flush_scheduled:
            self._flush_scheduled = True
            self._call_soon(self._flush)
        joined = self.joined
        if joined is not None:
            joined()

    def _subscriber_failed(self, guard: _Guard, exc: BaseException) -> None:
        guard.active = False
        self._observers = tuple(g for g in self._observers if g is not guard)
        self._subscriber_errors += 1
        self._last_error = redact(f"subscriber raised {exc!r}", self._secrets)
        log.error(
            "an rxrealtime subscriber raised %s; it is detached and the session goes on",
            type(exc).__name__,
            exc_info=exc,
        )

    def _queue_failed(self, queue: LoopQueueObserver[ev.ServerEvent], exc: BaseException) -> None:
        self._dropped += queue.dropped
        self._queues = tuple(q for q in self._queues if q is not queue)
        self._subscriber_errors += 1
        self._last_error = redact(f"iterator failed: {exc!r}", self._secrets)
        log.error("an rxrealtime iterator failed: %s", exc)

    # -- termination -------------------------------------------------------------------------

    def _ended(self) -> bool:
        """Whether a new consumer gets the end at once (ended, and no backlog left for it)."""
        return self._terminal is not None and self._backlog is None

    def _end_consumers(self) -> None:
        terminal = self._terminal
        assert terminal is not None
        stop: BaseException | None = None  # a PROPAGATED exception, raised once all ended
        observers, self._observers = self._observers, ()
        for guard in observers:
            if guard.active:
                guard.active = False
                if guard.context is None:
                    stop = self._terminate(guard.observer, terminal) or stop
                else:
                    stop = guard.context.run(self._terminate, guard.observer, terminal) or stop
        queues, self._queues = self._queues, ()
        for queue in queues:
            self._dropped += queue.dropped
            stop = self._terminate(queue, terminal) or stop
        if self._recv_queue is not None:
            stop = self._terminate(self._recv_queue, terminal) or stop
        if stop is not None:
            raise stop

    def _terminate(
        self, observer: abc.ObserverBase[Any], terminal: ConnectionClosed
    ) -> BaseException | None:
        """End one consumer; what it raises is its error (returned, not raised, when it is
        :data:`PROPAGATED`, so the caller can end the others first)."""
        try:
            if isinstance(terminal, ConnectionClosedOK):
                observer.on_completed()
            else:
                observer.on_error(terminal)
        except PROPAGATED as exc:
            return exc
        except BaseException as exc:  # see Guards
            if exc is terminal:
                # A subscriber without an on_error handler re-raises the session's own end
                # (reactivex's default); the end is already reported, so this is no news.
                log.debug("a subscriber without on_error re-raised the session's end: %s", exc)
                return None
            self._subscriber_errors += 1
            self._last_error = redact(f"subscriber raised {exc!r} while ending", self._secrets)
            log.error("an rxrealtime subscriber raised while ending", exc_info=exc)
        return None

    # -- consumers ---------------------------------------------------------------------------

    def subscribe(
        self, observer: abc.ObserverBase[ev.ServerEvent], _: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        """Add an Rx subscriber (the subscribe function of ``session.events``)."""
        guard = _Guard(observer)
        if self._ended():
            assert self._terminal is not None
            stop = self._terminate(observer, self._terminal)
            if stop is not None:
                raise stop
            return Disposable()
        self._observers = (*self._observers, guard)
        self._joined()

        def detach() -> None:
            if guard.active:
                guard.active = False
                self._observers = tuple(g for g in self._observers if g is not guard)

        return Disposable(detach)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def iterate(
        self, *, maxsize: int | None = None, overflow: Overflow = "block"
    ) -> ObservableIterator[ev.ServerEvent]:
        """A new async iterator over every event from now on, with its own queue of
        ``maxsize`` (default ``buffer_size``) events under ``overflow``; closing it (or
        dropping it) detaches it."""
        queue: LoopQueueObserver[ev.ServerEvent] = LoopQueueObserver(
            self._running_loop(),
            maxsize=maxsize or self.buffer_size,
            overflow=overflow,
            gate=self.gate,
        )
        if self._ended():
            assert self._terminal is not None
            self._terminate(queue, self._terminal)
        else:
            self._queues = (*self._queues, queue)
            self._joined()

        def detach() -> None:
            if queue in self._queues:
                self._dropped += queue.dropped
                self._queues = tuple(q for q in self._queues if q is not queue)

        return ObservableIterator(queue, Disposable(detach))

    def _recv_stream(self) -> LoopQueueObserver[tuple[Frame, ev.ServerEvent]]:
        if self._recv_queue is None:
            self._recv_queue = LoopQueueObserver(
                self._running_loop(),
                maxsize=self.buffer_size,
                overflow="drop_oldest",
                gate=self.gate,
            )
            if self._ended():
                assert self._terminal is not None
                self._terminate(self._recv_queue, self._terminal)
            else:
                self._joined()
        return self._recv_queue

    async def recv_pair(self) -> tuple[Frame, ev.ServerEvent]:
        """The next (frame, event) of the shared ``recv()`` queue (joining it on first use);
        :class:`~rxrealtime.errors.ConnectionClosedOK` after a completion, the terminal error
        after an error end. Cancelling it loses nothing."""
        try:
            return await self._recv_stream().get()
        except StopAsyncIteration:
            terminal = self._terminal
            raise ConnectionClosedOK(
                terminal.code if terminal else 1000, terminal.reason if terminal else ""
            ) from None

    async def recv(self) -> ev.ServerEvent:
        """The next event of the shared ``recv()`` queue (see :meth:`recv_pair`)."""
        return (await self.recv_pair())[1]

    async def recv_bytes(self) -> bytes:
        """The next raw frame of the shared ``recv()`` queue (text as UTF-8 bytes)."""
        frame = (await self.recv_pair())[0]
        return frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else bytes(frame)
