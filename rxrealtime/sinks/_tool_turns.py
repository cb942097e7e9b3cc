"""The tool runner's records: its statistics snapshot and the state of the calls of one
response (see :mod:`rxrealtime.sinks.tool_runner`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from rxrealtime import events as ev
from rxrealtime.operators import ToolCall
from rxrealtime.session.ask import FOLLOWS_KEY, PROGRESS_KEY
from rxrealtime.session.reconnect import ResponseInterrupted
from rxrealtime.tools import output_text

__all__ = [
    "CallState",
    "Request",
    "ToolRunnerStatistics",
    "Turn",
    "dropped",
    "error_output",
    "refused",
]

ACTIVE_RESPONSE = "conversation_already_has_active_response"


@attrs.frozen
class ToolRunnerStatistics:
    """A snapshot of what a :class:`ToolRunner` has done."""

    calls_received: int
    calls_answered: int
    """Calls whose output was sent."""
    tool_errors: int
    """Calls answered with an error output (unknown tool, bad arguments, raised, timed out)."""
    responses_requested: int
    """Follow-up ``response.create`` events sent (progress responses not included)."""
    calls_running: int
    calls_cancelled: int = 0
    """Calls dropped because their response was cancelled or cut off: no output sent."""
    calls_timed_out: int = 0
    progress_responses: int = 0
    declarations: int = 0
    """``session.update`` events sent to declare the tools."""


@attrs.define(eq=False)
class CallState:
    call: ToolCall
    task: asyncio.Task[str] | None = None
    output: str | None = None


@attrs.define(eq=False)
class Turn:
    """The calls of one response, held until the response is done and every output is ready."""

    response_id: str | None
    calls: dict[str, CallState] = attrs.Factory(dict)
    done: bool = False
    modalities: list[str] | None = None
    timer: asyncio.TimerHandle | None = None

    def ready(self) -> bool:
        return self.done and all(c.output is not None for c in self.calls.values())


@attrs.frozen
class Request:
    """A ``response.create`` to send: a follow-up, or a progress response, for the calls of
    ``response_id``."""

    kind: Literal["follow_up", "progress"]
    response_id: str | None
    modalities: list[str] | None

    @property
    def key(self) -> str:
        """The ``response.metadata`` key that tags the response it requests."""
        return FOLLOWS_KEY if self.kind == "follow_up" else PROGRESS_KEY

    def tagged(self, metadata: Mapping[str, Any]) -> bool:
        """Whether a response with ``metadata`` is the one this request asked for."""
        return metadata.get(self.key) == (self.response_id or "")


def refused(event: ev.ErrorEvent, request_id: str) -> bool:
    error = event.error
    if error is None or error.code != ACTIVE_RESPONSE:
        return False
    return error.event_id in (None, request_id)


def error_output(message: str) -> str:
    return output_text({"error": message})


def dropped(response: ev.Response, event: ev.ResponseDone) -> bool:
    """Cancelled (by the user's turn or a ``response.cancel``) or cut off by a reconnect."""
    return response.status == "cancelled" or isinstance(event, ResponseInterrupted)
