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
    this side started, completes every consumer. Any other close errors them with
    :class:`~rxrealtime.errors.ConnectionClosedError` carrying ``code`` and ``reason``; 3000 is
    :class:`~rxrealtime.errors.AuthenticationError` and 4000
    :class:`~rxrealtime.errors.SessionRejectedError`, whose messages name the cause taken from the
    ``error`` event that immediately preceded the close.

Threads and schedulers
    Everything here runs on the loop that opened the session. ``session.scheduler`` is that
    loop's :class:`~rxrealtime.scheduling.LoopScheduler`; ``session.events`` and everything
    piped from it default to it at subscribe time, so ``delay``/``debounce``/
    ``buffer_with_time``/``timeout`` run their timers on the loop without a ``scheduler=``
    argument. Use :func:`~rxrealtime.scheduling.observe_on_thread` for blocking sinks.

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
import logging
from collections.abc import Callable, Generator, Mapping
from types import TracebackType
from typing import Any, TypeVar, overload

import attrs
import reactivex
from reactivex import abc
from reactivex.disposable import Disposable
from websockets.exceptions import ConnectionClosed as WebSocketClosed

from rxrealtime import events as ev
from rxrealtime.errors import (
    AuthenticationError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    SessionRejectedError,
    redact,
)
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


# ---------------------------------------------------------------------------------------------
# subscriber guard


class _Guard:
    """One Rx subscriber; ``active`` turns False when it is disposed or detached."""

    __slots__ = ("active", "observer")

    def __init__(self, observer: abc.ObserverBase[ev.ServerEvent]) -> None:
        self.observer = observer
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
    ) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be >= 1")
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        self._secrets = secrets
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
        transport = self._transport
        # fast path: read the websockets connection directly (one coroutine less per frame)
        recv = (
            transport.connection.recv
            if isinstance(transport, WebSocketTransport)
            else transport.recv
        )
        decode = ev.decode
        dispatch = self._dispatch
        gate, loop_gate = self._gate, self._loop_gate
        terminal: ConnectionClosed
        try:
            while True:
                while gate._holders or loop_gate._holders:
                    await gate.wait()
                    await loop_gate.wait()
                frame = await recv()
                self._frames_in += 1
                self._bytes_in += (
                    len(frame) if frame.__class__ is str and frame.isascii() else _byte_len(frame)
                )
                dispatch(frame, decode(frame))
        except TransportClosed as closed:
            terminal = self._terminal_for(closed)
        except WebSocketClosed as exc:
            terminal = self._terminal_for(closed_from(exc))
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
                    guard.observer.on_next(event)
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
        if self._closing or not closed.by_peer or closed.code == 1000:
            return ConnectionClosedOK(closed.code, reason)
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
        if isinstance(terminal, ConnectionClosedError):
            self._last_error = str(terminal)
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
                self._terminate(guard.observer, terminal)
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
        """Encode ``event`` (a client event or a plain dict) and send it as one text frame.

        Raises the session's :class:`~rxrealtime.errors.ConnectionClosed` if it is closed.
        """
        await self.send_raw(ev.encode(event))

    async def send_raw(self, data: str | bytes) -> None:
        """Send one frame as is (``str`` → text frame, ``bytes`` → binary frame)."""
        if self._terminal is not None:
            raise self._terminal
        try:
            await self._transport.send(data)
        except TransportClosed as closed:
            raise self._terminal_for(closed) from None
        self._frames_out += 1
        self._bytes_out += _byte_len(data)

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
        )


# ---------------------------------------------------------------------------------------------
# typed send helpers (the SDK's resource layout: session.response.create(...), ...)


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **{k: v for k, v in fields.items() if v is not None}}


class _Resource:
    __slots__ = ("_session",)

    def __init__(self, session: RealtimeSession) -> None:
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
        """``input_audio_buffer.append``: raw PCM bytes (base64-encoded here) or base64 text."""
        if not isinstance(audio, str):
            audio = base64.b64encode(audio).decode("ascii")
        await self._session.send(
            _event("input_audio_buffer.append", audio=audio, event_id=event_id)
        )

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

    def __init__(self, session: RealtimeSession) -> None:
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
) -> _Connect:
    """Open a Realtime session: ``async with rxrealtime.connect(...) as session:``.

    URL and headers are built as the official SDK builds them (see :mod:`rxrealtime.transport`).
    ``model`` defaults to ``"gpt-realtime"``, except that with ``call_id=`` or ``intent=`` and no
    explicit model no ``model=`` is sent. ``websocket_options`` go to
    ``websockets.asyncio.client.connect`` (defaults: ``max_size`` 16 MiB, no compression).
    ``buffer_size`` bounds the pre-subscriber backlog and every per-consumer queue.

    Argument errors raise :class:`~rxrealtime.errors.ConfigurationError` when the result is
    awaited or entered, before any I/O; a refused upgrade raises
    :class:`~rxrealtime.errors.HandshakeError`.
    """
    if model == _DEFAULT_MODEL and (call_id is not None or intent is not None):
        model = None

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
            websocket_options=websocket_options,
        )
        transport = await open_websocket(config)
        return RealtimeSession(transport, buffer_size=buffer_size, secrets=config.secrets)

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
