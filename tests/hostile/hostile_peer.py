"""A hostile peer: a small scripted WebSocket server for attack tests (imported as
``hostile_peer``).

It is deliberately *not* the embedded server (:mod:`rxrealtime.server`): it speaks no protocol
of its own and validates nothing. Each accepted connection runs an async ``script(peer)``
that says, frame by frame, what the server does: send any text (valid or not), binary or
invalid-UTF-8 text frame, flood, cut the TCP connection without a close frame, close with any
code, or read what the client sent. A ``refuse=(status, body)`` server refuses upgrades with
that HTTP status and body instead (every one, or from the ``refuse_from``-th request on).

    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.text("{" * 300)
        await peer.cut()

    async with hostile_server(script) as server:
        async with rr.connect(base_url=server.base_url) as session:
            ...

``server.connections`` counts accepted connections (``server.accepted`` is an event set at
each), ``server.received`` keeps every frame each connection received, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

Script = Callable[["Peer"], Awaitable[None]]

_ids = itertools.count(1)


def session_created() -> dict[str, Any]:
    """A minimal GA ``session.created`` (what a real server sends first)."""
    return {
        "type": "session.created",
        "event_id": f"evt_{next(_ids)}",
        "session": {"type": "realtime", "id": "sess_hostile", "model": "gpt-realtime"},
    }


def nested(depth: int, kind: str = "x.nested") -> str:
    """A server frame whose ``payload`` is ``depth`` lists deep (small, valid JSON)."""
    return '{"type":"' + kind + '","payload":' + "[" * depth + "]" * depth + "}"


class Peer:
    """One accepted connection, as the script sees it."""

    def __init__(self, ws: ServerConnection, index: int, received: list[str | bytes]) -> None:
        self.ws = ws
        self.index = index
        """1 for the first connection the server accepted, 2 for the next, …"""
        self.received = received

    async def text(self, frame: str) -> None:
        """A text frame, as given (valid JSON or not)."""
        await self.ws.send(frame)

    async def json(self, value: Any) -> None:
        """A text frame holding ``value`` as JSON."""
        await self.ws.send(orjson.dumps(value).decode())

    async def binary(self, data: bytes) -> None:
        """A binary frame."""
        await self.ws.send(data)

    async def raw_text(self, payload: bytes) -> None:
        """A *text* frame with ``payload`` as its bytes, UTF-8 or not (websockets' public
        ``send`` cannot make an invalid one)."""
        async with self.ws.send_context():
            self.ws.protocol.send_text(payload)

    async def created(self) -> None:
        """``session.created``, as a real server's first event."""
        await self.json(session_created())

    async def flood(self, frames: Iterable[str | bytes]) -> None:
        """Send every frame of ``frames`` as fast as the socket takes them."""
        for frame in frames:
            await self.ws.send(frame)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """A closing handshake with ``code`` (any code, valid for the client or not)."""
        await self.ws.close(code, reason)

    def cut(self) -> None:
        """Drop the TCP connection now: no close frame (the client sees 1006)."""
        self.ws.transport.abort()

    async def recv(self, limit: float = 10.0) -> str | bytes:
        """The next frame the client sent within ``limit`` seconds (raises
        ``ConnectionClosed`` when it closed)."""
        async with asyncio.timeout(limit):
            return await self.ws.recv()

    async def hold(self) -> None:
        """Read (and keep) whatever the client sends until it closes the connection."""
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                self.received.append(frame)


class HostileServer:
    """A running hostile peer (see the module docstring)."""

    def __init__(
        self, script: Script | None, refuse: tuple[int, bytes] | None, refuse_from: int
    ) -> None:
        self._script = script
        self._refuse = refuse
        self._refuse_from = refuse_from
        self.requests = 0
        """Upgrade requests received (refused or not)."""
        self.connections = 0
        self.accepted = asyncio.Event()
        self.received: list[list[str | bytes]] = []
        self.port = 0
        self.errors: list[BaseException] = []

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def base_url(self) -> str:
        """What ``rr.connect(base_url=...)`` takes."""
        return f"http://127.0.0.1:{self.port}/v1"

    def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        self.requests += 1
        if self._refuse is None or self.requests < self._refuse_from:
            return None
        status, body = self._refuse
        headers = Headers([("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return Response(status, "Refused", headers, body)

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        received: list[str | bytes] = []
        self.received.append(received)
        self.accepted.set()
        peer = Peer(ws, self.connections, received)
        try:
            if self._script is not None:
                await self._script(peer)
            await peer.hold()
        except ConnectionClosed:
            pass
        except Exception as exc:  # reported to the test, never hidden
            self.errors.append(exc)
            raise


@contextlib.asynccontextmanager
async def hostile_server(
    script: Script | None = None,
    *,
    refuse: tuple[int, bytes] | None = None,
    refuse_from: int = 1,
    max_size: int | None = None,
) -> AsyncIterator[HostileServer]:
    """A :class:`HostileServer` on a free loopback port for the ``async with`` block.

    Each connection runs ``script`` and then reads until the client closes; with ``refuse``
    the ``refuse_from``-th upgrade request and every later one are answered with that HTTP
    status and body.
    """
    server = HostileServer(script, refuse, refuse_from)
    async with serve(
        server._handle,
        "127.0.0.1",
        0,
        process_request=server._process_request,
        max_size=max_size,
        ping_interval=None,
        close_timeout=1,
    ) as ws_server:
        server.port = next(iter(ws_server.sockets)).getsockname()[1]
        yield server
