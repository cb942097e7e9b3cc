"""Sinks that answer the server: the tool runner (and, re-exported from
:mod:`rxrealtime.sinks._sending`, the ordered sender, ``send_events`` and ``handle_barge_in``).

::

    runner = rr.sinks.run_tools(session, [get_weather, calculate],
                                response={"output_modalities": ["text"]})

``run_tools`` declares the tools in the session configuration, runs every function call the
model makes off the receive loop and answers it; see :func:`run_tools` for each guarantee.
Everything here needs only something shaped like a session (:class:`SessionLike`): an
``events`` Observable and an ``async send(event)``; it must be started from code running on the
loop ``send`` belongs to, and returns a disposable (``dispose()``, or ``await aclose()`` to also
wait for in-flight work to stop).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeAlias

from reactivex.abc import DisposableBase

from rxrealtime import events as ev
from rxrealtime.operators import ToolCall, ToolCallAssembler
from rxrealtime.session.ask import (
    expect_follow_ups,
    hold_asks_until,
)
from rxrealtime.session.reconnect import Reconnected
from rxrealtime.sinks._sending import (
    EventSender,
    SendingSubscription,
    SessionLike,
    handle_barge_in,
    on_loop,
    send_events,
)
from rxrealtime.sinks._tool_turns import (
    CallState,
    Request,
    ToolRunnerStatistics,
    Turn,
    dropped,
    error_output,
    refused,
)
from rxrealtime.tools import FunctionTool, ToolArgumentsError, output_text, tool

__all__ = [
    "DEFAULT_TIMEOUT",
    "EventSender",
    "ResponseOptions",
    "SendingSubscription",
    "SessionLike",
    "Tool",
    "ToolRunner",
    "ToolRunnerStatistics",
    "handle_barge_in",
    "run_tools",
    "send_events",
]

logger = logging.getLogger("rxrealtime.sinks")

Tool: TypeAlias = Callable[..., Any]
"""A tool: a :class:`~rxrealtime.tools.FunctionTool`, or a sync or async function called with
the call's arguments as keyword arguments."""
ResponseOptions: TypeAlias = "Mapping[str, Any] | ev.ResponseCreateParams"

DEFAULT_TIMEOUT = 30.0
"""Seconds a tool may run before its call is answered with a timeout error."""

_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


