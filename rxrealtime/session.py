"""The session: one receive task per connection, fanned out as a hot Observable.

``async with rxrealtime.connect(...) as session:`` opens the socket and starts the receive task;
every frame becomes exactly one typed event (``ev.decode`` never raises: unknown and malformed
frames are ``UnknownEvent``/``InvalidEvent`` events, a server ``error`` is an ``ErrorEvent``).

Consumers
    ``session.events`` (Rx subscribers), ``async for event in session`` (each iterator has its
    own bounded queue) and ``await session.recv()`` (one shared queue) all see every event, in
    arrival order, from the moment they join. Rx subscribers are called synchronously on the
    loop's thread, in subscription order, before the receive task reads the next frame.

Events before the first consumer (the buffering policy)
    Events that arrive while nobody listens are kept in a backlog of at most ``buffer_size``
    events (default 1024). When the first consumer joins, the backlog is delivered at the next
    turn of the event loop, to every consumer present at that moment — so several pipelines
    subscribed one after the other in the same synchronous block all see ``session.created``.
    If the backlog overflows, the oldest events are dropped, counted in ``statistics().dropped``
    and logged (warning, logger ``rxrealtime``). A consumer joining later sees live events only.
    If the connection ends before anyone listened, the first consumers get the backlog and then
    the end of the stream.

Errors (DESIGN.md policy)
    An exception raised by one Rx subscriber (anywhere in its pipeline, including its own
    ``on_error`` default) is logged on ``rxrealtime`` with its traceback, counted in
    ``statistics().subscriber_errors``, and that subscriber is detached (it receives nothing
    more); the receive task and the other consumers go on. A close with code 1000, or a close
    this side asked for (``close()``), completes every consumer. Any other close errors them with
    :class:`~rxrealtime.errors.ConnectionClosedError` carrying ``code`` and ``reason``; 3000 is
    :class:`~rxrealtime.errors.AuthenticationError` and 4000
    :class:`~rxrealtime.errors.SessionRejectedError`, whose messages name the cause taken from the
    ``error`` event that immediately preceded the close.

Reconnects, timeouts and limits (opt-in, see :func:`connect`)
    With ``reconnect=ReconnectPolicy(...)`` a recoverable close does not end the stream: the
    session reconnects, restores the configuration, and the stream carries
    :class:`~rxrealtime.reconnect.ResponseInterrupted` for each response cut off and one
    :class:`~rxrealtime.reconnect.Reconnected` marker; ``session.events`` stays the same
    Observable (see :mod:`rxrealtime.reconnect`). ``idle_timeout`` ends (or reconnects) a
    connection on which nothing arrives. A server frame over ``max_size`` (16 MiB) errors the
    stream with :class:`~rxrealtime.errors.MessageTooBigError`; a client frame over 15 MiB is
    refused by :meth:`RealtimeSession.send_raw` before it is sent.

Threads and schedulers
    Everything here runs on the loop that opened the session. ``session.scheduler`` is that
    loop's :class:`~rxrealtime.scheduling.LoopScheduler`; ``session.events`` and everything
    piped from it default to it at subscribe time, so ``delay``/``debounce``/
    ``buffer_with_time``/``timeout`` run their timers on the loop without a ``scheduler=``
    argument. Use :func:`~rxrealtime.scheduling.observe_on_thread` for blocking sinks. Inside a
    Jupyter kernel each subscriber's callbacks run in the ``contextvars`` context it subscribed
    from, so what it prints or displays belongs to the cell that subscribed.

Lifecycle and cancellation
    Leaving ``async with`` (normally, by exception or by cancellation) closes the socket, waits
    for the receive task and completes every consumer; if that wait is itself cancelled the
    socket is aborted and the task cancelled, so nothing leaks. ``close()`` is idempotent.
    Cancelling a task blocked in ``recv()`` or in an ``async for`` is safe: no event is lost
    for the other consumers.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextvars
import functools
import logging
import sys
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol, TypeVar, overload

import attrs
import orjson
import reactivex
from reactivex import abc
from reactivex.disposable import Disposable
from reactivex.observer.autodetachobserver import AutoDetachObserver
from websockets.exceptions import ConnectionClosed as WebSocketClosed

from rxrealtime import events as ev
from rxrealtime.errors import (
    AuthenticationError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    EventTooLargeError,
    HandshakeError,
    IdleTimeoutError,
    MessageTooBigError,
    ReconnectFailedError,
    SessionRejectedError,
    redact,
)
from rxrealtime.reconnect import Continuity, Reconnected, ReconnectPolicy
from rxrealtime.scheduling import (
    Backpressure,
    LoopQueueObserver,
    LoopScheduler,
    ObservableIterator,
    Overflow,
)
from rxrealtime.transport import (
    FrameTransport,
    QueryValue,
    SdkTransport,
    TransportClosed,
    WebSocketTransport,
    closed_from,
    open_websocket,
    prepare,
)
from rxrealtime.validation import (
    MAX_AUDIO_APPEND_BYTES,
    MAX_EVENT_BYTES,
    split_audio,
    validate_client_event,
)

__all__ = [
    "DEFAULT_BUFFER_SIZE",
    "RealtimeSession",
    "SessionObservable",
    "SessionStatistics",
    "connect",
    "from_sdk_connection",
]

DEFAULT_BUFFER_SIZE = 1024
log = logging.getLogger("rxrealtime")
_T = TypeVar("_T")
_A = TypeVar("_A")
_B = TypeVar("_B")
_C = TypeVar("_C")
_D = TypeVar("_D")
_DEFAULT_MODEL = "gpt-realtime"


# ---------------------------------------------------------------------------------------------
# the Observable type handed to users


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
    def pipe(self, *operators: Callable[[Any], Any]) -> Any: ...
    def pipe(self, *operators: Callable[[Any], Any]) -> Any:
        result: Any = self
        for operator in operators:
            result = operator(result)
        if isinstance(result, reactivex.Observable) and not isinstance(result, SessionObservable):
            return SessionObservable(result._subscribe_core, self.default_scheduler)
        return result


# ---------------------------------------------------------------------------------------------
# statistics


@attrs.frozen
class SessionStatistics:
    """An immutable snapshot of a session's counters (see :meth:`RealtimeSession.statistics`).

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


