"""Typed exceptions raised by the transport, session and scheduling layers.

Hierarchy::

    RxRealtimeError
    ├── ConfigurationError (also a ValueError)   bad connect() arguments, found before any I/O
    │   ├── MissingAPIKeyError                   no key for a non-loopback endpoint
    │   └── InsecureURLError                     ws:// to a non-loopback host without allow_insecure
    ├── InvalidClientEventError (a ValueError)   a client event refused before sending (.field)
    │   └── EventTooLargeError                   an encoded client event over the 15 MiB limit
    ├── HandshakeError                           the upgrade failed or was refused (.status_code)
    │   ├── HandshakeTimeoutError (a TimeoutError)  no answer within open_timeout
    │   └── CertificateVerificationError         the server's TLS certificate is not trusted
    ├── ConnectionClosed                         the socket is closed (carries .code, .reason)
    │   ├── ConnectionClosedOK                   normal closure (1000, or closed by us)
    │   └── ConnectionClosedError                any other close (1006 = no close frame)
    │       ├── AuthenticationError              close 3000: the service rejected the credentials
    │       ├── SessionRejectedError             close 4000: model or API shape rejected
    │       ├── MessageTooBigError               close 1009: a server frame exceeded max_size
    │       ├── IdleTimeoutError                 nothing arrived for idle_timeout seconds
    │       └── ReconnectFailedError             every reconnect attempt failed (.attempts)
    └── BufferOverflowError                      a bounded buffer with overflow="error" was full

Guarantee: no message built here contains the API key. Every text that can come from the
network (close reasons, server error messages, refused handshake bodies) goes through
:func:`redact` (:func:`rxrealtime.masking.redact`, re-exported here) with the secrets of the
session before it is stored in an exception, and is masked before it is ever truncated.
"""

from __future__ import annotations

from typing import ClassVar

from rxrealtime.masking import redact

__all__ = [
    "AuthenticationError",
    "BufferOverflowError",
    "CertificateVerificationError",
    "ConfigurationError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "EventTooLargeError",
    "HandshakeError",
    "HandshakeTimeoutError",
    "IdleTimeoutError",
    "InsecureURLError",
    "InvalidClientEventError",
    "MessageTooBigError",
    "MissingAPIKeyError",
    "ReconnectFailedError",
    "RxRealtimeError",
    "SessionRejectedError",
    "redact",
]


class RxRealtimeError(Exception):
    """Base class of every exception rxrealtime raises on purpose."""


class ConfigurationError(RxRealtimeError, ValueError):
    """The arguments given to ``connect()`` cannot work; raised before any network I/O."""


class MissingAPIKeyError(ConfigurationError):
    """No API key was given (argument or environment) for an endpoint that needs one."""


class InsecureURLError(ConfigurationError):
    """Plain ``ws://`` to a non-loopback host, refused unless ``allow_insecure=True``."""


class InvalidClientEventError(RxRealtimeError, ValueError):
    """A client event was refused before anything was sent; ``field`` names the culprit
    (``"type"``, ``"item.content[0].text"``, …)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class EventTooLargeError(InvalidClientEventError):
    """An encoded client event is larger than the service accepts (15 MiB per event)."""


class HandshakeError(RxRealtimeError):
    """The WebSocket upgrade failed or was refused (``status_code`` is the HTTP status, if
    any)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class HandshakeTimeoutError(HandshakeError, TimeoutError):
    """The server did not complete the opening handshake within ``open_timeout`` seconds."""


class CertificateVerificationError(HandshakeError):
    """TLS verification of the server's certificate failed (verification is always on unless
    the caller passes its own ``ssl`` context in ``websocket_options``)."""


