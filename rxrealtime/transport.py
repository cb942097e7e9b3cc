"""Transport: URL and header building, the WebSocket handshake, and frames in and out.

The pure part (:func:`prepare`) turns ``connect()`` arguments into a :class:`ConnectionConfig`
exactly as the official ``openai`` SDK would build them (reference §2.1):

* OpenAI: base ``wss://api.openai.com/v1`` (or ``OPENAI_BASE_URL``), ``https→wss``/``http→ws``,
  ``/realtime`` appended to the path, the base URL's own query kept, then ``model=``, then the
  extra query (``intent=`` first when given, ``call_id=`` last); a base-URL query key that is
  given again is dropped from its old place and the new value appended. Headers
  ``Authorization: Bearer <key>`` (``OPENAI_API_KEY``), optional
  ``OpenAI-Organization``/``OpenAI-Project``, a ``User-Agent``, then ``extra_headers`` merged
  case-insensitively (later wins; a ``None`` value removes the header). No ``OpenAI-Beta``.
* Azure (``azure_endpoint=``): ``<endpoint>/openai/realtime?<extra>&api-version=…&deployment=…``
  with an ``api-key`` header (or ``Authorization: Bearer <azure_ad_token>``).

Where the SDK is weak this module is stricter: plain ``ws://`` to a non-loopback host is refused
unless ``allow_insecure=True``; a missing key is a :class:`~rxrealtime.errors.MissingAPIKeyError`
before any I/O (a loopback endpoint, e.g. the embedded server, needs no key); cross-origin
redirects are refused (the credentials never follow a redirect to another origin); frames are
limited to 16 MiB by default instead of unlimited (the service's own limit is 15 MiB per event);
and the websockets debug log of the handshake has the secrets masked.

The I/O part is a small seam, :class:`FrameTransport`: ``recv()``/``send()``/``close()`` of raw
frames. :class:`WebSocketTransport` is the websockets implementation, :class:`SdkTransport`
adapts an already-open official SDK connection. The session layer only talks to the seam.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import urllib.parse
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, Protocol, TypeAlias

import attrs
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
from rxrealtime._version import __version__
from rxrealtime.errors import (
    CertificateVerificationError,
    ConfigurationError,
    HandshakeError,
    HandshakeTimeoutError,
    InsecureURLError,
    MissingAPIKeyError,
)
from rxrealtime.masking import mask_header, ordered_secrets, redact, redact_truncated

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

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Largest frame accepted by default (the service's limit is 15 MiB per event).
DEFAULT_MAX_SIZE = 16 * 1024 * 1024
#: Characters of a refused upgrade's body shown in :class:`~rxrealtime.errors.HandshakeError`
#: (masked first, then cut: no part of a secret survives near the cut).
HANDSHAKE_BODY_SHOWN = 500
#: The largest refused upgrade's body that is read (websockets' limit, 1 MiB unless the
#: ``WEBSOCKETS_MAX_BODY_SIZE`` environment variable says otherwise). A larger body is not
#: read, and the :class:`~rxrealtime.errors.HandshakeError` still has the real
#: ``status_code``.
HANDSHAKE_BODY_READ = http11.MAX_BODY_SIZE

QueryScalar: TypeAlias = str | int | float | bool | None
QueryValue: TypeAlias = QueryScalar | Sequence[QueryScalar]

_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_AUTH_HEADERS = frozenset({"authorization", "api-key"})
_RESERVED_OPTIONS = frozenset({"uri", "additional_headers", "logger"})


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` (and its subdomains), 127.0.0.0/8 and ``::1``."""
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.frozen(repr=False)
class ConnectionConfig:
    """Everything needed to open one connection. ``repr`` and :meth:`safe_headers` mask secrets."""

    url: str
    headers: tuple[tuple[str, str], ...]
    websocket_options: Mapping[str, Any]
    secrets: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def safe_headers(self) -> dict[str, str]:
        """The headers with every credential masked, for display and logs."""
        return {k: mask_header(k, v, self.secrets) for k, v in self.headers}

    def __repr__(self) -> str:
        url = redact(self.url, self.secrets)
        return f"ConnectionConfig(url={url!r}, headers={self.safe_headers()!r})"