# ---------------------------------------------------------------------------------------------
# subscriber guard


_QUIET_POLL = 0.05  # seconds between checks for a quiet moment to recycle
_RECYCLE_RETRY = 5.0  # seconds before retrying a planned reconnect that failed


class _IdleClosed(TransportClosed):
    """How :meth:`RealtimeSession._pump` reports an idle timeout (the socket is aborted)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(1006, f"nothing received for {seconds:g} s", by_peer=True)


def _subscriber_context() -> contextvars.Context | None:
    """The context a subscriber's callbacks run in, when it matters: inside a Jupyter kernel.

    ipykernel routes what code prints (and displays) to the cell whose context it runs in. The
    receive task was created by the cell that connected, so without this every subscriber's
    output would land under that cell; with it, it lands under the cell that subscribed.
    Elsewhere callbacks simply run in the receive task's context (no per-event cost).
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
        # Bound once: delivery is the per-event hot path. reactivex wraps every subscriber in
        # an AutoDetachObserver whose on_next only re-checks "stopped"; the guard's ``active``
        # flag already stops delivery on dispose and at the end, so call the callback directly.
        target = (
            observer._on_next if type(observer) is AutoDetachObserver else observer.on_next
        )
        self.on_next: Callable[[ev.ServerEvent], None] = (
            target if self.context is None else functools.partial(_run_in, self.context, target)
        )
        self.active = True


def _byte_len(data: str | bytes) -> int:
    if isinstance(data, str):
        return len(data) if data.isascii() else len(data.encode("utf-8", "surrogatepass"))
    return len(data)


# ---------------------------------------------------------------------------------------------
# the session


