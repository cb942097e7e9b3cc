"""One-call answers: ``await session.ask("question")`` sends a user message, requests a
response and returns that response's summary.

::

    answer = await session.ask("What is 6 * 7?", output="text")
    answer.text, answer.status, answer.usage       # an ops.ResponseSummary, and more

    async for words in session.ask("Tell me a story", output="audio"):
        print(words, end="")                        # transcript deltas as they stream

What it sends
    A ``conversation.item.create`` holding the user's text (none when ``text`` is ``None``),
    then one ``response.create`` whose ``response`` has ``output_modalities`` ``[output]``,
    the given ``instructions`` and ``metadata``, any other ``response`` options, and a tag in its
    metadata (``rxrealtime_ask``) by which the answer is told from other responses. If the
    service refuses it because another response is running
    (``conversation_already_has_active_response``), it is sent again when that one is done.
    Before sending, it waits until every tool runner started on the session has declared its
    tools, so ``run_tools(...)`` followed by ``await session.ask(...)`` never races.

Which response is the answer
    On a live session, the one whose ``response.created`` carries the tag. On a
    :class:`~rxrealtime.replay.ReplaySession` nothing sent steers the stream, so the answer is
    the first response that starts after the request was sent: an ``ask`` made before anything
    else listens starts the replay and sees the whole recording; a later one sees only what is
    replayed after it subscribed (pace the replay with ``speed=`` to leave room).

    When the answer ends with function calls (status ``completed``) and a tool runner that
    sends follow-up responses runs on the session (or ``follow_tools=True``), the follow-up
    the runner requests for it (tagged
    ``rxrealtime_follows``; on a replay, the next response) is awaited too, and so on: the
    result summarises the last response of that chain, ``tool_calls`` holds every call made on
    the way and ``previous`` the summaries of the earlier responses.

Guarantees
    It subscribes to ``session.events`` like any consumer, so it works while other subscribers
    run, and on any loop (a notebook's included: ``await`` it at the top level). Nothing is sent
    until the :class:`Ask` is awaited or iterated. An ``error`` event answering one of its sends
    raises :class:`~rxrealtime.operators.RealtimeServerError`; the end of the session raises
    :class:`~rxrealtime.errors.ConnectionClosed` (the session's error, or
    ``ConnectionClosedOK``); ``timeout`` seconds without an answer raise ``TimeoutError``.
    Cancelling the awaiting task unsubscribes and sends nothing more (a response already
    requested runs on). Awaiting the same :class:`Ask` again returns the same answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from datetime import datetime
from typing import Any, Literal, Protocol

import attrs
from reactivex import abc

from rxrealtime import events as ev
from rxrealtime.audio import b64
from rxrealtime.errors import ConnectionClosedOK
from rxrealtime.operators import (
    RealtimeServerError,
    ResponseSummary,
    ResponseTracker,
    ToolCall,
    ToolCallAssembler,
)

__all__ = [
    "ASK_KEY",
    "FOLLOWS_KEY",
    "PROGRESS_KEY",
    "Answer",
    "Ask",
    "AskableSession",
    "expect_follow_ups",
    "hold_asks_until",
]

ASK_KEY = "rxrealtime_ask"
"""The ``response.metadata`` key that tags the response an ``ask`` requested."""
FOLLOWS_KEY = "rxrealtime_follows"
"""The ``response.metadata`` key of a tool runner's follow-up: the id of the response whose
calls it follows."""
PROGRESS_KEY = "rxrealtime_progress"
"""The ``response.metadata`` key of a tool runner's "still working" response."""

_ACTIVE_RESPONSE = "conversation_already_has_active_response"


class AskableSession(Protocol):
    """What :class:`Ask` needs from a session (live and replayed sessions have it)."""

    @property
    def events(self) -> Any: ...

    @property
    def scheduler(self) -> abc.SchedulerBase: ...

    async def send(self, event: Any, /) -> None: ...


# -- coordination with tool runners (which live in the sinks layer, below this one) ----------


@attrs.define
class _Coordination:
    follow_ups: int = 0
    pending: set[asyncio.Future[None]] = attrs.Factory(set)


_COORDINATION: weakref.WeakKeyDictionary[object, _Coordination] = weakref.WeakKeyDictionary()


def _coordination(session: object) -> _Coordination | None:
    try:
        return _COORDINATION.setdefault(session, _Coordination())
    except TypeError:  # not weakly referenceable: no coordination
        return None


def expect_follow_ups(session: object) -> Callable[[], None]:
    """Tell ``ask`` that a tool runner on ``session`` requests a follow-up response after the
    calls it answers (so an answer ending with calls is followed); call the returned function
    to withdraw."""
    state = _coordination(session)
    if state is None:
        return lambda: None
    state.follow_ups += 1
    withdrawn = False

    def withdraw() -> None:
        nonlocal withdrawn
        if not withdrawn:
            withdrawn = True
            state.follow_ups -= 1

    return withdraw