class ToolRunner(DisposableBase):
    """Executes the model's function calls and answers them; see :func:`run_tools`."""

    def __init__(
        self,
        session: SessionLike,
        tools: Mapping[str, Tool],
        *,
        declared: Iterable[FunctionTool[..., Any]] = (),
        response: ResponseOptions | None = _NO_OPTIONS,
        timeout: float | None = DEFAULT_TIMEOUT,
        progress: str | None = None,
        progress_after: float = 3.0,
        sync_in_thread: bool = True,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 or None, got {timeout!r}")
        if progress_after < 0:
            raise ValueError(f"progress_after must be >= 0, got {progress_after!r}")
        self._session = session
        self._tools = dict(tools)
        self._declared = list(declared)
        self._options: dict[str, Any] | None = None
        if response is not None:
            self._options = (
                ev.to_dict(response) if isinstance(response, ev.Model) else dict(response)
            )
        self._timeout = timeout
        self._progress = progress
        self._progress_after = progress_after
        self._sync_in_thread = sync_in_thread
        self._loop = asyncio.get_running_loop()
        self._sender = EventSender(session)
        self._assembler = ToolCallAssembler()
        self._tasks: set[asyncio.Task[str]] = set()
        self._turns: dict[str | None, Turn] = {}
        self._active: set[str] = set()
        self._queue: deque[Request] = deque()
        self._requesting: tuple[str, Request] | None = None  # (event_id, request) in flight
        self._received = self._answered = self._errors = self._requested = 0
        self._cancelled = self._timed_out = self._progressed = self._declarations = 0
        self._disposed = False
        self.session_error: Exception | None = None
        """The error that ended the session's stream, if it ended abnormally."""
        self._declaring: asyncio.Future[None] | None = None
        self._withdraw = expect_follow_ups(session) if self._options is not None else None
        self._declare()
        self._subscription = session.events.subscribe(self._on_next, self._on_session_error)

    def statistics(self) -> ToolRunnerStatistics:
        """An immutable snapshot of the counters."""
        return ToolRunnerStatistics(
            calls_received=self._received,
            calls_answered=self._answered,
            tool_errors=self._errors,
            responses_requested=self._requested,
            calls_running=len(self._tasks),
            calls_cancelled=self._cancelled,
            calls_timed_out=self._timed_out,
            progress_responses=self._progressed,
            declarations=self._declarations,
        )

    @property
    def tools(self) -> tuple[FunctionTool[..., Any], ...]:
        """The tools this runner declares."""
        return tuple(self._declared)

    def _on_session_error(self, error: Exception) -> None:
        """The session ended abnormally: the session reports it; the runner just stops."""
        self.session_error = error
        self.dispose()

    def dispose(self) -> None:
        self._disposed = True
        self._subscription.dispose()
        for task in self._tasks:
            task.cancel()
        for turn in self._turns.values():
            if turn.timer is not None:
                turn.timer.cancel()
        if self._withdraw is not None:
            self._withdraw()
        if self._declaring is not None and not self._declaring.done():
            self._declaring.set_result(None)  # nobody waits for a declaration never sent
        self._sender.dispose()

    async def aclose(self) -> None:
        """Dispose and wait until running tools (async ones) and the sender have stopped."""
        tasks = list(self._tasks)
        self.dispose()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._sender.aclose()

    # -- declaring -----------------------------------------------------------------------------

    async def declared(self) -> None:
        """Wait until the latest declaration of the tools has been sent (at once when there is
        nothing to declare). Sends made right after ``run_tools()`` may otherwise overtake it;
        ``session.ask`` waits by itself."""
        if self._declaring is not None:
            await asyncio.shield(self._declaring)

    def _declare(self) -> None:
        if not self._declared:
            return
        self._declarations += 1
        sent: asyncio.Future[None] = self._loop.create_future()
        self._declaring = sent
        update = {
            "type": "session.update",
            "session": {"type": "realtime", "tools": [t.definition for t in self._declared]},
        }

        def on_sent() -> None:
            if not sent.done():
                sent.set_result(None)

        self._sender.put(update, on_sent)
        hold_asks_until(self._session, sent)

    # -- event handling (always on the loop thread) --------------------------------------------

    def _on_next(self, event: ev.ServerEvent) -> None:
        if on_loop(self._loop):
            self._handle(event)
        else:
            self._loop.call_soon_threadsafe(self._handle, event)

    def _handle(self, event: ev.ServerEvent) -> None:
        if self._disposed:
            return
        self._assembler.step(event, self._start)
        if isinstance(event, ev.ResponseCreated) and event.response is not None:
            self._active.add(event.response.id or "")
            metadata = event.response.metadata or {}
            if self._requesting is not None and self._requesting[1].tagged(metadata):
                self._requesting = None  # ours has started
        elif isinstance(event, ev.ResponseDone) and event.response is not None:
            self._active.discard(event.response.id or "")
            # Our request has started and ended, or (a server that does not echo metadata) the
            # response running when it was accepted did: either way we may ask again.
            self._requesting = None
            turn = self._turns.get(event.response.id)
            if turn is not None:
                self._response_done(turn, event.response, event)
        elif isinstance(event, ev.ErrorEvent) and self._requesting is not None:
            event_id, request = self._requesting
            if refused(event, event_id):  # benign: another response runs; ask after it
                self._queue.appendleft(request)
                self._requesting = None
        elif isinstance(event, Reconnected):
            self._active.clear()
            if self._requesting is not None:  # lost with the old connection
                self._queue.appendleft(self._requesting[1])
                self._requesting = None
            self._declare()
        self._request_if_ready()

    def _response_done(self, turn: Turn, response: ev.Response, event: ev.ResponseDone) -> None:
        if dropped(response, event):
            self._drop(turn)
            return
        turn.done = True
        turn.modalities = list(response.output_modalities or ()) or None
        if not self._advance(turn) and self._progress is not None:
            turn.timer = self._loop.call_later(self._progress_after, self._progress_due, turn)

    def _drop(self, turn: Turn) -> None:
        del self._turns[turn.response_id]
        if turn.timer is not None:
            turn.timer.cancel()
        for entry in turn.calls.values():
            if entry.task is not None:
                entry.task.cancel()
            self._cancelled += 1
        self._queue = deque(r for r in self._queue if r.response_id != turn.response_id)

    def _start(self, call: ToolCall) -> None:
        turn = self._turns.setdefault(call.response_id, Turn(call.response_id))
        if call.call_id in turn.calls:
            return
        self._received += 1
        entry = CallState(call)
        turn.calls[call.call_id] = entry
        task = self._loop.create_task(self._execute(call), name=f"rxrealtime-tool-{call.name}")
        entry.task = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(turn, entry, done))

    def _finished(self, turn: Turn, entry: CallState, task: asyncio.Task[str]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or self._disposed:
            return
        entry.output = task.result()
        if self._turns.get(turn.response_id) is turn:
            self._advance(turn)
            self._request_if_ready()

    def _advance(self, turn: Turn) -> bool:
        """Send the outputs of a finished turn and queue its follow-up; True when sent."""
        if not turn.ready():
            return False
        del self._turns[turn.response_id]
        if turn.timer is not None:
            turn.timer.cancel()
        self._queue = deque(r for r in self._queue if r.response_id != turn.response_id)
        for entry in turn.calls.values():
            assert entry.output is not None
            self._sender.put(
                ev.ConversationItemCreate.function_call_output(entry.call.call_id, entry.output)
            )
            self._answered += 1
        if self._options is not None:
            self._queue.append(Request("follow_up", turn.response_id, turn.modalities))
        return True

    def _progress_due(self, turn: Turn) -> None:
        turn.timer = None
        if not self._disposed and self._turns.get(turn.response_id) is turn:
            self._queue.append(Request("progress", turn.response_id, turn.modalities))
            self._request_if_ready()

    # -- running a tool ------------------------------------------------------------------------

    async def _execute(self, call: ToolCall) -> str:
        """The output for ``call``: the tool's result, or an error output (never raises but
        ``CancelledError``)."""
        tool = self._tools.get(call.name)
        if tool is None:
            self._errors += 1
            return error_output(f"unknown tool {call.name!r}")
        if call.error is not None:
            self._errors += 1
            return error_output(f"invalid arguments: {call.error}")
        timeout = self._timeout
        if isinstance(tool, FunctionTool) and tool.timeout is not None:
            timeout = tool.timeout
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                result = await self._invoke(tool, call.arguments)
            return output_text(result)
        except ToolArgumentsError as error:
            self._errors += 1
            return error_output(str(error))
        except TimeoutError as error:
            self._errors += 1
            if not deadline.expired():  # the tool itself raised it: an ordinary failure
                logger.warning("tool %r raised for call %s", call.name, call.call_id, exc_info=True)
                return error_output(f"TimeoutError: {error}")
            self._timed_out += 1
            logger.warning("tool %r timed out (call %s)", call.name, call.call_id)
            return error_output(f"{call.name} did not finish within {timeout:g} seconds")
        except Exception as error:
            self._errors += 1
            logger.warning("tool %r raised for call %s", call.name, call.call_id, exc_info=True)
            return error_output(f"{type(error).__name__}: {error}")

    async def _invoke(self, tool: Tool, arguments: Mapping[str, Any]) -> Any:
        if isinstance(tool, FunctionTool):
            return await tool.invoke(arguments, in_thread=self._sync_in_thread)
        if inspect.iscoroutinefunction(tool) or not self._sync_in_thread:
            result = tool(**arguments)
        else:
            result = await asyncio.to_thread(tool, **arguments)
        if inspect.isawaitable(result):
            result = await result
        return result

    # -- requesting responses ------------------------------------------------------------------

    def _request_if_ready(self) -> None:
        if self._disposed or self._active or self._requesting is not None or not self._queue:
            return
        request = self._queue.popleft()
        if request.kind == "follow_up":
            assert self._options is not None
            params = dict(self._options)
            self._requested += 1
        else:
            params = {"conversation": "none", "instructions": self._progress, "tool_choice": "none"}
            self._progressed += 1
        if "output_modalities" not in params and request.modalities:
            params["output_modalities"] = request.modalities
        tag = {request.key: request.response_id or ""}
        params["metadata"] = {**(params.get("metadata") or {}), **tag}
        event_id = f"rxrealtime_tools_{id(self):x}_{self._requested + self._progressed}"
        self._requesting = (event_id, request)
        self._sender.put({"type": "response.create", "event_id": event_id, "response": params})


def _collect(
    tools: Iterable[Tool] | Mapping[str, Tool],
) -> tuple[dict[str, Tool], list[FunctionTool[..., Any]]]:
    by_name: dict[str, Tool] = {}
    declared: list[FunctionTool[..., Any]] = []
    if isinstance(tools, Mapping):
        pairs = list(tools.items())
    else:
        pairs = []
        for item in tools:
            made = item if isinstance(item, FunctionTool) else tool(item)
            pairs.append((made.name, made))
    for name, item in pairs:
        if name in by_name:
            raise ValueError(f"two tools are named {name!r}")
        if isinstance(item, FunctionTool):
            if item.name != name:
                item = FunctionTool(
                    item.function, name=name, description=item.description, timeout=item.timeout
                )
            declared.append(item)
        by_name[name] = item
    return by_name, declared


def run_tools(
    session: SessionLike,
    tools: Iterable[Tool] | Mapping[str, Tool],
    *,
    response: ResponseOptions | None = _NO_OPTIONS,
    declare: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT,
    progress: str | None = None,
    progress_after: float = 3.0,
    sync_in_thread: bool = True,
) -> ToolRunner:
    """Declare ``tools`` to the model, run the calls it makes and answer them.

    ``tools`` is a list of :func:`rxrealtime.tool` functions (a plain function in the list is
    made one), or a mapping from name to function (values that are not ``FunctionTool`` are
    answered but not declared: declare those yourself).

    Declaring
        Unless ``declare=False``, one ``session.update`` with ``{"type": "realtime", "tools":
        [...]}`` is queued at once (it replaces the session's tool list) and sent again after
        every :class:`~rxrealtime.reconnect.Reconnected` marker (a reconnecting session also
        restores it with the rest of its configuration; sending it again is harmless and keeps
        sessions that do not restore right). ``session.ask`` waits until it is sent; before
        sending a request yourself, ``await runner.declared()``.

    Running (no dead air)
        Every call (assembled by :func:`rxrealtime.operators.tool_calls`) starts as soon as its
        arguments are complete, as its own task: async tools on the loop, sync tools in a
        worker thread (``sync_in_thread=False`` calls them on the loop: only for tools that
        never block). The receive loop never waits for a tool, so audio, transcripts and
        barge-in go on while tools run, and calls run concurrently. Each call has ``timeout``
        seconds (a tool's own ``@tool(timeout=...)`` wins; ``None``: no limit); a sync tool that
        overruns keeps its thread until it returns, but its result is no longer awaited.

    Answering
        Arguments are checked and converted against the tool's signature; an unknown tool,
        arguments that do not fit, a tool that raises or times out are answered with
        ``{"error": "..."}`` (also logged on ``rxrealtime.sinks`` when the tool raised), so the
        model is never left waiting and nothing raises in the session. A result that is a
        ``str`` is sent verbatim, anything else as JSON. The outputs of one response are sent
        together, in call order, once that response is done and every one of its calls has
        finished, then exactly one ``response.create`` follows with ``response``'s options
        (``output_modalities``, ``instructions``, ``metadata``, ...; unless they set
        ``output_modalities``, the follow-up keeps the modalities of the response that made the
        calls, so a question asked for text is answered in text), its ``metadata`` tagged
        ``rxrealtime_follows`` with that response's id. ``response=None`` sends the outputs
        without starting a response.

    Cancelling (barge-in)
        When the response that made calls ends ``cancelled`` (the user spoke, or
        ``response.cancel``) or is cut off by a reconnect, its running calls are cancelled
        (async tools get ``CancelledError``; a sync tool's result is dropped) and none of its
        outputs is sent, nor a follow-up.

    Ordering
        A ``response.create`` is never sent while a response is in progress (tracked from
        ``response.created``/``response.done``), nor while an earlier one of ours has not
        started; if the service still refuses one with
        ``conversation_already_has_active_response`` (server VAD won the race), that is benign:
        it is sent again after the running response. All sends go through one ordered
        :class:`EventSender`, so every output is on the wire before the ``response.create``
        that follows it.

    Progress
        With ``progress="Tell the user you are still working on it."``, when a response's calls
        are still running ``progress_after`` seconds after it is done, one out-of-band response
        (``conversation: "none"``, ``tool_choice: "none"``, those instructions) is requested
        under the same ordering rules; the follow-up waits until it is done.

    Must be called on the session's event loop. Returns the :class:`ToolRunner`, a disposable
    with ``statistics()``.
    """
    by_name, declared = _collect(tools)
    return ToolRunner(
        session,
        by_name,
        declared=declared if declare else (),
        response=response,
        timeout=timeout,
        progress=progress,
        progress_after=progress_after,
        sync_in_thread=sync_in_thread,
    )
