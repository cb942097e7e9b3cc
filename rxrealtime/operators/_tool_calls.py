"""``tool_calls``: function calls assembled from their argument deltas."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
from reactivex import Observable

from rxrealtime import events as ev

from ._accumulate import Accumulated, accumulate_deltas
from ._core import Clock, stateful
from ._parts import DeltaKind

__all__ = [
    "ToolCall",
    "ToolCallAssembler",
    "parse_arguments",
    "tool_call_arguments_partial",
    "tool_calls",
]


_ARGUMENTS: tuple[DeltaKind, ...] = ("function_call_arguments",)


@attrs.frozen
class ToolCall:
    """One complete function call the model asked for."""

    call_id: str
    name: str
    """The function's name; empty when the stream never said (a beta recording without the
    ``response.output_item.added`` event)."""
    item_id: str
    response_id: str | None
    arguments_json: str
    """The arguments exactly as the server sent them."""
    arguments: dict[str, Any]
    """The parsed arguments; empty when ``error`` is set."""
    error: str | None = None
    """Why ``arguments_json`` is not a JSON object, or ``None`` when it is."""


def parse_arguments(text: str) -> tuple[dict[str, Any], str | None]:
    """Parse function-call arguments: ``(arguments, None)`` or ``({}, error)``; never raises.

    Empty or blank text means "no arguments" (``{}``), as some models send for
    parameterless functions.
    """
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except ValueError as error:
        return {}, f"arguments are not valid JSON: {error}"
    if not isinstance(value, dict):
        return {}, f"arguments are JSON {type(value).__name__}, not an object"
    return value, None


def _call(
    call_id: str, name: str, item_id: str, response_id: str | None, arguments_json: str
) -> ToolCall:
    arguments, error = parse_arguments(arguments_json)
    return ToolCall(call_id, name, item_id, response_id, arguments_json, arguments, error)


class ToolCallAssembler:
    """The sans-I/O state machine behind :func:`tool_calls` (one per subscription).

    Remembers function names from ``response.output_item.added`` (beta ``…arguments.done`` has
    no ``name``) and the calls already emitted; both are released at ``response.done``.
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._emitted: dict[str | None, set[str]] = {}

    @property
    def open_state(self) -> int:
        """Entries held (names and emitted calls of responses not yet done)."""
        return len(self._names) + len(self._emitted)

    def step(self, event: ev.ServerEvent, emit: Callable[[ToolCall], None]) -> None:
        """Feed one event; ``emit`` is called synchronously for each completed call, each
        ``call_id`` at most once per response (from ``…arguments.done`` or, failing that, from
        ``response.done``)."""
        if isinstance(event, ev.ResponseOutputItemAdded):
            item = event.item
            if isinstance(item, ev.FunctionCall) and item.call_id and item.name:
                self._names[item.call_id] = item.name
        elif isinstance(event, ev.ResponseFunctionCallArgumentsDone):
            name = getattr(event, "name", None) or self._names.get(event.call_id, "")
            self._emit(
                _call(event.call_id, name, event.item_id, event.response_id, event.arguments or ""),
                emit,
            )
        elif isinstance(event, ev.ResponseDone) and event.response is not None:
            self._finish_response(event.response, emit)

    def finish(self, emit: Callable[[ToolCall], None]) -> None:
        """The stream ended: drop all state (nothing more is emitted)."""
        self._names.clear()
        self._emitted.clear()

    def _emit(self, call: ToolCall, emit: Callable[[ToolCall], None]) -> None:
        self._names.pop(call.call_id, None)
        self._emitted.setdefault(call.response_id, set()).add(call.call_id)
        emit(call)

    def _finish_response(self, response: ev.Response, emit: Callable[[ToolCall], None]) -> None:
        # A call whose ``…arguments.done`` never came (a stream that only reports items) is still
        # a call: take it from the final response, unless it was already emitted.
        emitted = self._emitted.pop(response.id, set())
        for item in response.output or ():
            if isinstance(item, ev.FunctionCall) and item.call_id and item.call_id not in emitted:
                call = _call(
                    item.call_id, item.name or "", item.id or "", response.id, item.arguments or ""
                )
                emit(call)
            if isinstance(item, ev.FunctionCall) and item.call_id:
                self._names.pop(item.call_id, None)


def tool_calls() -> Callable[[Observable[ev.ServerEvent]], Observable[ToolCall]]:
    """Function calls, one :class:`ToolCall` per ``call_id``, when their arguments are complete.

    ::

        --item.added(fc c1 "get_weather")--args.delta(c1,'{"ci')--args.done(c1,'{"city":"Oslo"}')--|
        ----------------------------------------------------------[c1 get_weather {city: Oslo}]----|

    ``arguments_json`` is the server's final string and ``arguments`` its parse. Invalid JSON
    (or JSON that is not an object) never errors the stream: the call is emitted with
    ``arguments == {}`` and ``error`` describing the problem, so a tool runner can answer the
    model. A call the stream only reports in ``response.done``'s output (no ``…arguments.done``)
    is emitted at ``response.done``. Calls are emitted in the order they complete; each
    ``call_id`` at most once per response. Completion and errors are the source's. For the
    arguments while they stream, see :func:`tool_call_arguments_partial`.
    """

    def factory(_clock: Clock) -> ToolCallAssembler:
        return ToolCallAssembler()

    return stateful(factory)


def tool_call_arguments_partial() -> Callable[
    [Observable[ev.ServerEvent]], Observable[Accumulated]
]:
    """Function-call arguments as they stream: :func:`accumulate_deltas` restricted to
    ``kind == "function_call_arguments"`` (``.call_id`` set, ``.text`` = the JSON so far,
    ``.done`` on the server's final arguments), in arrival order; state is released as
    :func:`accumulate_deltas` releases it; completion and errors are the source's.

    ::

        --args.delta(c1,'{"a"')--args.delta(c1,':1}')--args.done(c1,'{"a":1}')--|
        --[c1 '{"a"']------------[c1 '{"a":1}']--------[c1 '{"a":1}' done]------|
    """
    return accumulate_deltas(kinds=_ARGUMENTS)