class ConnectionClosed(RxRealtimeError):
    """The connection is closed.

    ``code``/``reason`` are the close frame's (1006 and ``""`` when the connection dropped with
    no close frame). ``error_code``/``error_message`` come from the server ``error`` event that
    immediately preceded the close, when there was one (this is how the service explains 3000
    and 4000 closes).
    """

    def __init__(
        self,
        code: int,
        reason: str = "",
        *,
        error_code: str | None = None,
        error_message: str | None = None,
        message: str | None = None,
    ) -> None:
        self.code = code
        self.reason = reason
        self.error_code = error_code
        self.error_message = error_message
        super().__init__(message or self._describe())

    def _describe(self) -> str:
        text = f"connection closed with code {self.code}"
        if self.reason:
            text += f" ({self.reason})"
        if self.error_code or self.error_message:
            text += f"; server error {self.error_code or '?'}: {self.error_message or ''}".rstrip()
        return text

    def __reduce__(self) -> tuple[object, ...]:  # keep pickling/copying working with kw-only args
        return (
            _rebuild_closed,
            (type(self), self.code, self.reason, self.error_code, self.error_message, str(self)),
        )


def _rebuild_closed(
    cls: type[ConnectionClosed],
    code: int,
    reason: str,
    error_code: str | None,
    error_message: str | None,
    message: str,
) -> ConnectionClosed:
    return cls(code, reason, error_code=error_code, error_message=error_message, message=message)


class ConnectionClosedOK(ConnectionClosed):
    """Normal closure: the server sent 1000, or this side closed the session."""


class ConnectionClosedError(ConnectionClosed):
    """Abnormal closure: any close code other than 1000, or no close frame at all (1006)."""


class AuthenticationError(ConnectionClosedError):
    """Close code 3000: the service rejected the credentials (e.g. ``invalid_api_key``)."""

    def _describe(self) -> str:
        cause = f" ({self.error_code})" if self.error_code else ""
        detail = f": {self.error_message}" if self.error_message else ""
        return f"the API key was rejected{cause}{detail} [close {self.code}]"


class SessionRejectedError(ConnectionClosedError):
    """Close code 4000: the service rejected the session (bad or missing model, beta API shape)."""

    _CAUSES: ClassVar[dict[str, str]] = {
        "invalid_model": "the model was rejected",
        "missing_model": "no model was given",
        "beta_api_shape_disabled": "the beta API shape is disabled (do not send OpenAI-Beta)",
    }

    def _describe(self) -> str:
        cause = self._CAUSES.get(self.error_code or "", "the service rejected the session")
        code = f" ({self.error_code})" if self.error_code else ""
        detail = f": {self.error_message}" if self.error_message else ""
        return f"{cause}{code}{detail} [close {self.code}]"


class MessageTooBigError(ConnectionClosedError):
    """Close 1009 sent by this side: the server sent a frame larger than ``max_size``."""


class IdleTimeoutError(ConnectionClosedError):
    """Nothing arrived for ``idle_timeout`` seconds; the connection was dropped (code 1006)."""


class ReconnectFailedError(ConnectionClosedError):
    """The connection closed with a recoverable code and every reconnect attempt failed.

    ``code``/``reason`` are those of the last close seen; ``attempts`` how many attempts were
    made; ``last_failure`` why the last one failed (secrets masked)."""

    def __init__(
        self,
        code: int,
        reason: str = "",
        *,
        attempts: int = 0,
        last_failure: str | None = None,
        message: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        self.attempts = attempts
        self.last_failure = last_failure
        super().__init__(
            code, reason, error_code=error_code, error_message=error_message, message=message
        )

    def _describe(self) -> str:
        text = f"gave up reconnecting after {self.attempts} attempt(s); " + super()._describe()
        return text + (f"; last failure: {self.last_failure}" if self.last_failure else "")

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_reconnect_failed,
            (self.code, self.reason, self.attempts, self.last_failure, str(self)),
        )


def _rebuild_reconnect_failed(
    code: int, reason: str, attempts: int, last_failure: str | None, message: str
) -> ReconnectFailedError:
    return ReconnectFailedError(
        code, reason, attempts=attempts, last_failure=last_failure, message=message
    )


class BufferOverflowError(RxRealtimeError):
    """A bounded buffer whose overflow policy is ``"error"`` was full when a value arrived."""
