"""Reconnect and recycle for the live session: the I/O side of
:mod:`rxrealtime.session.reconnect`.

:class:`Reconnecting` is the base class of :class:`~rxrealtime.session.live.RealtimeSession`
that holds the connection-replacing part of it: after a recoverable close the receive task calls
:meth:`Reconnecting._reconnect` (backoff, reopen, restore, switch, markers), and with
``recycle_after`` the :meth:`Reconnecting._recycle` task replaces the connection at a quiet
moment. The sans-I/O policy and the continuity state it consults are
:mod:`rxrealtime.session.reconnect`; the receive task, the send side and the end are
:mod:`rxrealtime.session.live`. Private to the session package.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from rxrealtime import events as ev
from rxrealtime.errors import (
    ConnectionClosed,
    ConnectionClosedOK,
    HandshakeError,
    ReconnectFailedError,
    redact,
)
from rxrealtime.recording import FrameTap
from rxrealtime.session.base import SessionBase
from rxrealtime.session.hub import byte_len
from rxrealtime.session.reconnect import Continuity, Reconnected, ReconnectPolicy
from rxrealtime.transport import FrameTransport, TransportClosed

__all__ = ["Reconnecting"]

log = logging.getLogger("rxrealtime")

_QUIET_POLL = 0.05  # seconds between checks for a quiet moment to recycle
_RECYCLE_RETRY = 5.0  # seconds before retrying a planned reconnect that failed


class Reconnecting(SessionBase):
    """The reconnect and recycle orchestration of a live session (its state is set up by
    :class:`~rxrealtime.session.live.RealtimeSession`, which derives from this class)."""

    _loop: asyncio.AbstractEventLoop
    _transport: FrameTransport
    _secrets: tuple[str, ...]
    _closing: bool
    _policy: ReconnectPolicy | None
    _reopen: Callable[[], Awaitable[FrameTransport]] | None
    _continuity: Continuity | None
    _attempt: int
    _reconnecting: bool
    _taps: tuple[FrameTap, ...]
    _connections: int
    _swapped: asyncio.Event | None
    _recycled_replayed: int | None
    _connected_at: float

    def _observe(self, event: ev.ServerEvent) -> None:
        """Reconnect bookkeeping for every received event (only with a policy)."""
        assert self._continuity is not None
        self._continuity.observe(event)

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
            self._hub.publish(event)
        ids = tuple(e.response.id or "" for e in interrupted if e.response is not None)
        last_failure: str | None = None
        if self._loop.time() - self._connected_at >= policy.stable_after:
            self._attempt = 0  # a connection that lived: a new budget (never on what it said)
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
                self._tap_connection(closed.code, reason)
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
            self._hub.count_sent(byte_len(frame))
            for tap in self._taps:
                self._guarded(tap.frame_out, frame)
        return len(frames) - (continuity.session_config is not None)

    def _ending(self) -> bool:
        return self.closed or self._closing

    def _swap(self, transport: FrameTransport) -> None:
        self._transport = transport
        self._hub.count_reconnect()
        self._connected_at = self._loop.time()
        self._wake_senders()

    def _wake_senders(self) -> None:
        swapped, self._swapped = self._swapped, None
        if swapped is not None:
            swapped.set()

    def _swap_event(self) -> asyncio.Event:
        """What a sender waits on until the transport changes (or the session ends)."""
        if self._swapped is None:
            self._swapped = asyncio.Event()
        return self._swapped

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
            self._hub.publish(event)
        ids = interrupted + tuple(e.response.id or "" for e in more if e.response is not None)
        self._hub.publish(
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
            self._tap_connection(None, None)
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

    # -- frame taps --------------------------------------------------------------------------

    def _tap_connection(self, close_code: int | None, close_reason: str | None) -> None:
        """A new connection was opened: tell the taps, before anything is sent on it."""
        self._connections += 1
        for tap in self._taps:
            self._guarded(tap.connection, self._connections, close_code, close_reason)

    @staticmethod
    def _guarded(call: Callable[..., object], *args: object) -> None:
        """Call a frame tap; what it raises is logged, never propagated (a recorder cannot end
        a session), except ``KeyboardInterrupt``/``SystemExit``."""
        try:
            call(*args)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            log.exception("rxrealtime: a frame tap raised; ignored")