def hold_asks_until(session: object, done: asyncio.Future[None]) -> None:
    """Make every ``ask`` on ``session`` wait for ``done`` before it sends (a tool runner's
    declaration of its tools)."""
    state = _coordination(session)
    if state is not None and not done.done():
        state.pending.add(done)
        done.add_done_callback(state.pending.discard)


def _follow_ups_expected(session: object) -> bool:
    state = _COORDINATION.get(session) if _weakrefable(session) else None
    return state is not None and state.follow_ups > 0


def _weakrefable(session: object) -> bool:
    try:
        weakref.ref(session)
    except TypeError:
        return False
    return True


async def _declarations(session: object) -> None:
    state = _COORDINATION.get(session) if _weakrefable(session) else None
    if state is not None and state.pending:
        await asyncio.wait(set(state.pending))  # never cancels them


# -- the answer ------------------------------------------------------------------------------


def _audio_repr(audio: bytes) -> str:
    return f"<{len(audio)} bytes>"


@attrs.frozen
class Answer(ResponseSummary):
    """What ``await session.ask(...)`` returns: the :class:`~rxrealtime.operators.ResponseSummary`
    of the answering response (``text`` or ``transcript``, ``status``, ``usage``, ``output``,
    ``created_at``/``first_delta_at``/``done_at``), plus what one call needs."""

    audio: bytes = attrs.field(default=b"", repr=_audio_repr)
    """The response's output audio, decoded from base64, in the session's output format."""
    tool_calls: tuple[ToolCall, ...] = ()
    """Every function call made on the way (the chain's earlier responses included)."""
    previous: tuple[ResponseSummary, ...] = ()
    """Summaries of the earlier responses of the chain (the ones that made the calls)."""
    asked_at: datetime | None = None
    """Scheduler time at which the ``response.create`` was sent."""


class _End:
    """Marks the end of the deltas in an iterator's queue."""


class _Tracker:
    """The sans-I/O core: sees every event, decides which response answers, collects it."""

    def __init__(
        self,
        *,
        steered: bool,
        follow: Callable[[], bool],
        clock: Callable[[], datetime],
        on_delta: Callable[[str], None],
        on_resend: Callable[[], None],
        on_end: Callable[[Answer | BaseException], None],
    ) -> None:
        self.token = uuid.uuid4().hex[:16]
        self.steered = steered
        self._follow = follow
        self._on_delta, self._on_resend, self._on_end = on_delta, on_resend, on_end
        self.request_ids: set[str] = set()
        """The event ids of the ``response.create`` events sent."""
        self.event_ids: set[str] = set()
        """The event ids of everything sent."""
        self.requested = False
        self.asked_at: datetime | None = None
        self.response_id: str | None = None
        self._following: str | None = None  # the response whose follow-up is awaited
        self._refused = False
        self._summaries = ResponseTracker(clock)
        self._assembler = ToolCallAssembler()
        self._calls: list[ToolCall] = []
        self._previous: list[ResponseSummary] = []
        self._audio = bytearray()
        self.ended = False

    def _ours(self, response: ev.Response) -> bool:
        metadata = response.metadata or {}
        if self._following is not None:
            return not self.steered or metadata.get(FOLLOWS_KEY) == self._following
        if not self.steered:
            return self.requested
        return metadata.get(ASK_KEY) == self.token

    def step(self, event: ev.ServerEvent) -> None:
        if self.ended:
            return
        if (
            isinstance(event, ev.ResponseCreated)
            and event.response is not None
            and self.response_id is None
            and self._ours(event.response)
        ):
            self.response_id, self._following = event.response.id or "", None
            self._audio.clear()
        self._assembler.step(event, self._call)
        self._summaries.step(event, self._summary)
        if self.response_id is None:
            self._refusal(event)
            return
        if getattr(event, "response_id", None) != self.response_id:
            return
        if isinstance(event, ev.ResponseOutputTextDelta | ev.ResponseOutputAudioTranscriptDelta):
            self._on_delta(event.delta)
        elif isinstance(event, ev.ResponseOutputAudioDelta):
            with contextlib.suppress(ValueError):  # skipped, as the audio operators skip it
                self._audio += b64.decode(event.delta)

    def _refusal(self, event: ev.ServerEvent) -> None:
        if isinstance(event, ev.ErrorEvent) and event.error is not None:
            if event.error.event_id not in self.event_ids:
                return
            if event.error.code == _ACTIVE_RESPONSE and event.error.event_id in self.request_ids:
                self._refused = True  # sent again when the running response is done
            else:
                self._end(RealtimeServerError(event))
        elif isinstance(event, ev.ResponseDone) and self._refused:
            self._refused = False
            self._on_resend()

    def _call(self, call: ToolCall) -> None:
        if call.response_id is not None and call.response_id == self.response_id:
            self._calls.append(call)

    def _summary(self, summary: ResponseSummary) -> None:
        if self.response_id is None or summary.id != self.response_id:
            return
        made_calls = any(call.response_id == summary.id for call in self._calls)
        if made_calls and summary.status == "completed" and self._follow():
            self._previous.append(summary)
            self._following, self.response_id = summary.id, None
            return
        fields = {a.name: getattr(summary, a.name) for a in attrs.fields(ResponseSummary)}
        self._end(
            Answer(
                **fields,
                audio=bytes(self._audio),
                tool_calls=tuple(self._calls),
                previous=tuple(self._previous),
                asked_at=self.asked_at,
            )
        )

    def _end(self, result: Answer | BaseException) -> None:
        if not self.ended:
            self.ended = True
            self._on_end(result)


