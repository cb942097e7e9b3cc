"""The exception :func:`~rxrealtime.operators.raise_on_error` puts on the error channel."""

from __future__ import annotations

from rxrealtime import events as ev
from rxrealtime.errors import RxRealtimeError

__all__ = ["RealtimeServerError"]


class RealtimeServerError(RxRealtimeError):
    """A server ``error`` event, raised because the pipeline opted in with ``raise_on_error()``.

    The fields mirror the wire's ``error`` object; ``event`` is the decoded event itself.
    """

    def __init__(self, event: ev.ErrorEvent) -> None:
        error = event.error
        self.event = event
        self.type: str | None = error.type if error else None
        self.code: str | None = error.code if error else None
        self.message: str | None = error.message if error else None
        self.param: str | None = error.param if error else None
        self.client_event_id: str | None = error.event_id if error else None
        label = f"{self.type or 'error'}" + (f" ({self.code})" if self.code else "")
        super().__init__(f"{label}: {self.message or ''}".rstrip(": "))
