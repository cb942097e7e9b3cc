"""Fault injection for testing clients, and the one writer every server event goes through.

Pass ``faults=Faults(...)`` to :func:`rxrealtime.server.serve`. Counts refer to server events
actually written on a connection (``session.created`` is event 1; a duplicated event counts once).
Options combine; each "after N" fault fires once, right after the N-th event is written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from rxrealtime.server.limits import (
    MAX_OUTBOX_BYTES,
    OUTBOX_CLOSE_CODE,
    OUTBOX_CLOSE_TIMEOUT,
    OUTBOX_STALL_TIMEOUT,
)

__all__ = ["Faults", "Outbox"]


def _types(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.frozen(kw_only=True)
class Faults:
    """What to break, and on which connections.

    * ``drop_after=N``: after N events, abort the TCP connection without a close frame
      (the client sees close code 1006). ``N=0`` drops right after the handshake.
    * ``close_after=N``: after N events, close with ``close_code`` / ``close_reason``
      (default 1011 "injected fault"; use 1001/1012 for "recoverable" closes).
    * ``malformed_after=N``: after N events, send ``malformed_frame`` once — a ``str`` is sent as
      a text frame (default ``"{not json"``), ``bytes`` as a binary frame — then carry on.
    * ``duplicate_types``: every event whose type is listed is written twice (same ``event_id``).
    * ``delay`` seconds before writing each event whose type is in ``delay_types`` (every event
      when ``delay_types`` is empty). Order is kept: later events wait behind a delayed one.
    * ``skip_session_created``: never send ``session.created``; the session otherwise works.
    * ``stall_handshake``: accept the TCP connection but never answer the HTTP upgrade (the
      client's open timeout fires); the server answers 503 when it stops.
    * ``connections=K``: apply all of the above to the first K connections only (``None`` = all),
      e.g. to let a reconnecting client succeed on its second attempt.
    """

    drop_after: int | None = None
    close_after: int | None = None
    close_code: int = 1011
    close_reason: str = "injected fault"
    malformed_after: int | None = None
    malformed_frame: str | bytes = "{not json"
    duplicate_types: frozenset[str] = attrs.field(default=frozenset(), converter=_types)
    delay: float = 0.0
    delay_types: frozenset[str] = attrs.field(default=frozenset(), converter=_types)
    skip_session_created: bool = False
    stall_handshake: bool = False
    connections: int | None = None


_NO_FAULTS = Faults()


class Outbox:
    """Serialises server events (orjson) and writes them in the order they were put.

    ``put`` never blocks and serialises at once, so a frame shows the state at the moment it was
    emitted. :meth:`run` is the writer loop (one task per connection); it returns when
    :meth:`stop` is called, the connection closes, a fault ends it, or it has sent the close
    frame queued by :meth:`close`. Faults are applied here, so they see exactly the frames a
    client receives.

    Memory is bounded (:mod:`~rxrealtime.server.limits`):

    * frames not yet written total at most ``limit`` bytes
      (:data:`~rxrealtime.server.limits.MAX_OUTBOX_BYTES`); past it the client is treated as gone
      (it stopped reading while events kept coming): the queue is dropped, nothing more is
      queued, and the connection is closed with
      :data:`~rxrealtime.server.limits.OUTBOX_CLOSE_CODE`, the TCP connection being aborted if
      the close handshake has not completed within
      :data:`~rxrealtime.server.limits.OUTBOX_CLOSE_TIMEOUT` seconds (a client that does not read
      cannot read a close frame either);
    * a frame the client has not taken within
      :data:`~rxrealtime.server.limits.OUTBOX_STALL_TIMEOUT` seconds means the same: the TCP
      connection is aborted;
    * the connection reads no further client event while more than
      :data:`~rxrealtime.server.limits.OUTBOX_PAUSE_BYTES` wait (:meth:`drained`), so a burst of
      requests cannot outrun a client that does read.
    """

    def __init__(
        self, websocket: ServerConnection, faults: Faults | None, limit: int = MAX_OUTBOX_BYTES
    ) -> None:
        self._ws = websocket
        self._faults = faults or _NO_FAULTS
        self._queue: asyncio.Queue[tuple[str, str] | tuple[int, str] | None] = asyncio.Queue()
        self._written = 0
        self._limit = limit
        self._queued_bytes = 0
        self._progress = asyncio.Event()
        self._closer: asyncio.Task[None] | None = None
        self.broken = False
        """True once a fault dropped or closed the connection (or the client stopped reading)."""
        self.overflowed = False
        """True once a client that does not read was disconnected."""
        self._closing = False
        self._finished = False

    @property
    def queued_bytes(self) -> int:
        """Bytes of serialised events waiting to be written."""
        return self._queued_bytes

    def put(self, event: Mapping[str, Any]) -> None:
        """Queue ``event`` for writing (after every event put before it). Raises
        ``orjson.JSONEncodeError`` (and queues nothing) when the event cannot be serialised."""
        if self.broken or self._closing:
            return
        frame = orjson.dumps(event).decode()
        if self._queued_bytes + len(frame) > self._limit:
            self._overflow()
            return
        self._queued_bytes += len(frame)
        self._queue.put_nowait((str(event.get("type")), frame))

    async def drained(self, below: int) -> None:
        """Return once at most ``below`` bytes wait (or the outbox is done writing)."""
        while self._queued_bytes > below and not (self.broken or self._finished):
            self._progress.clear()
            await self._progress.wait()

    def _overflow(self) -> None:
        self.broken = self.overflowed = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queued_bytes = 0
        self._progress.set()
        self._queue.put_nowait(None)  # the writer ends once its current write returns
        self._closer = asyncio.get_running_loop().create_task(self._close_unread())

    async def _close_unread(self) -> None:
        with contextlib.suppress(TimeoutError, ConnectionClosed):
            await asyncio.wait_for(
                self._ws.close(OUTBOX_CLOSE_CODE, "the client is not reading events"),
                OUTBOX_CLOSE_TIMEOUT,
            )
        self._ws.transport.abort()

    def close(self, code: int, reason: str) -> None:
        """Close the connection with ``code``/``reason`` once every event already put is
        written; events put afterwards are discarded."""
        if not self.broken and not self._closing:
            self._closing = True
            self._queue.put_nowait((code, reason))

    def stop(self) -> None:
        """Let :meth:`run` return after writing what is already queued."""
        self._queue.put_nowait(None)

    async def run(self) -> None:
        try:
            while (entry := await self._queue.get()) is not None:
                kind, frame = entry
                if isinstance(kind, int):  # a close queued by close()
                    await self._ws.close(kind, frame)
                    return
                self._queued_bytes -= len(frame)
                self._progress.set()
                if not await self._write(kind, frame):
                    return
        except ConnectionClosed:
            return
        finally:
            self._finished = True
            self._progress.set()
            if self._closer is not None:
                await self._closer

    async def _send(self, frame: str | bytes) -> None:
        """Send one frame; a client that has not taken it within the stall timeout is gone."""
        try:
            async with asyncio.timeout(OUTBOX_STALL_TIMEOUT):
                await self._ws.send(frame)
        except TimeoutError:
            self.overflowed = True
            self.drop()
            raise ConnectionClosed(None, None) from None

    async def _write(self, kind: str, frame: str) -> bool:
        faults = self._faults
        if faults.delay > 0 and (not faults.delay_types or kind in faults.delay_types):
            await asyncio.sleep(faults.delay)
        await self._send(frame)
        if kind in faults.duplicate_types:
            await self._send(frame)
        self._written += 1
        if faults.malformed_after == self._written:
            await self._send(faults.malformed_frame)
        if faults.drop_after == self._written:
            self.drop()
            return False
        if faults.close_after == self._written:
            self.broken = True
            await self._ws.close(faults.close_code, faults.close_reason)
            return False
        return True

    def drop(self) -> None:
        """Abort the TCP connection now: no close frame (the client sees 1006)."""
        self.broken = True
        self._ws.transport.abort()