class RealtimeSession:
    """One Realtime connection: the receive task, its consumers, and the send side.

    Create it with :func:`connect` (or :func:`from_sdk_connection`). All methods must be called
    on the loop that created it.
    """

    def __init__(
        self,
        transport: FrameTransport,
        *,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        secrets: tuple[str, ...] = (),
        reconnect: ReconnectPolicy | None = None,
        reopen: Callable[[], Awaitable[FrameTransport]] | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be >= 1")
        if reconnect is not None and reopen is None:
            raise ValueError("reconnect= needs reopen=, the coroutine that opens a new transport")
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError("idle_timeout must be > 0")
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        self._secrets = secrets
        # reconnection (all None/inert unless a policy is given)
        self._policy = reconnect
        self._reopen = reopen
        self._idle_timeout = idle_timeout
        self._continuity = (
            Continuity(track_items=reconnect.replay_items) if reconnect is not None else None
        )
        self._attempt = 0
        self._reconnects = 0
        self._reconnecting = False
        self._swapped = asyncio.Event()  # set (and replaced) whenever the transport changes
        self._recycled_replayed: int | None = None
        self._connected_at = self._loop.time()
        self.buffer_size = buffer_size
        self.scheduler: LoopScheduler = LoopScheduler.for_loop(self._loop)
        self.events: SessionObservable[ev.ServerEvent] = SessionObservable(
            self._subscribe, self.scheduler
        )
        self._gate = Backpressure()
        self._loop_gate = Backpressure.for_loop(self._loop)
        # consumers
        self._observers: tuple[_Guard, ...] = ()
        self._queues: tuple[LoopQueueObserver[ev.ServerEvent], ...] = ()
        self._recv_queue: LoopQueueObserver[tuple[str | bytes, ev.ServerEvent]] | None = None
        self._backlog: collections.deque[tuple[str | bytes, ev.ServerEvent]] | None = (
            collections.deque()
        )
        self._flush_scheduled = False
        # state
        self._terminal: ConnectionClosed | None = None
        self._closing = False
        self._preceding_error: Any = None
        self._last_error: str | None = None
        # counters
        self._frames_in = self._frames_out = self._bytes_in = self._bytes_out = 0
        self._unknown = self._invalid = self._errors = 0
        self._subscriber_errors = self._dropped = 0
        self._receiver = self._loop.create_task(self._receive(), name="rxrealtime-receive")
        self._recycler: asyncio.Task[None] | None = None
        if reconnect is not None and reconnect.recycle_after is not None:
            self._recycler = self._loop.create_task(
                self._recycle(reconnect.recycle_after), name="rxrealtime-recycle"
            )
        # typed send helpers, laid out like the SDK's connection resources
        self.session = SessionResource(self)
        self.response = ResponseResource(self)
        self.conversation = ConversationResource(self)
        self.input_audio_buffer = InputAudioBufferResource(self)
        self.output_audio_buffer = OutputAudioBufferResource(self)

    def __repr__(self) -> str:
        state = "closed" if self._terminal is not None else "open"
        where = redact(self._transport.description, self._secrets)
        return f"<RealtimeSession {where} {state}>"

    # -- receive ---------------------------------------------------------------------------

    async def _receive(self) -> None:
        terminal: ConnectionClosed
        try:
            while True:
                transport = self._transport
                closed = await self._pump(transport)
                if self._transport is not transport:  # a planned recycle: the old one is drained
                    replayed, self._recycled_replayed = self._recycled_replayed or 0, None
                    self._emit_reconnected(0, None, None, recycled=True, replayed=replayed)
                    continue
                if not self._may_reconnect(closed):
                    terminal = self._terminal_for(closed)
                    break
                failure = await self._reconnect(closed)
                if failure is not None:
                    terminal = failure
                    break
        except asyncio.CancelledError:
            terminal = ConnectionClosedOK(1000, "receive task cancelled")
            self._finish(terminal)
            raise
        except Exception as exc:  # a bug below us; never leave consumers hanging
            log.exception("rxrealtime receive loop failed")
            terminal = ConnectionClosedError(
                1011, redact(f"receive loop failed: {exc!r}", self._secrets)
            )
            try:
                await self._transport.close(1011, "client error")
            except Exception:
                log.debug("closing after a receive-loop failure failed", exc_info=True)
        self._finish(terminal)

    async def _pump(self, transport: FrameTransport) -> TransportClosed:
        """Read ``transport`` until it closes; return how it closed."""
        # fast path: read the websockets connection directly (one coroutine less per frame)
        recv = (
            transport.connection.recv
            if isinstance(transport, WebSocketTransport)
            else transport.recv
        )
        decode = ev.decode
        dispatch = self._dispatch
        gate, loop_gate = self._gate, self._loop_gate
        idle = self._idle_timeout
        try:
            while True:
                while gate._holders or loop_gate._holders:
                    await gate.wait()
                    await loop_gate.wait()
                if idle is None:
                    frame = await recv()
                else:
                    try:
                        async with asyncio.timeout(idle):
                            frame = await recv()
                    except TimeoutError:
                        transport.abort()
                        return _IdleClosed(idle)
                self._frames_in += 1
                self._bytes_in += (
                    len(frame) if frame.__class__ is str and frame.isascii() else _byte_len(frame)
                )
                dispatch(frame, decode(frame))
        except TransportClosed as closed:
            return closed
        except WebSocketClosed as exc:
            return closed_from(exc)

    # -- reconnection (see rxrealtime.reconnect) -------------------------------------------

    def _may_reconnect(self, closed: TransportClosed) -> bool:
        policy = self._policy
        return policy is not None and not self._closing and policy.recoverable(closed.code)

    async def _reconnect(self, closed: TransportClosed) -> ConnectionClosed | None:
        """Open, restore and switch to a new connection; return the terminal error when every
        attempt failed (or the OK close when the session was closed meanwhile)."""
        policy, reopen, continuity = self._policy, self._reopen, self._continuity
        assert policy is not None and reopen is not None and continuity is not None
        reason = redact(closed.reason, self._secrets)
        self._reconnecting = True
        # the cut-off responses end now, not after the backoff
        interrupted = continuity.interrupt(closed.code)
        for event in interrupted:
            self._dispatch_local(event)
        ids = tuple(e.response.id or "" for e in interrupted if e.response is not None)
        last_failure: str | None = None
        try:
            while self._attempt < policy.max_attempts:
                self._attempt += 1
                delay = policy.delay(self._attempt)
                log.warning(
                    "rxrealtime: connection closed with %d; reconnect attempt %d of %d in %.2f s",
                    closed.code,
                    self._attempt,
                    policy.max_attempts,
                    delay,
                )
                await asyncio.sleep(delay)
                if self._closing:
                    return ConnectionClosedOK(closed.code, reason)
                try:
                    transport = await reopen()
                except (OSError, TimeoutError, HandshakeError) as exc:
                    last_failure = redact(f"{type(exc).__name__}: {exc}", self._secrets)
                    log.warning("rxrealtime: reconnect attempt failed: %s", last_failure)
                    continue
                try:
                    replayed = await self._restore(transport)
                except TransportClosed as again:
                    last_failure = f"closed with {again.code} while restoring the session"
                    continue
                except BaseException:
                    transport.abort()
                    raise
                self._swap(transport)
                self._emit_reconnected(self._attempt, closed.code, reason, False, replayed, ids)
                return None
        finally:
            self._reconnecting = False
        return ReconnectFailedError(
            closed.code, reason, attempts=self._attempt, last_failure=last_failure
        )

    async def _restore(self, transport: FrameTransport) -> int:
        """Send the session configuration and the replayed items; return how many items."""
        continuity = self._continuity
        assert continuity is not None
        frames = continuity.restore_frames()
        for frame in frames:
            await transport.send(frame)
            self._frames_out += 1
            self._bytes_out += _byte_len(frame)
        return len(frames) - (continuity.session_config is not None)

    def _ending(self) -> bool:
        return self._terminal is not None or self._closing

    def _swap(self, transport: FrameTransport) -> None:
        self._transport = transport
        self._reconnects += 1
        self._connected_at = self._loop.time()
        self._wake_senders()

    def _wake_senders(self) -> None:
        swapped, self._swapped = self._swapped, asyncio.Event()
        swapped.set()

    def _emit_reconnected(
        self,
        attempt: int,
        close_code: int | None,
        close_reason: str | None,
        recycled: bool,
        replayed: int,
        interrupted: tuple[str, ...] = (),
    ) -> None:
        assert self._continuity is not None
        more = self._continuity.interrupt(close_code)  # a recycle ends what the old one ran
        for event in more:
            self._dispatch_local(event)
        ids = interrupted + tuple(e.response.id or "" for e in more if e.response is not None)
        self._dispatch_local(
            Reconnected(
                attempt=attempt,
                close_code=close_code,
                close_reason=close_reason,
                recycled=recycled,
                interrupted_responses=ids,
                replayed_items=replayed,
            )
        )

    async def _recycle(self, after: float) -> None:
        """Replace the connection every ``after`` seconds, at a moment no response runs."""
        assert self._reopen is not None and self._continuity is not None
        continuity, loop = self._continuity, self._loop
        while True:
            await asyncio.sleep(max(0.0, self._connected_at + after - loop.time()))
            if self._ending():
                return
            if self._reconnecting or continuity.active_responses:
                await asyncio.sleep(_QUIET_POLL)
                continue
            try:
                transport = await self._reopen()
            except (OSError, TimeoutError, HandshakeError) as exc:
                log.warning(
                    "rxrealtime: planned reconnect failed (%s); keeping the connection",
                    redact(str(exc), self._secrets),
                )
                self._connected_at = loop.time() - after + min(after, _RECYCLE_RETRY)
                continue
            try:
                replayed = await self._restore(transport)
            except TransportClosed:
                self._connected_at = loop.time() - after + min(after, _RECYCLE_RETRY)
                continue
            except BaseException:
                transport.abort()
                raise
            if self._ending() or self._reconnecting:
                await transport.close(1000, "not needed")
                continue
            old = self._transport
            self._recycled_replayed = replayed
            self._swap(transport)
            try:
                await old.close(1000, "recycled")
            except Exception:
                log.debug("closing the recycled connection failed", exc_info=True)
                old.abort()

    def _dispatch(self, frame: str | bytes, event: ev.ServerEvent) -> None:
        kind = type(event)
        if kind is ev.ErrorEvent:
            self._errors += 1
            self._preceding_error = event
        else:
            self._preceding_error = None
            if kind is ev.UnknownEvent:
                self._unknown += 1
            elif kind is ev.InvalidEvent:
                self._invalid += 1
        continuity = self._continuity
        if continuity is not None:
            continuity.observe(event)
            if kind is not ev.ErrorEvent:
                self._attempt = 0
        if self._backlog is None:
            self._deliver(frame, event)  # the steady state, one call shorter
        else:
            self._route(frame, event)

    def _dispatch_local(self, event: ev.ServerEvent) -> None:
        """Put a marker this library made (not a frame) in the stream, like a frame."""
        self._route(ev.encode(event), event)

    def _route(self, frame: str | bytes, event: ev.ServerEvent) -> None:
        if self._backlog is not None:
            if not self._has_consumers():
                self._keep(frame, event)
                return
            self._flush()
        self._deliver(frame, event)

    def _deliver(self, frame: str | bytes, event: ev.ServerEvent) -> None:
        for guard in self._observers:
            if guard.active:
                try:
                    guard.on_next(event)
                except Exception as exc:
                    self._subscriber_failed(guard, exc)
        for queue in self._queues:
            try:
                queue.on_next(event)
            except Exception as exc:  # overflow="error" iterators
                self._queue_failed(queue, exc)
        recv_queue = self._recv_queue
        if recv_queue is not None:
            before = recv_queue.dropped
            recv_queue.on_next((frame, event))
            if recv_queue.dropped != before:
                self._count_drop("recv() queue full")

    def _keep(self, frame: str | bytes, event: ev.ServerEvent) -> None:
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
            self._loop.call_soon(self._flush)

    def _subscriber_failed(self, guard: _Guard, exc: Exception) -> None:
        guard.active = False
        self._observers = tuple(g for g in self._observers if g is not guard)
        self._subscriber_errors += 1
        self._last_error = redact(f"subscriber raised {exc!r}", self._secrets)
        log.error(
            "an rxrealtime subscriber raised %s; it is detached and the session goes on",
            type(exc).__name__,
            exc_info=exc,
        )

    def _queue_failed(self, queue: LoopQueueObserver[ev.ServerEvent], exc: Exception) -> None:
        self._dropped += queue.dropped
        self._queues = tuple(q for q in self._queues if q is not queue)
        self._subscriber_errors += 1
        self._last_error = redact(f"iterator failed: {exc!r}", self._secrets)
        log.error("an rxrealtime iterator failed: %s", exc)

    # -- termination -------------------------------------------------------------------------

    def _terminal_for(self, closed: TransportClosed) -> ConnectionClosed:
        reason = redact(closed.reason, self._secrets)
        if isinstance(closed, _IdleClosed):
            return IdleTimeoutError(closed.code, reason)
        if self._closing or closed.code == 1000:
            return ConnectionClosedOK(closed.code, reason)
        if not closed.by_peer:
            # websockets closed it on our side: frame too big, protocol error, ping timeout
            if closed.code == 1009:
                return MessageTooBigError(closed.code, reason)
            return ConnectionClosedError(closed.code, reason)
        error_code = error_message = None
        preceding = self._preceding_error
        if preceding is not None:
            error_code = getattr(preceding.error, "code", None)
            message = getattr(preceding.error, "message", None)
            error_message = redact(message, self._secrets) if isinstance(message, str) else None
        kind: type[ConnectionClosedError] = ConnectionClosedError
        if closed.code == 3000:
            kind = AuthenticationError
        elif closed.code == 4000:
            kind = SessionRejectedError
        return kind(closed.code, reason, error_code=error_code, error_message=error_message)

    def _finish(self, terminal: ConnectionClosed) -> None:
        if self._terminal is not None:
            return
        self._terminal = terminal
        self._wake_senders()
        if self._recycler is not None:
            self._recycler.cancel()
        if isinstance(terminal, ConnectionClosedError):
            self._last_error = str(terminal)
            log.warning("rxrealtime session ended abnormally: %s", terminal)
        if self._backlog is not None:
            if self._has_consumers():
                self._flush()
            return  # kept for the first consumers, who will get the end after it
        self._end_consumers()

    def _end_consumers(self) -> None:
        terminal = self._terminal
        assert terminal is not None
        observers, self._observers = self._observers, ()
        for guard in observers:
            if guard.active:
                guard.active = False
                if guard.context is None:
                    self._terminate(guard.observer, terminal)
                else:
                    guard.context.run(self._terminate, guard.observer, terminal)
        queues, self._queues = self._queues, ()
        for queue in queues:
            self._dropped += queue.dropped
            self._terminate(queue, terminal)
        if self._recv_queue is not None:
            self._terminate(self._recv_queue, terminal)

    def _terminate(self, observer: abc.ObserverBase[Any], terminal: ConnectionClosed) -> None:
        try:
            if isinstance(terminal, ConnectionClosedOK):
                observer.on_completed()
            else:
                observer.on_error(terminal)
        except Exception as exc:
            if exc is terminal:
                # A subscriber without an on_error handler re-raises the session's own end
                # (reactivex's default); the end is already reported, so this is no news.
                log.debug("a subscriber without on_error re-raised the session's end: %s", exc)
                return
            self._subscriber_errors += 1
            log.error("an rxrealtime subscriber raised while ending", exc_info=exc)

    # -- consumers ---------------------------------------------------------------------------

    def _subscribe(
        self, observer: abc.ObserverBase[ev.ServerEvent], _: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        guard = _Guard(observer)
        if self._terminal is not None and self._backlog is None:
            self._terminate(observer, self._terminal)
            return Disposable()
        self._observers = (*self._observers, guard)
        self._joined()

        def detach() -> None:
            if guard.active:
                guard.active = False
                self._observers = tuple(g for g in self._observers if g is not guard)

        return Disposable(detach)

    def iterate(
        self, *, maxsize: int | None = None, overflow: Overflow = "block"
    ) -> ObservableIterator[ev.ServerEvent]:
        """An async iterator over every event from now on (``async for e in session`` uses the
        defaults: ``maxsize=buffer_size``, ``overflow="block"`` — a slow loop body pauses the
        receive task instead of losing events; see :mod:`rxrealtime.scheduling`)."""
        queue: LoopQueueObserver[ev.ServerEvent] = LoopQueueObserver(
            self._loop, maxsize=maxsize or self.buffer_size, overflow=overflow, gate=self._gate
        )
        if self._terminal is not None and self._backlog is None:
            self._terminate(queue, self._terminal)
        else:
            self._queues = (*self._queues, queue)
            self._joined()

        def detach() -> None:
            if queue in self._queues:
                self._dropped += queue.dropped
                self._queues = tuple(q for q in self._queues if q is not queue)

        return ObservableIterator(queue, Disposable(detach))

    def __aiter__(self) -> ObservableIterator[ev.ServerEvent]:
        return self.iterate()

    def _recv_stream(self) -> LoopQueueObserver[tuple[str | bytes, ev.ServerEvent]]:
        if self._recv_queue is None:
            self._recv_queue = LoopQueueObserver(
                self._loop, maxsize=self.buffer_size, overflow="drop_oldest", gate=self._gate
            )
            if self._terminal is not None and self._backlog is None:
                self._terminate(self._recv_queue, self._terminal)
            else:
                self._joined()
        return self._recv_queue

    async def _recv_pair(self) -> tuple[str | bytes, ev.ServerEvent]:
        try:
            return await self._recv_stream().get()
        except StopAsyncIteration:
            terminal = self._terminal
            raise ConnectionClosedOK(
                terminal.code if terminal else 1000, terminal.reason if terminal else ""
            ) from None

    async def recv(self) -> ev.ServerEvent:
        """The next event not yet returned by ``recv()``/``recv_bytes()``.

        The first call joins the session as a consumer (it gets the backlog if it is the first
        one); events are then queued for ``recv`` (``buffer_size``, oldest dropped and counted
        when full). Raises :class:`~rxrealtime.errors.ConnectionClosedOK` after a normal close
        and the session's :class:`~rxrealtime.errors.ConnectionClosedError` after another.
        Cancelling it is safe.
        """
        return (await self._recv_pair())[1]

    async def recv_bytes(self) -> bytes:
        """Like :meth:`recv`, but the raw frame (text frames as UTF-8 bytes)."""
        frame = (await self._recv_pair())[0]
        return frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame

    # -- send ------------------------------------------------------------------------------

    async def send(self, event: ev.ClientEvent | Mapping[str, Any]) -> None:
        """Check ``event`` (a client event or a plain dict), encode it and send it as one text
        frame.

        A dict is validated first (:func:`rxrealtime.validation.validate_client_event`): a
        missing or unknown ``type`` or a field of the wrong type raises
        :class:`~rxrealtime.errors.InvalidClientEventError` naming the field, and nothing is
        sent. See :meth:`send_raw` for the size limit, closed sessions and reconnects.
        """
        kind = event.type if isinstance(event, ev.ClientEvent) else validate_client_event(event)
        await self._send_frame(kind, ev.encode(event))

    async def _send_frame(self, kind: str, frame: str) -> None:
        """Send an encoded client event of type ``kind`` and let reconnect continuity see it."""
        await self.send_raw(frame)
        if self._continuity is not None:
            self._continuity.sent(kind, frame)

    async def send_raw(self, data: str | bytes) -> None:
        """Send one frame as is (``str`` → text frame, ``bytes`` → binary frame).

        A frame over 15 MiB (the service's limit per event) raises
        :class:`~rxrealtime.errors.EventTooLargeError` before anything is sent. Raises the
        session's :class:`~rxrealtime.errors.ConnectionClosed` if it is closed. With a
        reconnect policy, a send made while the session reconnects (or that finds the
        connection just dropped) waits and goes to the new connection.
        """
        size = _byte_len(data)
        if size > MAX_EVENT_BYTES:
            raise EventTooLargeError(
                f"client event of {size} bytes exceeds the service's limit of {MAX_EVENT_BYTES} "
                "bytes per event (send audio with session.input_audio_buffer.append(), which "
                "splits it)",
                field="type",
            )
        while True:
            if self._terminal is not None:
                raise self._terminal
            transport, swapped = self._transport, self._swapped
            if self._reconnecting:
                await swapped.wait()
                continue
            try:
                await transport.send(data)
                break
            except TransportClosed as closed:
                if not self._may_reconnect(closed):
                    raise self._terminal_for(closed) from None
                if self._transport is transport and self._terminal is None:
                    await swapped.wait()  # the receive task reconnects or ends the session
        self._frames_out += 1
        self._bytes_out += size

    # -- close -----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the receive task has ended (every consumer has been ended)."""
        return self._terminal is not None

    @property
    def close_code(self) -> int | None:
        return self._terminal.code if self._terminal is not None else None

    @property
    def close_reason(self) -> str | None:
        return self._terminal.reason if self._terminal is not None else None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and wait until every consumer has been ended.

        Consumers complete (this side chose to close). Idempotent. If the wait is cancelled the
        socket is aborted and the receive task cancelled before the cancellation propagates.
        """
        if not self._closing and self._terminal is None:
            self._closing = True
            if self._reconnecting:  # nothing to close: stop the attempts
                self._receiver.cancel()
            try:
                await self._transport.close(code, reason)
            except asyncio.CancelledError:
                self._abort()
                raise
            except Exception:
                log.debug("close handshake failed", exc_info=True)
                self._abort()
        try:
            await self.wait_closed()
        except asyncio.CancelledError:
            self._abort()
            raise

    def _abort(self) -> None:
        self._transport.abort()
        self._receiver.cancel()

    async def wait_closed(self) -> None:
        """Wait until the receive task has ended; never raises the connection's error
        (inspect ``close_code``/``statistics()``), but propagates cancellation."""
        if not self._receiver.done():
            await asyncio.wait([self._receiver])

    def exception(self) -> ConnectionClosedError | None:
        """The error that ended the session, or None (open, or closed normally)."""
        terminal = self._terminal
        return terminal if isinstance(terminal, ConnectionClosedError) else None

    async def __aenter__(self) -> RealtimeSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- statistics ------------------------------------------------------------------------

    def statistics(self) -> SessionStatistics:
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
        )


# ---------------------------------------------------------------------------------------------
# typed send helpers (the SDK's resource layout: session.response.create(...), ...)


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    """The wire dict of a client event; events-layer values (items, session and response
    configuration objects) become their wire dicts, so the helpers take either form."""
    return {
        "type": kind,
        **{
            key: ev.to_dict(value) if isinstance(value, ev.Model) else value
            for key, value in fields.items()
            if value is not None
        },
    }


class ClientEventSender(Protocol):
    """What the typed helpers send through: a live :class:`RealtimeSession`, or a
    :class:`rxrealtime.replay.ReplaySession` standing in for one."""

    async def send(self, event: ev.ClientEvent | Mapping[str, Any]) -> None:
        """Validate, encode and send one client event."""

    async def _send_frame(self, kind: str, frame: str) -> None:
        """Send a client event of type ``kind`` that is already encoded (and known good)."""


class _Resource:
    __slots__ = ("_session",)

    def __init__(self, session: ClientEventSender) -> None:
        self._session = session


class SessionResource(_Resource):
    __slots__ = ()

    async def update(self, *, session: Any, event_id: str | None = None) -> None:
        """``session.update``: ``session`` is a dict or an events-layer session object."""
        await self._session.send(_event("session.update", session=session, event_id=event_id))


class ResponseResource(_Resource):
    __slots__ = ()

    async def create(self, *, response: Any = None, event_id: str | None = None) -> None:
        """``response.create`` (``response`` holds the optional per-response overrides)."""
        await self._session.send(_event("response.create", response=response, event_id=event_id))

    async def cancel(self, *, response_id: str | None = None, event_id: str | None = None) -> None:
        """``response.cancel`` (the in-progress response, or ``response_id``)."""
        await self._session.send(
            _event("response.cancel", response_id=response_id, event_id=event_id)
        )


class InputAudioBufferResource(_Resource):
    __slots__ = ()

    async def append(
        self, audio: bytes | bytearray | memoryview | str, *, event_id: str | None = None
    ) -> None:
        """``input_audio_buffer.append``: raw PCM bytes (base64-encoded here) or base64 text.

        Audio larger than one event may carry (15 MiB encoded) is sent as several appends, in
        order, each at most :data:`~rxrealtime.validation.MAX_AUDIO_APPEND_BYTES` of audio and
        cut on whole samples; ``event_id`` goes on the first.
        """
        raw = len(audio) * 3 // 4 if isinstance(audio, str) else memoryview(audio).nbytes
        pieces = split_audio(audio) if raw > MAX_AUDIO_APPEND_BYTES else (audio,)
        for piece in pieces:
            if not isinstance(piece, str):
                piece = base64.b64encode(piece).decode("ascii")
            # Built directly (the hot path of a voice session: many appends per second); the
            # shape is ours, so there is nothing for send()'s validation to find.
            event = {"type": "input_audio_buffer.append", "audio": piece}
            if event_id is not None:
                event["event_id"] = event_id
            await self._session._send_frame(
                "input_audio_buffer.append", orjson.dumps(event).decode()
            )
            event_id = None

    async def commit(self, *, event_id: str | None = None) -> None:
        await self._session.send(_event("input_audio_buffer.commit", event_id=event_id))

    async def clear(self, *, event_id: str | None = None) -> None:
        await self._session.send(_event("input_audio_buffer.clear", event_id=event_id))


class ConversationItemResource(_Resource):
    __slots__ = ()

    async def create(
        self, *, item: Any, previous_item_id: str | None = None, event_id: str | None = None
    ) -> None:
        """``conversation.item.create``: ``item`` is a dict or an events-layer item."""
        await self._session.send(
            _event(
                "conversation.item.create",
                item=item,
                previous_item_id=previous_item_id,
                event_id=event_id,
            )
        )

    async def delete(self, *, item_id: str, event_id: str | None = None) -> None:
        await self._session.send(
            _event("conversation.item.delete", item_id=item_id, event_id=event_id)
        )

    async def retrieve(self, *, item_id: str, event_id: str | None = None) -> None:
        await self._session.send(
            _event("conversation.item.retrieve", item_id=item_id, event_id=event_id)
        )

    async def truncate(
        self, *, item_id: str, content_index: int, audio_end_ms: int, event_id: str | None = None
    ) -> None:
        await self._session.send(
            _event(
                "conversation.item.truncate",
                item_id=item_id,
                content_index=content_index,
                audio_end_ms=audio_end_ms,
                event_id=event_id,
            )
        )


class ConversationResource(_Resource):
    __slots__ = ("item",)

    def __init__(self, session: ClientEventSender) -> None:
        super().__init__(session)
        self.item = ConversationItemResource(session)


class OutputAudioBufferResource(_Resource):
    __slots__ = ()

    async def clear(self, *, event_id: str | None = None) -> None:
        await self._session.send(_event("output_audio_buffer.clear", event_id=event_id))


# ---------------------------------------------------------------------------------------------
# entry points


class _Connect:
    """What :func:`connect` returns: ``async with`` it, or ``await`` it (then close yourself)."""

    def __init__(self, open_session: Callable[[], Any]) -> None:
        self._open = open_session
        self._session: RealtimeSession | None = None

    def __await__(self) -> Generator[Any, None, RealtimeSession]:
        session: RealtimeSession = yield from self._open().__await__()
        return session

    async def __aenter__(self) -> RealtimeSession:
        self._session = await self._open()
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()


class FrameRecorder(Protocol):
    """What ``connect(recorder=...)`` needs: :class:`rxrealtime.sinks.Recorder` fits."""

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        """Mask these values in everything recorded from now on."""

    def wrap(self, transport: FrameTransport) -> FrameTransport:
        """A transport that records every frame ``transport`` receives and sends."""


def connect(
    model: str | None = _DEFAULT_MODEL,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    extra_query: Mapping[str, QueryValue] | None = None,
    extra_headers: Mapping[str, str | None] | None = None,
    call_id: str | None = None,
    intent: str | None = None,
    organization: str | None = None,
    project: str | None = None,
    azure_endpoint: str | None = None,
    azure_deployment: str | None = None,
    api_version: str | None = None,
    azure_ad_token: str | None = None,
    allow_insecure: bool = False,
    websocket_options: Mapping[str, Any] | None = None,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
    reconnect: ReconnectPolicy | None = None,
    open_timeout: float | None = None,
    idle_timeout: float | None = None,
    recorder: FrameRecorder | None = None,
) -> _Connect:
    """Open a Realtime session: ``async with rxrealtime.connect(...) as session:``.

    URL and headers are built as the official SDK builds them (see :mod:`rxrealtime.transport`).
    ``model`` defaults to ``"gpt-realtime"``, except that with ``call_id=`` or ``intent=`` and no
    explicit model no ``model=`` is sent. ``websocket_options`` go to
    ``websockets.asyncio.client.connect`` (defaults: ``max_size`` 16 MiB, no compression).
    ``buffer_size`` bounds the pre-subscriber backlog and every per-consumer queue.

    Reliability options (all off by default):

    * ``reconnect``: a :class:`~rxrealtime.reconnect.ReconnectPolicy`; recoverable closes
      reconnect with backoff, restore the session and put markers in the stream (see
      :mod:`rxrealtime.reconnect`);
    * ``open_timeout``: seconds for TCP + TLS + upgrade (websockets' default is 10), after which
      :class:`~rxrealtime.errors.HandshakeTimeoutError`; also bounds each reconnect attempt;
    * ``idle_timeout``: when no frame at all arrives for that many seconds the socket is
      dropped and the stream errors with :class:`~rxrealtime.errors.IdleTimeoutError` (or, with
      ``reconnect``, a reconnect follows). The service sends nothing while a session is quiet,
      so choose it above your longest expected silence; websockets' pings (every 20 s) detect a
      dead TCP connection regardless.

    ``recorder`` (e.g. ``rxrealtime.sinks.Recorder("session.jsonl")``) records every raw frame
    in both directions, as received and as sent, with the connection's secrets masked; with
    ``reconnect`` each new connection is recorded into the same recorder.

    Argument errors raise :class:`~rxrealtime.errors.ConfigurationError` when the result is
    awaited or entered, before any I/O; a refused upgrade raises
    :class:`~rxrealtime.errors.HandshakeError`.
    """
    if model == _DEFAULT_MODEL and (call_id is not None or intent is not None):
        model = None
    options = dict(websocket_options or {})
    if open_timeout is not None:
        options["open_timeout"] = open_timeout

    async def open_session() -> RealtimeSession:
        config = prepare(
            model,
            api_key=api_key,
            base_url=base_url,
            extra_query=extra_query,
            extra_headers=extra_headers,
            call_id=call_id,
            intent=intent,
            organization=organization,
            project=project,
            azure_endpoint=azure_endpoint,
            azure_deployment=azure_deployment,
            api_version=api_version,
            azure_ad_token=azure_ad_token,
            allow_insecure=allow_insecure,
            websocket_options=options,
        )
        if recorder is not None:
            recorder.add_secrets(config.secrets)

        async def open_recorded() -> FrameTransport:
            transport = await open_websocket(config)
            return transport if recorder is None else recorder.wrap(transport)

        transport = await open_recorded()
        reopen = open_recorded

        return RealtimeSession(
            transport,
            buffer_size=buffer_size,
            secrets=config.secrets,
            reconnect=reconnect,
            reopen=reopen,
            idle_timeout=idle_timeout,
        )

    return _Connect(open_session)


def from_sdk_connection(
    connection: Any, *, buffer_size: int = DEFAULT_BUFFER_SIZE
) -> RealtimeSession:
    """Adapt an already-open official SDK ``AsyncRealtimeConnection`` into a session.

    The session reads the SDK connection's frames (``recv_bytes()``), sends with
    ``send_raw()`` and closes it on ``close()``; do not read from the SDK connection yourself
    while the session runs. Call from async code (the receive task starts on the running loop).
    The SDK is not imported. The SDK's reconnect feature, if enabled, is invisible here.
    """
    return RealtimeSession(SdkTransport(connection), buffer_size=buffer_size)
