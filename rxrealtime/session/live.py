"""The live session: one receive task per connection feeding an
:class:`~rxrealtime.session.hub.EventHub`, and the send side over the same connection.

The receive task reads frames, decodes each one (``ev.decode`` never raises) and hands it to
the hub, which fans it out (see :mod:`rxrealtime.session`). Before reading the next frame it
waits while a consumer holds a back-pressure gate (the hub's, for its iterators, or the loop's,
for thread hops), so a slow consumer pushes back on the socket instead of losing events.

With a :class:`~rxrealtime.session.reconnect.ReconnectPolicy` the task also reconnects after a
recoverable close and, with ``recycle_after``, a second task replaces the connection at a quiet
moment (that orchestration is the base class, in the session package's private
``_reconnecting`` module); :mod:`rxrealtime.session.reconnect` says what is restored and which
markers the stream carries. How the end is classified (completion, or which
:class:`~rxrealtime.errors.ConnectionClosedError`) is :meth:`RealtimeSession._terminal_for`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence

from websockets.exceptions import ConnectionClosed as WebSocketClosed

from rxrealtime import events as ev
from rxrealtime.errors import (
    AuthenticationError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    IdleTimeoutError,
    MessageTooBigError,
    SessionRejectedError,
    redact,
)
from rxrealtime.recording import FrameTap
from rxrealtime.scheduling import Backpressure, LoopScheduler
from rxrealtime.session._consumers import Frame
from rxrealtime.session._pushed import PushedReceiver
from rxrealtime.session._reconnecting import Reconnecting
from rxrealtime.session.hub import DEFAULT_BUFFER_SIZE, PROPAGATED, EventHub
from rxrealtime.session.reconnect import Continuity, ReconnectPolicy
from rxrealtime.session.resources import check_frame_size
from rxrealtime.transport import (
    FrameTransport,
    TransportClosed,
    WebSocketTransport,
    closed_from,
)

__all__ = ["RealtimeSession"]

log = logging.getLogger("rxrealtime")


def _outcome_reported(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # marks it retrieved


def _wake(room: asyncio.Future[None]) -> None:
    if not room.done():
        room.set_result(None)


class _IdleClosed(TransportClosed):
    """How :meth:`RealtimeSession._pump` reports an idle timeout (the socket is aborted)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(1006, f"nothing received for {seconds:g} s", by_peer=True)


