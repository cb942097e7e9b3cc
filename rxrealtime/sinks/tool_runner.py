"""Sinks that answer the server: the tool runner, an ordered sender, and barge-in wiring.

``run_tools(session, tools)`` executes every function call the model makes and answers it;
``send_events(session, client_events)`` sends an Observable of client events in order;
``handle_barge_in(session)`` sends what :func:`rxrealtime.operators.barge_in` decides.

All three need only something shaped like a session (:class:`SessionLike`): an ``events``
Observable and an ``async send(event)``; they must be started from code running on the event
loop that ``send`` belongs to, and they return a disposable (``dispose()``, or ``await
aclose()`` to also wait for in-flight work to stop).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeAlias

import attrs
from reactivex import Observable
from reactivex.abc import DisposableBase

from rxrealtime import events as ev
from rxrealtime.operators import (
    AudioFormat,
    PlaybackPosition,
    ToolCall,
    ToolCallAssembler,
    barge_in,
)

__all__ = [
    "EventSender",
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

Outgoing: TypeAlias = "ev.ClientEvent | Mapping[str, Any]"
Tool: TypeAlias = Callable[..., Any]
"""A tool: a sync or async function called with the call's arguments as keyword arguments."""

_ACTIVE_RESPONSE = "conversation_already_has_active_response"


class SessionLike(Protocol):
    """What the sinks here need from a session (``rxrealtime.connect()`` gives one)."""

    @property
    def events(self) -> Observable[ev.ServerEvent]: ...

    def send(self, event: Any, /) -> Awaitable[Any]: ...


class EventSender(DisposableBase):
    """Sends client events to a session one at a time, in the order they were queued.

    One asyncio task awaits ``session.send`` for each event in turn, so events are written in
    queue order even when ``send`` suspends. If a send raises, the error is logged, the sender
    stops and later events are dropped (a failing ``send`` means the session is gone).
    """

    def __init__(self, session: SessionLike) -> None:
        self._session = session
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        self._task = self._loop.create_task(self._run(), name="rxrealtime-send")
        self.sent = 0
        self.failed: BaseException | None = None

    def put(self, event: Outgoing) -> None:
        """Queue ``event``; callable from any thread."""
        if self._task.done():
            return
        if _on_loop(self._loop):
            self._queue.put_nowait(event)
        else:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._session.send(event)
            except Exception as error:
                self.failed = error
                logger.error("sending %s failed; sender stopped: %r", _type_of(event), error)
                return
            self.sent += 1

    def dispose(self) -> None:
        self._task.cancel()

    async def aclose(self) -> None:
        """Dispose and wait until the sending task has stopped."""
        self.dispose()
        await asyncio.gather(self._task, return_exceptions=True)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _type_of(event: Outgoing) -> str:
    return str(event.get("type") if isinstance(event, Mapping) else event.type)


class SendingSubscription(DisposableBase):
    """A subscription whose values go to an :class:`EventSender`."""

    def __init__(self, session: SessionLike, client_events: Observable[Outgoing]) -> None:
        self.sender = EventSender(session)
        self._subscription = client_events.subscribe(
            self.sender.put,
            lambda error: logger.error("client event stream failed: %r", error),
        )

    def dispose(self) -> None:
        self._subscription.dispose()
        self.sender.dispose()

    async def aclose(self) -> None:
        self._subscription.dispose()
        await self.sender.aclose()


def send_events(session: SessionLike, client_events: Observable[Outgoing]) -> SendingSubscription:
    """Subscribe to ``client_events`` and send each to ``session``, in order.

    Must be called on the session's event loop. Returns a disposable: ``dispose()`` stops
    subscribing and sending (events still queued are dropped); ``await aclose()`` also waits
    for the sending task to finish.
    """
    return SendingSubscription(session, client_events)


