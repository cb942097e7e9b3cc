"""The consumer fan-out of a session, sans-I/O: :class:`EventHub`.

A producer (a live session's receive task, or a replay) hands the hub each frame and the event
it decodes to (:meth:`EventHub.receive`), or a marker of its own (:meth:`EventHub.publish`),
and finally how the stream ended (:meth:`EventHub.end`). The hub owns every rule about who
sees what; it opens no socket, starts no task and never awaits except inside ``recv()``:

* **Consumers** — Rx subscribers (:meth:`EventHub.subscribe`), async iterators
  (:meth:`EventHub.iterate`, each with its own bounded queue) and the one shared ``recv()``
  queue — all see every event, in order, from the moment they join. Rx subscribers are called
  synchronously, in subscription order, inside :meth:`EventHub.receive`.
* **Backlog** — events that arrive while nobody listens are kept (at most ``buffer_size``; the
  oldest are dropped, counted in ``dropped`` and logged). When the first consumer joins, the
  backlog is handed over at the next ``call_soon`` turn to every consumer present then; a
  consumer joining later sees live events only. If the stream ended before anyone listened,
  the first consumers get the backlog, then the end.
* **Guards** — an exception raised by an Rx subscriber is logged with its traceback, counted
  in ``subscriber_errors``, and that subscriber is detached; an iterator with
  ``overflow="error"`` that overflows is detached the same way. Nobody else is affected.
  *Any* exception is the subscriber's error, ``BaseException`` included: ``CancelledError``
  (``.result()`` of a cancelled future raises it), ``GeneratorExit``, ``StopIteration``. The
  two exceptions that ask the *process* to stop, ``KeyboardInterrupt`` and ``SystemExit``
  (:data:`PROPAGATED`), are the only ones not swallowed: the producer ends the stream first
  (every consumer gets a ``ConnectionClosedError``, code 1011) and then lets them propagate,
  as asyncio does. A consumer that raises in its ``on_completed``/``on_error`` cannot stop the
  others from being ended either.
* **Termination** — :meth:`EventHub.end` with a
  :class:`~rxrealtime.errors.ConnectionClosedOK` completes every consumer, with any other
  :class:`~rxrealtime.errors.ConnectionClosed` errors them with it; consumers joining after the
  end get it at once.
* **Back-pressure** — iterators (``overflow="block"``) hold :attr:`EventHub.gate` while full;
  producers must not hand over more while ``gate.holders`` is non-empty (the hub does not
  wait: it has nothing to wait with).
* **Statistics** — the counters of :class:`SessionStatistics`.

Everything is called on one thread (the loop's, for a live session); ``call_soon`` schedules
the backlog hand-over (``loop.call_soon``, or a scheduler's ``schedule``), and ``loop`` is only
needed once an iterator or ``recv()`` is used.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, cast

import attrs
from reactivex import abc
from reactivex.disposable import Disposable

from rxrealtime import events as ev
from rxrealtime._compat import direct_on_next
from rxrealtime.errors import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    redact,
)
from rxrealtime.scheduling import LoopQueueObserver, ObservableIterator, Overflow
from rxrealtime.scheduling.loop import Backpressure

__all__ = ["DEFAULT_BUFFER_SIZE", "PROPAGATED", "EventHub", "SessionStatistics", "byte_len"]

DEFAULT_BUFFER_SIZE = 1024
"""Default bound of the pre-consumer backlog and of every consumer queue."""

log = logging.getLogger("rxrealtime")

PROPAGATED: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit)
"""What a consumer may raise through the hub (see Guards); anything else is its own error."""

Frame = str | bytes | bytearray | memoryview
"""A frame as received: text, or bytes-like (binary frames, and text frames the fast receive
path hands over undecoded: websockets' own buffer, not copied)."""


@attrs.frozen
class SessionStatistics:
    """An immutable snapshot of a session's counters (see :meth:`EventHub.statistics`).

    ``bytes_in``/``bytes_out`` count UTF-8 bytes of text frames and raw bytes of binary ones.
    ``buffered`` is the backlog waiting for a first consumer; ``dropped`` counts events lost
    to a full backlog or a full ``recv()`` queue (never silently: each is also logged).
    ``last_error`` is a one-line description of the latest subscriber failure or fatal
    connection error, with secrets masked.
    """

    frames_in: int
    frames_out: int
    bytes_in: int
    bytes_out: int
    unknown_events: int
    invalid_events: int
    error_events: int
    subscribers: int
    iterators: int
    subscriber_errors: int
    buffered: int
    dropped: int
    last_error: str | None
    closed: bool
    close_code: int | None
    close_reason: str | None
    reconnects: int = 0
    """Connections replaced so far (reconnects after a drop, and planned recycles)."""
    abandoned: int = 0
    """Consumers ``close()`` did not wait for: they still held back-pressure (a stuck
    ``block`` thread-hop sink, an iterator nobody reads) when the session closed. Each is
    logged."""


def byte_len(data: Frame) -> int:
    """Bytes ``data`` takes on the wire (UTF-8 for text)."""
    if isinstance(data, str):
        return len(data) if data.isascii() else len(data.encode("utf-8", "surrogatepass"))
    return len(data)


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


class EventHub:
    """The consumers of one stream of server events and the rules they follow (see the module
    docstring). Not thread-safe: call it from one thread (the loop's)."""

    __slots__ = (
        "__weakref__",
        "_abandoned",
        "_backlog",
        "_bytes_in",
        "_bytes_out",
        "_call_soon",
        "_dropped",
        "_errors",
        "_flush_scheduled",
        "_frames_in",
        "_frames_out",
        "_invalid",
        "_last_error",
        "_loop",
        "_observers",
        "_queues",
        "_reconnects",
        "_recv_queue",
        "_secrets",
        "_subscriber_errors",
        "_terminal",
        "_unknown",
        "buffer_size",
        "gate",
        "joined",
        "observe",
        "preceding_error",
        "tap",
    )

    def __init__(
        self,
        *,
        call_soon: Callable[[Callable[[], None]], object],
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        loop: asyncio.AbstractEventLoop | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be >= 1")
        self.buffer_size = buffer_size
        """Bound of the backlog, of the ``recv()`` queue and of iterators by default."""
        self.gate = Backpressure()
        """Held by this hub's iterators while they are full (see the module docstring)."""
        self.observe: Callable[[ev.ServerEvent], None] | None = None
        """Called with every received event before it is delivered (reconnect bookkeeping)."""
        self.tap: Callable[[Frame, ev.ServerEvent], None] | None = None
        """Called with every received frame and its event before it is delivered (a
        recorder's ``FrameTap.frame_in``); what it raises is logged, never propagated."""
        self.joined: Callable[[], None] | None = None
        """Called whenever a consumer joins (a replay starts when its first consumer does)."""
        self.preceding_error: ev.ErrorEvent | None = None
        """The last received event when it is an ``error`` event (it explains a close)."""
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
        self._frames_in = self._bytes_in = self._frames_out = self._bytes_out = 0
        self._unknown = self._invalid = self._errors = 0
        self._subscriber_errors = self._dropped = self._reconnects = self._abandoned = 0

    # -- producer side -----------------------------------------------------------------------

    def receive(self, frame: Frame, event: ev.ServerEvent) -> None:
        """One frame from the peer and the event it decodes to: count it, then deliver it to
        every consumer (or keep it in the backlog). The hot path of every session."""
        self._frames_in += 1
        if frame.__class__ is not str:  # bytes-like: what the fast receive path hands over
            self._bytes_in += len(frame)
        else:
            self._bytes_in += len(frame) if frame.isascii() else byte_len(frame)
        kind = type(event)
        if kind is ev.ErrorEvent:
            self._errors += 1
            self.preceding_error = cast(ev.ErrorEvent, event)
        else:
            self.preceding_error = None
            if kind is ev.UnknownEvent:
                self._unknown += 1
            elif kind is ev.InvalidEvent:
                self._invalid += 1
        tap = self.tap
        if tap is not None:
            try:
                tap(frame, event)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # a recorder cannot end a session
                log.exception("rxrealtime: a frame tap raised; ignored")
        observe = self.observe
        if observe is not None:
            observe(event)
        if self._backlog is None:
            self._deliver(frame, event)  # the steady state, one call shorter
        else:
            self._route(frame, event)

    def publish(self, event: ev.ServerEvent) -> None:
        """Put an event this library made (a marker, not a frame) in the stream; it is not
        counted as received and its ``recv_bytes()`` frame is its encoding."""
        self._route(ev.encode(event), event)

    def count_sent(self, size: int) -> None:
        """Count one frame of ``size`` bytes sent to the peer."""
        self._frames_out += 1
        self._bytes_out += size

    def count_reconnect(self) -> None:
        """Count one replaced connection."""
        self._reconnects += 1

    def count_abandoned(self, holders: int, why: str) -> None:
        """Count (and log) ``holders`` consumers a closing producer stopped waiting for."""
        if holders:
            self._abandoned += holders
            log.warning(
                "rxrealtime: %s; %d consumer(s) still holding back-pressure abandoned",
                why,
                holders,
            )

    def end(self, terminal: ConnectionClosed) -> bool:
        """End the stream with ``terminal``; False if it had already ended (nothing changes).

        Consumers are ended now, or, if the backlog still waits for its first consumers, after
        they got it. An error end is logged (warning) and becomes ``last_error``.
        """
        if self._terminal is not None:
            return False
        self._terminal = terminal
        if isinstance(terminal, ConnectionClosedError):
            self._last_error = str(terminal)
            log.warning("rxrealtime session ended abnormally: %s", terminal)
        if self._backlog is not None:
            if self._has_consumers():
                self._flush()
            return True  # kept for the first consumers, who will get the end after it
        self._end_consumers()
        return True

    @property
    def terminal(self) -> ConnectionClosed | None:
        """How the stream ended, or ``None`` while it runs."""
        return self._terminal

    # -- delivery ----------------------------------------------------------------------------

    def _route(self, frame: Frame, event: ev.ServerEvent) -> None:
        if self._backlog is not None:
            if not self._has_consumers():
                self._keep(frame, event)
                return
            self._flush()
        self._deliver(frame, event)

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

    def _keep(self, frame: Frame, event: ev.ServerEvent) -> None:
        backlog = self._backlog
        assert backlog is not None
        if len(backlog) >= self.buffer_size:
            backlog.popleft()
            self._count_drop("no subscriber yet and the backlog is full")
        backlog.append((frame, event))

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

    # -- statistics --------------------------------------------------------------------------

    def statistics(self) -> SessionStatistics:
        """A snapshot of the counters."""
        terminal = self._terminal
        queues_dropped = sum(q.dropped for q in self._queues)
        return SessionStatistics(
            frames_in=self._frames_in,
            frames_out=self._frames_out,
            bytes_in=self._bytes_in,
            bytes_out=self._bytes_out,
            unknown_events=self._unknown,
            invalid_events=self._invalid,
            error_events=self._errors,
            subscribers=len(self._observers),
            iterators=len(self._queues) + (self._recv_queue is not None),
            subscriber_errors=self._subscriber_errors,
            buffered=len(self._backlog) if self._backlog is not None else 0,
            dropped=self._dropped + queues_dropped,
            last_error=self._last_error,
            closed=terminal is not None,
            close_code=terminal.code if terminal is not None else None,
            close_reason=terminal.reason if terminal is not None else None,
            reconnects=self._reconnects,
            abandoned=self._abandoned,
        )