def _query_items(query: Mapping[str, QueryValue]) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in query.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                items.append((key, ""))
            elif isinstance(item, bool):
                items.append((key, "true" if item else "false"))
            else:
                items.append((key, str(item)))
    return items


def _merge_query(existing: list[tuple[str, str]], new: list[tuple[str, str]]) -> str:
    """Drop every ``existing`` pair whose key is in ``new``, then append ``new`` (as the SDK)."""
    replaced = {key for key, _ in new}
    kept = [(k, v) for k, v in existing if k not in replaced]
    return urllib.parse.urlencode(kept + new)


def _realtime_url(base: str, *, suffix: str, query: list[tuple[str, str]]) -> str:
    parts = urllib.parse.urlsplit(base)
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ConfigurationError(
            f"base URL must be an absolute http(s):// or ws(s):// URL, got {parts.scheme!r} scheme"
        )
    existing = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    path = parts.path.rstrip("/") + suffix
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, _merge_query(existing, query), ""))


def _merge_headers(*sets: Mapping[str, str | None]) -> tuple[tuple[str, str], ...]:
    merged: dict[str, tuple[str, str | None]] = {}
    for header_set in sets:
        for key, value in header_set.items():
            merged[key.lower()] = (key, value)
    return tuple((k, v) for k, v in merged.values() if v is not None)


def _user_agent() -> str:
    return f"rxrealtime/{__version__}"


def prepare(
    model: str | None = "gpt-realtime",
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
    environ: Mapping[str, str] | None = None,
) -> ConnectionConfig:
    """Build the URL, headers and websockets options for one connection; no I/O.

    ``environ`` (default ``os.environ``) supplies ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
    ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID`` and, for Azure, ``AZURE_OPENAI_API_KEY``,
    ``AZURE_OPENAI_AD_TOKEN`` and ``OPENAI_API_VERSION``, as the SDK reads them.

    Raises :class:`~rxrealtime.errors.ConfigurationError` (or a subclass) when the arguments
    cannot work. The key never appears in any message.
    """
    env = os.environ if environ is None else environ
    extra: dict[str, QueryValue] = {}
    if intent is not None:
        extra["intent"] = intent
    extra.update(extra_query or {})
    if call_id is not None:
        extra["call_id"] = call_id

    if azure_endpoint is not None:
        return _prepare_azure(
            model,
            env=env,
            api_key=api_key,
            azure_endpoint=azure_endpoint,
            azure_deployment=azure_deployment,
            api_version=api_version,
            azure_ad_token=azure_ad_token,
            extra=extra,
            extra_headers=extra_headers or {},
            allow_insecure=allow_insecure,
            websocket_options=websocket_options,
        )

    base = base_url if base_url is not None else env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    query = _query_items({"model": model} if model is not None else {})
    url = _realtime_url(base, suffix="/realtime", query=_merge_qpairs(query, extra))
    host = urllib.parse.urlsplit(url).hostname
    _check_scheme(url, host, allow_insecure)

    key = api_key if api_key is not None else env.get("OPENAI_API_KEY")
    user_headers = dict(extra_headers or {})
    has_user_auth = any(k.lower() == "authorization" for k in user_headers)
    if not key and not has_user_auth and not is_loopback(host):
        raise MissingAPIKeyError(
            "no API key: pass api_key=... or set the OPENAI_API_KEY environment variable "
            f"(only loopback endpoints may be used without one; host is {host!r})"
        )
    org = organization if organization is not None else env.get("OPENAI_ORG_ID")
    proj = project if project is not None else env.get("OPENAI_PROJECT_ID")
    base_headers: dict[str, str | None] = {}
    if key:
        base_headers["Authorization"] = f"Bearer {key}"
    if org:
        base_headers["OpenAI-Organization"] = org
    if proj:
        base_headers["OpenAI-Project"] = proj
    base_headers["User-Agent"] = _user_agent()
    headers = _merge_headers(base_headers, user_headers)
    return ConnectionConfig(
        url=url,
        headers=headers,
        websocket_options=_options(websocket_options),
        secrets=_secrets(key, headers),
    )