def handle_barge_in(
    session: SessionLike,
    *,
    format: AudioFormat | None = None,
    playback_position: PlaybackPosition | None = None,
    cancel_response: bool = False,
    clear_output_audio: bool = False,
) -> SendingSubscription:
    """Send the ``conversation.item.truncate`` (and opt-in ``response.cancel`` /
    ``output_audio_buffer.clear``) that :func:`rxrealtime.operators.barge_in` emits for
    ``session.events``. The options are ``barge_in``'s; the clock is the subscriber's default
    (the wall clock, or the session's scheduler if its ``events`` supplies one).
    """
    options: dict[str, Any] = {}
    if format is not None:
        options["format"] = format
    decide = barge_in(
        playback_position=playback_position,
        cancel_response=cancel_response,
        clear_output_audio=clear_output_audio,
        **options,
    )
    return send_events(session, session.events.pipe(decide))


@attrs.frozen
class ToolRunnerStatistics:
    """A snapshot of what a :class:`ToolRunner` has done."""

    calls_received: int
    calls_answered: int
    tool_errors: int
    """Calls answered with an error output (unknown tool, bad arguments, the tool raised)."""
    responses_requested: int
    calls_running: int


def _refused(event: ev.ErrorEvent, request_id: str) -> bool:
    error = event.error
    if error is None or error.code != _ACTIVE_RESPONSE:
        return False
    return error.event_id in (None, request_id)


def _error_output(message: str) -> str:
    return json.dumps({"error": message})


def _output_text(result: Any) -> str:
    return result if isinstance(result, str) else json.dumps(result, default=str)


