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

This module is the producer side (counting, the backlog, the end) and the statistics; the
consumer side — delivery under the guards, the hand-over, joining (``subscribe``, ``iterate``,
``recv``) and ending every consumer — is the hub's base class, in the session package's
private ``_consumers`` module.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

import attrs

from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosed, ConnectionClosedError
from rxrealtime.session._consumers import PROPAGATED, Consumers, Frame

__all__ = ["DEFAULT_BUFFER_SIZE", "PROPAGATED", "EventHub", "SessionStatistics", "byte_len"]

DEFAULT_BUFFER_SIZE = 1024
"""Default bound of the pre-consumer backlog and of every consumer queue."""

log = logging.getLogger("rxrealtime")


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


class EventHub(Consumers):
    """The consumers of one stream of server events and the rules they follow (see the module
    docstring). Not thread-safe: call it from one thread (the loop's)."""

    __slots__ = (
        "__weakref__",
        "_abandoned",
        "_bytes_in",
        "_bytes_out",
        "_errors",
        "_frames_in",
        "_frames_out",
        "_invalid",
        "_reconnects",
        "_unknown",
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
        super().__init__(call_soon=call_soon, buffer_size=buffer_size, loop=loop, secrets=secrets)
        self.observe: Callable[[ev.ServerEvent], None] | None = None
        """Called with every received event before it is delivered (reconnect bookkeeping)."""
        self.tap: Callable[[Frame, ev.ServerEvent], None] | None = None
        """Called with every received frame and its event before it is delivered (a
        recorder's ``FrameTap.frame_in``); what it raises is logged, never propagated."""
        self.preceding_error: ev.ErrorEvent | None = None
        """The last received event when it is an ``error`` event (it explains a close)."""
        self._frames_in = self._bytes_in = self._frames_out = self._bytes_out = 0
        self._unknown = self._invalid = self._errors = 0
        self._reconnects = self._abandoned = 0

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

    # -- backlog -----------------------------------------------------------------------------

    def _route(self, frame: Frame, event: ev.ServerEvent) -> None:
        if self._backlog is not None:
            if not self._has_consumers():
                self._keep(frame, event)
                return
            self._flush()
        self._deliver(frame, event)

    def _keep(self, frame: Frame, event: ev.ServerEvent) -> None:
        backlog = self._backlog
        assert backlog is not None
        if len(backlog) >= self.buffer_size:
            backlog.popleft()
            self._count_drop("no subscriber yet and the backlog is full")
        backlog.append((frame, event))

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
