"""Fault injection for testing clients, and the one writer every server event goes through.

Pass ``faults=Faults(...)`` to :func:`rxrealtime.server.serve`. Counts refer to server events
actually written on a connection (``session.created`` is event 1; a duplicated event counts once).
Options combine; each "after N" fault fires once, right after the N-th event is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

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
    """

    def __init__(self, websocket: ServerConnection, faults: Faults | None) -> None:
        self._ws = websocket
        self._faults = faults or _NO_FAULTS
        self._queue: asyncio.Queue[tuple[str, str] | tuple[int, str] | None] = asyncio.Queue()
        self._written = 0
        self.broken = False
        """True once a fault dropped or closed the connection."""
        self._closing = False

    def put(self, event: Mapping[str, Any]) -> None:
        """Queue ``event`` for writing (after every event put before it)."""
        if not self.broken and not self._closing:
            self._queue.put_nowait((str(event.get("type")), orjson.dumps(event).decode()))

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
                if not await self._write(kind, frame):
                    return
        except ConnectionClosed:
            return

    async def _write(self, kind: str, frame: str) -> bool:
        faults = self._faults
        if faults.delay > 0 and (not faults.delay_types or kind in faults.delay_types):
            await asyncio.sleep(faults.delay)
        await self._ws.send(frame)
        if kind in faults.duplicate_types:
            await self._ws.send(frame)
        self._written += 1
        if faults.malformed_after == self._written:
            await self._ws.send(faults.malformed_frame)
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
