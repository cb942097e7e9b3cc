"""Transport: URL and header building, the WebSocket handshake, and frames in and out.

The pure part, turning ``connect()`` arguments into a :class:`ConnectionConfig` exactly as the
official ``openai`` SDK would (:func:`prepare`), lives in :mod:`rxrealtime.endpoint` and is
re-exported here.

The I/O part is a small seam, :class:`FrameTransport`: ``recv()``/``send()``/``close()`` of raw
frames. :class:`WebSocketTransport` is the websockets implementation, :class:`SdkTransport`
adapts an already-open official SDK connection. The session layer only talks to the seam.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import MutableMapping
from typing import Any, Protocol

from websockets import http11
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as _ws_connect
from websockets.exceptions import (
    ConnectionClosed as _WsConnectionClosed,
)
from websockets.exceptions import (
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    SecurityError,
)
from websockets.uri import parse_uri

from rxrealtime._delivery import MessageDelivery, MessageSink, PushConnection
from rxrealtime.endpoint import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_SIZE,
    ConnectionConfig,
    QueryValue,
    is_loopback,
    prepare,
)
from rxrealtime.errors import (
    CertificateVerificationError,
    HandshakeError,
    HandshakeTimeoutError,
)
from rxrealtime.masking import redact, redact_truncated

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_SIZE",
    "HANDSHAKE_BODY_READ",
    "HANDSHAKE_BODY_SHOWN",
    "ConnectionConfig",
    "FrameTransport",
    "MessageDelivery",
    "MessageSink",
    "QueryValue",
    "SdkTransport",
    "TransportClosed",
    "WebSocketTransport",
    "closed_from",
    "is_loopback",
    "open_websocket",
    "prepare",
]

#: Characters of a refused upgrade's body shown in :class:`~rxrealtime.errors.HandshakeError`
#: (masked first, then cut: no part of a secret survives near the cut).
HANDSHAKE_BODY_SHOWN = 500
#: The largest refused upgrade's body that is read (websockets' limit, 1 MiB unless the
#: ``WEBSOCKETS_MAX_BODY_SIZE`` environment variable says otherwise). A larger body is not
#: read, and the :class:`~rxrealtime.errors.HandshakeError` still has the real
#: ``status_code``.
HANDSHAKE_BODY_READ = http11.MAX_BODY_SIZE

# ---------------------------------------------------------------------------------------------
# I/O seam


class TransportClosed(Exception):
    """Raised by :class:`FrameTransport` methods once the connection is closed.

    ``code`` is the close code received from the peer (1006 if none was received),
    ``reason`` its reason, ``by_peer`` False when this side started the closing handshake.
    """

    def __init__(self, code: int, reason: str, *, by_peer: bool) -> None:
        super().__init__(f"closed {code} {reason}".rstrip())
        self.code = code
        self.reason = reason
        self.by_peer = by_peer


class FrameTransport(Protocol):
    """Raw frames in and out of one connection. Methods are called from one event loop.

    ``recv`` returns ``str`` for text frames and ``bytes`` for binary ones; ``recv`` and
    ``send`` raise :class:`TransportClosed` once the connection is closed; ``close`` is
    idempotent and waits for the closing handshake (bounded by the transport's timeout).
    Cancelling ``recv`` is safe: no frame is lost.

    A transport may also have a ``session_ended(terminal)`` method: a session calls it once,
    on the transport it used last, when its stream ends (``terminal`` is the session's
    :class:`~rxrealtime.errors.ConnectionClosed`); a recording wrapper writes its end record
    then. Whatever it raises is logged by the session, never propagated.
    """

    @property
    def description(self) -> str: ...

    async def recv(self) -> str | bytes: ...

    async def send(self, data: str | bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...

    def abort(self) -> None:
        """Drop the connection now, without a closing handshake (used when a close is
        cancelled)."""


def closed_from(exc: _WsConnectionClosed) -> TransportClosed:
    """The :class:`TransportClosed` equivalent of a websockets ``ConnectionClosed``."""
    if exc.rcvd is not None:
        by_peer = exc.sent is None or bool(exc.rcvd_then_sent)
        return TransportClosed(exc.rcvd.code, exc.rcvd.reason, by_peer=by_peer)
    if exc.sent is not None:
        return TransportClosed(exc.sent.code, exc.sent.reason, by_peer=False)
    return TransportClosed(1006, "", by_peer=True)


class WebSocketTransport:
    """:class:`FrameTransport` over a websockets ``ClientConnection``."""

    __slots__ = ("_description", "_ws")

    def __init__(self, ws: ClientConnection, description: str) -> None:
        self._ws = ws
        self._description = description

    @property
    def description(self) -> str:
        return self._description

    @property
    def connection(self) -> ClientConnection:
        """The underlying websockets connection (for advanced uses: ping, latency)."""
        return self._ws

    @property
    def can_deliver(self) -> bool:
        """Whether :meth:`deliver` would deliver (the connection was opened by
        :func:`open_websocket`, and neither :meth:`recv` nor another delivery reads it)."""
        ws = self._ws
        return isinstance(ws, PushConnection) and ws.can_deliver

    def deliver(self, sink: MessageSink) -> MessageDelivery | None:
        """Hand every message to ``sink`` from the socket's data callback instead of
        :meth:`recv` (the session's fast receive path; see :mod:`rxrealtime._delivery` for
        what it guarantees). ``None`` when the connection cannot (it was not opened by
        :func:`open_websocket`, or :meth:`recv` was used already): read with :meth:`recv`."""
        ws = self._ws
        return ws.deliver(sink) if isinstance(ws, PushConnection) else None

    async def recv(self) -> str | bytes:
        try:
            return await self._ws.recv()
        except _WsConnectionClosed as exc:
            raise closed_from(exc) from None

    async def send(self, data: str | bytes) -> None:
        try:
            await self._ws.send(data)
        except _WsConnectionClosed as exc:
            raise closed_from(exc) from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code, reason)

    def abort(self) -> None:
        self._ws.transport.abort()


class SdkTransport:
    """:class:`FrameTransport` over an open official SDK ``AsyncRealtimeConnection``.

    Reads with ``recv_bytes()`` (frames arrive as bytes; valid UTF-8 is handed on as text, so a
    binary frame that happens to be UTF-8 looks like a text frame), writes with ``send_raw()``,
    closes with ``close()``. The SDK is never imported: any object with those
    three coroutine methods works.
    """

    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        for name in ("recv_bytes", "send_raw", "close"):
            if not callable(getattr(conn, name, None)):
                raise TypeError(f"not an SDK realtime connection: no {name}() method")
        self._conn = conn

    @property
    def description(self) -> str:
        return f"sdk:{type(self._conn).__name__}"

    async def recv(self) -> str | bytes:
        try:
            data: bytes = await self._conn.recv_bytes()
        except _WsConnectionClosed as exc:
            raise closed_from(exc) from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data

    async def send(self, data: str | bytes) -> None:
        try:
            await self._conn.send_raw(data)
        except _WsConnectionClosed as exc:
            raise closed_from(exc) from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._conn.close(code=code, reason=reason)

    def abort(self) -> None:
        # best effort: the SDK connection wraps a websockets connection in ``_connection``
        ws = getattr(self._conn, "_connection", None)
        transport = getattr(ws, "transport", None)
        if transport is not None:
            transport.abort()


class _RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Formats each record itself and masks the secrets (websockets logs handshake headers)."""

    def __init__(self, logger: logging.Logger, secrets: tuple[str, ...]) -> None:
        super().__init__(logger, {})
        self._secrets = secrets

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        kwargs.setdefault("stacklevel", 2)
        self.logger.log(level, redact(text, self._secrets), **kwargs)

    def process(
        self, msg: object, kwargs: MutableMapping[str, Any]
    ) -> tuple[object, MutableMapping[str, Any]]:
        return msg, kwargs


class _StatusLineConnection(ClientConnection):
    """A websockets client connection that keeps the HTTP status line of its opening
    handshake: websockets drops the whole response when its body is over its limit, status
    included, and a refusal must still say which status it was."""

    status_line: bytes | None = None
    _head = b""

    def data_received(self, data: bytes) -> None:
        if self.status_line is None and len(self._head) < http11.MAX_LINE_LENGTH:
            head = self._head + data[: http11.MAX_LINE_LENGTH]
            end = head.find(b"\r\n")
            if end >= 0:
                self.status_line, self._head = head[:end], b""
            else:
                self._head = head
        super().data_received(data)

    def status_code(self) -> int | None:
        """The status of the response's first line, if it had one."""
        parts = (self.status_line or b"").split(b" ", 2)
        if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
            code = int(parts[1])
            return code if 100 <= code < 600 else None
        return None


class _OpenedConnection(_StatusLineConnection, PushConnection):
    """The connection :func:`open_websocket` opens: it keeps its handshake's status line
    (:class:`_StatusLineConnection`) and can deliver messages from its data callback
    (:class:`~rxrealtime._delivery.PushConnection`, :meth:`WebSocketTransport.deliver`)."""


class _SameOriginConnect(_ws_connect):
    """websockets ``connect`` that refuses redirects to another origin (credentials stay home)
    and remembers the last connection it opened (so a refusal it could not parse still has
    its status)."""

    last_connection: ClientConnection | None = None

    async def open_tcp_connection(self) -> ClientConnection:
        connection = await super().open_tcp_connection()
        self.last_connection = connection
        return connection

    def process_redirect(self, exc: Exception) -> Exception | str:
        target = super().process_redirect(exc)
        if isinstance(target, str):
            here, there = parse_uri(self.uri), parse_uri(target)
            if (here.secure, here.host, here.port) != (there.secure, there.host, there.port):
                return SecurityError("refusing a cross-origin WebSocket redirect")
        return target


async def open_websocket(config: ConnectionConfig) -> WebSocketTransport:
    """Open the connection described by ``config`` (TCP, TLS, HTTP upgrade).

    Raises :class:`~rxrealtime.errors.HandshakeError` when the upgrade is refused,
    :class:`~rxrealtime.errors.CertificateVerificationError` when the server's TLS certificate
    does not verify (the default ``ssl`` context verifies certificates and host names),
    :class:`~rxrealtime.errors.HandshakeTimeoutError` (also a ``TimeoutError``) when the
    handshake does not finish within ``open_timeout`` (websockets' default: 10 s), and
    ``OSError`` when the TCP connection fails. Cancellation aborts the attempt and leaves no
    socket open.
    """
    options = dict(config.websocket_options)
    options.setdefault("user_agent_header", None)
    options.setdefault("create_connection", _OpenedConnection)
    logger = _RedactingLogger(logging.getLogger("websockets.client"), config.secrets)
    connector = _SameOriginConnect(
        config.url,
        additional_headers=list(config.headers),
        logger=logger,
        **options,
    )
    try:
        ws = await connector
    except InvalidStatus as exc:
        status = exc.response.status_code
        # mask before cutting: a key straddling the cut must not leave a prefix behind
        body = redact_truncated(
            exc.response.body.decode("utf-8", "replace"), config.secrets, HANDSHAKE_BODY_SHOWN
        )
        raise HandshakeError(
            f"the server refused the WebSocket upgrade with HTTP {status}: {body}".rstrip(": "),
            status_code=status,
        ) from None
    except InvalidMessage as exc:
        # websockets could not parse the response; when it had a status line (a refusal whose
        # body is over HANDSHAKE_BODY_READ), that status is still the answer
        last = connector.last_connection
        seen = last.status_code() if isinstance(last, _StatusLineConnection) else None
        why = redact_truncated(f"{exc.__cause__ or exc}", config.secrets, HANDSHAKE_BODY_SHOWN)
        if seen is None:
            raise HandshakeError(
                redact(f"WebSocket handshake failed: {exc}: {why}", config.secrets)
            ) from None
        raise HandshakeError(
            f"the server refused the WebSocket upgrade with HTTP {seen} "
            f"(its response was not read: {why})",
            status_code=seen,
        ) from None
    except (InvalidHandshake, SecurityError) as exc:
        raise HandshakeError(redact(f"WebSocket handshake failed: {exc}", config.secrets)) from None
    except ssl.SSLCertVerificationError as exc:
        raise CertificateVerificationError(
            redact(f"TLS certificate verification failed: {exc.verify_message}", config.secrets)
        ) from None
    except TimeoutError:
        timeout = options.get("open_timeout", 10)
        raise HandshakeTimeoutError(
            f"the server did not complete the WebSocket handshake within {timeout} s"
        ) from None
    return WebSocketTransport(ws, redact(config.url, config.secrets))