class ToolRunner(DisposableBase):
    """Executes the model's function calls and answers them; see :func:`run_tools`."""

    def __init__(
        self, session: SessionLike, tools: Mapping[str, Tool], *, sync_in_thread: bool
    ) -> None:
        self._tools = dict(tools)
        self._sync_in_thread = sync_in_thread
        self._loop = asyncio.get_running_loop()
        self._sender = EventSender(session)
        self._calls = ToolCallAssembler()
        self._tasks: set[asyncio.Task[None]] = set()
        self._active: set[str] = set()
        self._with_calls: set[str | None] = set()
        self._running: dict[str | None, int] = {}
        self._follow_ups: deque[str | None] = deque()
        self._requesting = False  # our response.create has not produced a response yet
        self._requested_for: str | None = None
        self._request_id = ""
        self._received = self._answered = self._errors = self._requested = 0
        self.session_error: Exception | None = None
        """The error that ended the session's stream, if it ended abnormally."""
        self._subscription = session.events.subscribe(self._on_next, self._on_session_error)

    def statistics(self) -> ToolRunnerStatistics:
        return ToolRunnerStatistics(
            calls_received=self._received,
            calls_answered=self._answered,
            tool_errors=self._errors,
            responses_requested=self._requested,
            calls_running=len(self._tasks),
        )

    def _on_session_error(self, error: Exception) -> None:
        """The session ended abnormally: the session reports it; the runner just stops."""
        self.session_error = error
        self.dispose()

    def dispose(self) -> None:
        self._subscription.dispose()
        for task in self._tasks:
            task.cancel()
        self._sender.dispose()

    async def aclose(self) -> None:
        """Dispose and wait until running tools (async ones) and the sender have stopped."""
        tasks = list(self._tasks)
        self.dispose()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._sender.aclose()

    # -- event handling (always on the loop thread) --------------------------------------------

    def _on_next(self, event: ev.ServerEvent) -> None:
        if _on_loop(self._loop):
            self._handle(event)
        else:
            self._loop.call_soon_threadsafe(self._handle, event)

    def _handle(self, event: ev.ServerEvent) -> None:
        self._calls.step(event, self._start)
        if isinstance(event, ev.ResponseCreated) and event.response is not None:
            self._active.add(event.response.id or "")
        elif isinstance(event, ev.ResponseDone) and event.response is not None:
            response_id = event.response.id
            self._active.discard(response_id or "")
            # Only one response runs at a time, so the response that ends after our request was
            # accepted is the one we asked for (a refused request errors before that).
            self._requesting = False
            if response_id in self._with_calls:
                self._with_calls.discard(response_id)
                if event.response.status != "cancelled":
                    self._follow_ups.append(response_id)
        elif (
            isinstance(event, ev.ErrorEvent)
            and self._requesting
            and _refused(event, self._request_id)
        ):
            # Another response (e.g. from server VAD) was running: ask again after it.
            self._follow_ups.appendleft(self._requested_for)
            self._requesting = False
        self._request_if_ready()

    def _start(self, call: ToolCall) -> None:
        self._received += 1
        self._with_calls.add(call.response_id)
        self._running[call.response_id] = self._running.get(call.response_id, 0) + 1
        task = self._loop.create_task(self._answer(call), name=f"rxrealtime-tool-{call.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, call: ToolCall) -> None:
        output = await self._execute(call)
        self._sender.put(
            ev.ConversationItemCreate(
                item=ev.FunctionCallOutput(call_id=call.call_id, output=output)
            )
        )
        self._answered += 1
        self._running[call.response_id] -= 1
        if not self._running[call.response_id]:
            del self._running[call.response_id]
        self._request_if_ready()

    async def _execute(self, call: ToolCall) -> str:
        tool = self._tools.get(call.name)
        if tool is None:
            self._errors += 1
            return _error_output(f"unknown tool {call.name!r}")
        if call.error is not None:
            self._errors += 1
            return _error_output(f"invalid arguments: {call.error}")
        try:
            if inspect.iscoroutinefunction(tool) or not self._sync_in_thread:
                result = tool(**call.arguments)
            else:
                result = await asyncio.to_thread(tool, **call.arguments)
            if inspect.isawaitable(result):
                result = await result
            return _output_text(result)
        except Exception as error:
            self._errors += 1
            logger.warning("tool %r raised for call %s", call.name, call.call_id, exc_info=True)
            return _error_output(f"{type(error).__name__}: {error}")

    def _request_if_ready(self) -> None:
        if self._active or self._requesting or not self._follow_ups:
            return
        response_id = self._follow_ups[0]
        if self._running.get(response_id):
            return  # its outputs are not all sent yet
        self._follow_ups.popleft()
        self._requesting, self._requested_for = True, response_id
        self._requested += 1
        self._request_id = f"rxrealtime_tools_{id(self):x}_{self._requested}"
        self._sender.put(ev.ResponseCreate(event_id=self._request_id))


def run_tools(
    session: SessionLike, tools: Mapping[str, Tool], *, sync_in_thread: bool = True
) -> ToolRunner:
    """Execute the model's function calls with ``tools`` and answer the model.

    For every call (assembled by :func:`rxrealtime.operators.tool_calls`):

    * the tool named by the call runs with the parsed arguments as keyword arguments. Async
      functions are awaited on the loop; sync functions run in a worker thread via
      ``asyncio.to_thread`` (``sync_in_thread=False`` calls them on the loop — only for tools
      that never block). Calls run concurrently;
    * the result is sent as ``conversation.item.create`` with a ``function_call_output`` item
      (a ``str`` result verbatim, anything else as JSON). An unknown tool, arguments that are
      not a JSON object, or a tool that raises are answered with ``{"error": "..."}`` so the
      model is never left waiting (a raising tool is also logged on ``rxrealtime.sinks``);
    * once a response that had calls is done (``response.done``, unless it was cancelled) and
      all its outputs are sent, exactly one ``response.create`` is sent for it — never while a
      response is in progress (tracked from ``response.created``/``response.done``) and never
      while an earlier ``response.create`` of ours has not started yet, which avoids
      ``conversation_already_has_active_response``; should that error come anyway (server VAD
      started a response first), the request is repeated after the running response.

    All sends go through one ordered :class:`EventSender`: every output is on the wire before
    the ``response.create`` that follows it. Must be called on the session's event loop.
    Returns the :class:`ToolRunner` (a disposable; ``statistics()`` gives counters).
    """
    return ToolRunner(session, tools, sync_in_thread=sync_in_thread)
