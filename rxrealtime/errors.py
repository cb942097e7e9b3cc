"""Typed exceptions raised by the transport, session and scheduling layers.

Hierarchy::

    RxRealtimeError
    ├── ConfigurationError (also a ValueError)   bad connect() arguments, found before any I/O
    │   ├── MissingAPIKeyError                   no key for a non-loopback endpoint
    │   └── InsecureURLError                     ws:// to a non-loopback host without allow_insecure
    ├── HandshakeError                           the HTTP upgrade was refused (carries .status_code)
    ├── ConnectionClosed                         the socket is closed (carries .code, .reason)
    │   ├── ConnectionClosedOK                   normal closure (1000, or closed by us)
    │   └── ConnectionClosedError                any other close (1006 = no close frame)
    │       ├── AuthenticationError              close 3000: the service rejected the credentials
    │       └── SessionRejectedError             close 4000: model or API shape rejected
    └── BufferOverflowError                      a bounded buffer with overflow="error" was full

Guarantee: no message built here contains the API key. Every text that can come from the
network (close reasons, server error messages) goes through :func:`redact` with the secrets of
the session before it is stored in an exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

__all__ = [
    "AuthenticationError",
    "BufferOverflowError",
    "ConfigurationError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "HandshakeError",
    "InsecureURLError",
    "MissingAPIKeyError",
    "RxRealtimeError",
    "SessionRejectedError",
    "redact",
]

_MASK = "***"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Return ``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, _MASK)
    return text


class RxRealtimeError(Exception):
    """Base class of every exception rxrealtime raises on purpose."""


class ConfigurationError(RxRealtimeError, ValueError):
    """The arguments given to ``connect()`` cannot work; raised before any network I/O."""


class MissingAPIKeyError(ConfigurationError):
    """No API key was given (argument or environment) for an endpoint that needs one."""


class InsecureURLError(ConfigurationError):
    """Plain ``ws://`` to a non-loopback host, refused unless ``allow_insecure=True``."""


class HandshakeError(RxRealtimeError):
    """The server refused the WebSocket upgrade (``status_code`` is the HTTP status, if any)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


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


class BufferOverflowError(RxRealtimeError):
    """A bounded buffer whose overflow policy is ``"error"`` was full when a value arrived."""
