"""Protocol errors the server reports as ``error`` events, with the live service's codes.

Handlers raise :class:`ClientError`; the connection turns it into one ``error`` event (carrying
the offending client event's ``event_id``) and keeps the session open.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ClientError",
    "invalid_type",
    "invalid_value",
    "missing_parameter",
    "server_error",
    "unknown_parameter",
]

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a decimal",
    bool: "a boolean",
    dict: "an object",
    list: "an array",
    type(None): "null",
}


class ClientError(Exception):
    """A non-fatal error caused by a client event."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None,
        param: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type

    def payload(self, event_id: str | None) -> dict[str, Any]:
        """The ``error`` object of the event (``event_id`` = the client event's id, if any)."""
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": event_id,
        }


def missing_parameter(param: str) -> ClientError:
    return ClientError(
        f"Missing required parameter: '{param}'.", code="missing_required_parameter", param=param
    )


def unknown_parameter(param: str) -> ClientError:
    return ClientError(f"Unknown parameter: '{param}'.", code="unknown_parameter", param=param)


def invalid_type(param: str, expected: type, value: object) -> ClientError:
    got = _TYPE_NAMES.get(type(value), type(value).__name__)
    return ClientError(
        f"Invalid type for '{param}': expected {_TYPE_NAMES.get(expected, expected.__name__)}, "
        f"but got {got} instead.",
        code="invalid_type",
        param=param,
    )


def _quoted_list(values: list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


_SHOWN = 200
"""Longest value echoed in an error message (a longer one is cut, so an error stays small)."""


def invalid_value(param: str, value: object, supported: list[str] | None = None) -> ClientError:
    shown = str(value)
    if len(shown) > _SHOWN:
        shown = shown[:_SHOWN] + "..."
    message = f"Invalid value: '{shown}'."
    if supported:
        message += f" Supported values are: {_quoted_list(supported)}."
    return ClientError(message, code="invalid_value", param=param)


def server_error() -> ClientError:
    """The ``error`` the live service sends when it fails on its side (type ``server_error``)."""
    return ClientError(
        "The server had an error while processing your request. Sorry about that!",
        code="server_error",
        type="server_error",
    )