def _merge_qpairs(
    first: list[tuple[str, str]], extra: Mapping[str, QueryValue]
) -> list[tuple[str, str]]:
    """``{**first, **extra}`` on query pairs: a key of ``extra`` replaces the same key in place."""
    as_map: dict[str, list[str]] = {}
    for key, value in first:
        as_map.setdefault(key, []).append(value)
    added = _query_items(extra)
    for key in dict.fromkeys(k for k, _ in added):
        as_map[key] = []
    for key, value in added:
        as_map[key].append(value)
    return [(k, v) for k, vs in as_map.items() for v in vs]


def _prepare_azure(
    model: str | None,
    *,
    env: Mapping[str, str],
    api_key: str | None,
    azure_endpoint: str,
    azure_deployment: str | None,
    api_version: str | None,
    azure_ad_token: str | None,
    extra: dict[str, QueryValue],
    extra_headers: Mapping[str, str | None],
    allow_insecure: bool,
    websocket_options: Mapping[str, Any] | None,
) -> ConnectionConfig:
    version = api_version if api_version is not None else env.get("OPENAI_API_VERSION")
    if not version:
        raise ConfigurationError("Azure needs api_version=... (or OPENAI_API_VERSION)")
    deployment = azure_deployment or model
    if not deployment:
        raise ConfigurationError("Azure needs model=... or azure_deployment=...")
    query = _merge_qpairs(_query_items(extra), {"api-version": version, "deployment": deployment})
    url = _realtime_url(azure_endpoint, suffix="/openai/realtime", query=query)
    host = urllib.parse.urlsplit(url).hostname
    _check_scheme(url, host, allow_insecure)
    key = api_key if api_key is not None else env.get("AZURE_OPENAI_API_KEY")
    token = azure_ad_token if azure_ad_token is not None else env.get("AZURE_OPENAI_AD_TOKEN")
    auth: dict[str, str | None] = {}
    if key:
        auth["api-key"] = key
    elif token:
        auth["Authorization"] = f"Bearer {token}"
    elif not any(k.lower() in _AUTH_HEADERS for k in extra_headers) and not is_loopback(host):
        raise MissingAPIKeyError(
            "no Azure credential: pass api_key=... or azure_ad_token=..., or set "
            "AZURE_OPENAI_API_KEY / AZURE_OPENAI_AD_TOKEN"
        )
    auth["User-Agent"] = _user_agent()
    headers = _merge_headers(auth, extra_headers)
    return ConnectionConfig(
        url=url,
        headers=headers,
        websocket_options=_options(websocket_options),
        secrets=_secrets(key or token, headers),
    )


def _check_scheme(url: str, host: str | None, allow_insecure: bool) -> None:
    if url.startswith("ws://") and not allow_insecure and not is_loopback(host):
        raise InsecureURLError(
            f"refusing plain ws:// to non-loopback host {host!r}: credentials and audio would "
            "travel unencrypted; use wss:// (https://) or pass allow_insecure=True"
        )


def _secrets(key: str | None, headers: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    found = {key} if key else set()
    for name, value in headers:
        if name.lower() in _AUTH_HEADERS and value:
            found.add(value)
            if value.lower().startswith("bearer "):
                found.add(value[7:].strip())
    # longest first so a "Bearer <key>" is masked as a whole before the bare key
    return ordered_secrets(found)


def _options(user: Mapping[str, Any] | None) -> dict[str, Any]:
    options = dict(user or {})
    clash = _RESERVED_OPTIONS.intersection(options)
    if clash:
        raise ConfigurationError(
            f"websocket_options may not set {sorted(clash)}; use extra_headers for headers"
        )
    options.setdefault("max_size", DEFAULT_MAX_SIZE)
    options.setdefault("compression", None)  # permessage-deflate off unless asked, as the SDK
    return options


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