class Ask:
    """A question on its way: ``await`` it for the :class:`Answer`, or ``async for`` over it
    for the text (or transcript) deltas as they stream; see :mod:`rxrealtime.session.ask`.
    Built by ``session.ask(...)``."""

    def __init__(
        self,
        session: AskableSession,
        text: str | None,
        *,
        output: Literal["text", "audio"] = "text",
        instructions: str | None = None,
        metadata: Mapping[str, str] | None = None,
        response: Mapping[str, Any] | None = None,
        follow_tools: bool | None = None,
        timeout: float | None = None,
    ) -> None:
        if output not in ("text", "audio"):
            raise ValueError(f'output must be "text" or "audio", got {output!r}')
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 or None, got {timeout!r}")
        self._session = session
        self._text = text
        self._params: dict[str, Any] = dict(response or {})
        self._params["output_modalities"] = [output]
        if instructions is not None:
            self._params["instructions"] = instructions
        self._metadata = {**(self._params.pop("metadata", None) or {}), **(metadata or {})}
        self._follow_tools = follow_tools
        self._timeout = timeout
        self._steered = not getattr(session, "replayed", False)
        self._task: asyncio.Task[Answer] | None = None
        self._queues: list[asyncio.Queue[str | _End]] = []

    @property
    def answer(self) -> Answer | None:
        """The answer once it is there (``None`` before, or when the ask failed)."""
        task = self._task
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    def _start(self) -> asyncio.Task[Answer]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rxrealtime-ask")
            self._task.add_done_callback(self._finished)
        return self._task

    def _finished(self, task: asyncio.Task[Answer]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved here, so an ask nobody awaits logs no warning
        for queue in self._queues:
            queue.put_nowait(_End())

    def __await__(self) -> Generator[Any, None, Answer]:
        return self._start().__await__()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        queue: asyncio.Queue[str | _End] = asyncio.Queue()
        self._queues.append(queue)
        task = self._start()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _End):
                    break
                yield item
        finally:
            self._queues.remove(queue)
        await task  # raises what the ask raised

    def _delta(self, text: str) -> None:
        for queue in self._queues:
            queue.put_nowait(text)

    async def _run(self) -> Answer:
        session, loop = self._session, asyncio.get_running_loop()
        await _declarations(session)
        result: asyncio.Future[Answer] = loop.create_future()
        resend = asyncio.Event()
        scheduler = session.scheduler

        def end(outcome: Answer | BaseException) -> None:
            if result.done():
                return
            if isinstance(outcome, BaseException):
                result.set_exception(outcome)
            else:
                result.set_result(outcome)

        tracker = _Tracker(
            steered=self._steered,
            follow=self._follows,
            clock=lambda: scheduler.now,
            on_delta=self._delta,
            on_resend=resend.set,
            on_end=end,
        )

        def closed(error: Exception | None) -> None:
            if not tracker.ended:
                tracker.ended = True
                end(error or ConnectionClosedOK(1000, "the session ended before the answer"))

        subscription = session.events.subscribe(
            tracker.step, closed, lambda: closed(None), scheduler=scheduler
        )
        try:
            async with asyncio.timeout(self._timeout):
                if self._text is not None:
                    item_id = f"rxrealtime_ask_{tracker.token}_item"
                    tracker.event_ids.add(item_id)
                    await session.send(
                        ev.ConversationItemCreate.user_text(self._text, event_id=item_id)
                    )
                await self._request(tracker)
                while True:
                    waiter: asyncio.Future[Any] = loop.create_task(resend.wait())
                    try:
                        await asyncio.wait({result, waiter}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        waiter.cancel()
                    if result.done():
                        return result.result()
                    resend.clear()
                    await self._request(tracker)
        finally:
            subscription.dispose()
            if not result.done():
                result.cancel()

    def _follows(self) -> bool:
        if self._follow_tools is not None:
            return self._follow_tools
        return _follow_ups_expected(self._session)

    async def _request(self, tracker: _Tracker) -> None:
        event_id = f"rxrealtime_ask_{tracker.token}_{len(tracker.request_ids) + 1}"
        tracker.request_ids.add(event_id)
        tracker.event_ids.add(event_id)
        if tracker.asked_at is None:
            tracker.asked_at = self._session.scheduler.now
        tracker.requested = True
        response = {**self._params, "metadata": {**self._metadata, ASK_KEY: tracker.token}}
        await self._session.send({"type": "response.create", "event_id": event_id,
                                  "response": response})  # fmt: skip