class RealtimeSession(Reconnecting):
    """One Realtime connection: the receive task, its consumers, and the send side.

    Create it with :func:`~rxrealtime.session.connect` (or
    :func:`~rxrealtime.session.from_sdk_connection`). All methods must be called on the loop
    that created it. The consumer rules (backlog, guards, iterators, ``recv``, termination,
    statistics) are the hub's and are shared with :class:`~rxrealtime.replay.ReplaySession`.
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
        taps: Sequence[FrameTap] = (),
    ) -> None:
        if reconnect is not None and reopen is None:
            raise ValueError("reconnect= needs reopen=, the coroutine that opens a new transport")
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError("idle_timeout must be > 0")
        loop = asyncio.get_running_loop()
        hub = EventHub(
            call_soon=loop.call_soon, buffer_size=buffer_size, loop=loop, secrets=secrets
        )
        self._loop_scheduler = LoopScheduler.for_loop(loop)
        self._init_base(hub, self._loop_scheduler)
        self._loop = loop
        self._transport = transport
        self._secrets = secrets
        self._loop_gate = Backpressure.for_loop(loop)
        self._closing = False
        self._room: asyncio.Future[None] | None = None  # set while back-pressure holds us
        # reconnection (all None/inert unless a policy is given)
        self._policy = reconnect
        self._reopen = reopen
        self._idle_timeout = idle_timeout
        self._continuity: Continuity | None = None
        if reconnect is not None:
            self._continuity = Continuity(track_items=reconnect.replay_items)
            hub.observe = self._observe
        self._attempt = 0
        self._reconnecting = False
        # recorders' frame taps (see rxrealtime.recording.FrameTap): frames in through the hub
        self._taps = tuple(taps)
        self._connections = 1
        if self._taps:
            hub.tap = self._taps[0].frame_in if len(self._taps) == 1 else self._tap_in
        # set (and dropped) whenever the transport changes; made when a sender first waits
        self._swapped: asyncio.Event | None = None
        self._recycled_replayed: int | None = None
        self._connected_at = loop.time()
        self._receiver = loop.create_task(self._receive(), name="rxrealtime-receive")
        # its outcome is always reported through the stream's end (a KeyboardInterrupt or
        # SystemExit it lets through has already left the loop): never "never retrieved"
        self._receiver.add_done_callback(_outcome_reported)
        self._recycler: asyncio.Task[None] | None = None
        if reconnect is not None and reconnect.recycle_after is not None:
            self._recycler = loop.create_task(
                self._recycle(reconnect.recycle_after), name="rxrealtime-recycle"
            )

    @property
    def scheduler(self) -> LoopScheduler:
        """The session loop's :class:`~rxrealtime.scheduling.LoopScheduler`: events are
        delivered on that loop's thread, and every subscription to :attr:`events` (and
        everything piped from it) defaults to it, so ``delay``, ``debounce``,
        ``buffer_with_time``, ``timeout`` run their timers on the loop with no ``scheduler=``."""
        return self._loop_scheduler

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
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
        except PROPAGATED as exc:  # a consumer asked the process to stop: end, then let it go
            self._transport.abort()
            self._finish(
                ConnectionClosedError(1011, f"stopped: a consumer raised {type(exc).__name__}")
            )
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

    def _pump(self, transport: FrameTransport) -> Awaitable[TransportClosed]:
        """Read ``transport`` until it closes; the awaitable returns how it closed. A
        connection opened by ``open_websocket`` delivers its messages from the socket's data
        callback (the fast path: :mod:`rxrealtime.session._pushed`); any other transport is
        read with ``recv()``."""
        if isinstance(transport, WebSocketTransport) and transport.can_deliver:
            return PushedReceiver(self, transport, _IdleClosed).run()
        return self._pump_recv(transport)

    async def _pump_recv(self, transport: FrameTransport) -> TransportClosed:
        """Read ``transport`` with ``recv()`` until it closes; return how it closed."""
        gate, loop_gate = self._hub.gate, self._loop_gate
        # read the websockets connection directly when there is one (one coroutine less)
        recv = (
            transport.connection.recv
            if isinstance(transport, WebSocketTransport)
            else transport.recv
        )
        decode = ev.decode
        receive = self._hub.receive
        idle = self._idle_timeout
        try:
            while True:
                if (gate.holders or loop_gate.holders) and not self._closing:
                    await self._wait_for_room(gate, loop_gate)
                if idle is None:
                    frame = await recv()
                else:
                    try:
                        async with asyncio.timeout(idle):
                            frame = await recv()
                    except TimeoutError:
                        transport.abort()
                        return _IdleClosed(idle)
                receive(frame, decode(frame))
        except TransportClosed as closed:
            return closed
        except WebSocketClosed as exc:
            return closed_from(exc)

    async def _wait_for_room(self, gate: Backpressure, loop_gate: Backpressure) -> None:
        """Wait until no consumer holds back-pressure, or until :meth:`close` is called: from
        then on the receive loop drains what is left without waiting for anyone (a consumer
        still holding it is abandoned: counted and logged by ``close``)."""
        while (gate.holders or loop_gate.holders) and not self._closing:
            room = self._room = self._loop.create_future()
            (gate if gate.holders else loop_gate).when_open(functools.partial(_wake, room))
            try:
                await room
            finally:
                self._room = None

    # -- termination -------------------------------------------------------------------------

    def _terminal_for(self, closed: TransportClosed) -> ConnectionClosed:
        """How a close ends the stream: a completion (1000, or asked for by this side), or
        the typed error for the code (the ``error`` event just before it names the cause)."""
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
        preceding = self._hub.preceding_error
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
        if self._hub.end(terminal):
            self._wake_senders()
            if self._recycler is not None:
                self._recycler.cancel()
            self._tell_transport(terminal)
            for tap in self._taps:
                self._guarded(tap.session_ended, terminal)

    def _tap_in(self, frame: Frame, event: ev.ServerEvent) -> None:
        """Every tap's ``frame_in`` (when there are several)."""
        for tap in self._taps:
            tap.frame_in(frame, event)

    def _tell_transport(self, terminal: ConnectionClosed) -> None:
        """Tell the transport used last how the session ended, if it wants to know (a
        recording wrapper writes its end record then: see ``FrameTransport``). Whatever it
        raises is logged, never propagated: a recorder cannot change how a session ends."""
        ended = getattr(self._transport, "session_ended", None)
        if not callable(ended):
            return
        try:
            ended(terminal)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            log.exception("rxrealtime: the transport's session_ended() raised; ignored")

    # -- send ------------------------------------------------------------------------------

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
        size = check_frame_size(data)
        hub = self._hub
        while True:
            if hub.terminal is not None:
                raise hub.terminal
            transport = self._transport
            if self._reconnecting:
                await self._swap_event().wait()
                continue
            try:
                await transport.send(data)
                break
            except TransportClosed as closed:
                if not self._may_reconnect(closed):
                    raise self._terminal_for(closed) from None
                if self._transport is transport and hub.terminal is None:
                    await self._swap_event().wait()  # the receive task reconnects or ends it
        hub.count_sent(size)
        for tap in self._taps:
            self._guarded(tap.frame_out, data)

    # -- close -----------------------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and wait until every consumer has been ended.

        Consumers complete (this side chose to close). Idempotent. If the wait is cancelled the
        socket is aborted and the receive task cancelled before the cancellation propagates.
        Never waits for back-pressure: from now on the receive loop drains what still arrives
        without pausing for a full consumer, so a ``block`` thread-hop sink stuck in a call, or
        an iterator nobody reads, cannot hold it; such a consumer is abandoned (counted in
        ``statistics().abandoned``, logged).
        """
        if not self._closing and not self.closed:
            self._closing = True
            if self._reconnecting:  # nothing to close: stop the attempts
                self._receiver.cancel()
            room = self._room
            if room is not None:  # the receive loop waits for a consumer: not any more
                held = len(self._hub.gate.holders) + len(self._loop_gate.holders)
                self._hub.count_abandoned(held, "closing while a consumer holds back-pressure")
                _wake(room)
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
