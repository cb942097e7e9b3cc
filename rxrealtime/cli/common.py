"""What the commands share: where to connect, how to open a session, how to wait for the
model's answer, and how to show it.

Everything here runs on one event loop (``asyncio.run`` in :mod:`rxrealtime.cli.main`); Rx
callbacks run on that loop's thread, so printing from them keeps event order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TextIO

import attrs
from reactivex import Observable
from reactivex.abc import DisposableBase
from reactivex.disposable import CompositeDisposable

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.errors import ConnectionClosedOK, HandshakeError
from rxrealtime.server import serve
from rxrealtime.session import RealtimeSession, connect
from rxrealtime.sinks import Recorder
from rxrealtime.transport import prepare

__all__ = [
    "DEFAULT_MODEL",
    "CliError",
    "Endpoint",
    "LinePrinter",
    "complete_turn",
    "endpoint",
    "ignore_error",
    "open_session",
    "wait_session_created",
]

DEFAULT_MODEL = "gpt-realtime"
CONNECT_TIMEOUT = 30.0
"""Seconds to wait for ``session.created`` after the socket opened."""
TURN_TIMEOUT = 120.0
"""Seconds to wait for the model to finish one turn (tool calls included)."""


class CliError(Exception):
    """A failure worth one line on stderr and exit status 1 (no traceback)."""


def ignore_error(_: Exception) -> None:
    """``on_error`` for side subscriptions: the session's error is reported once, by whoever
    awaits it (:func:`wait_session_created`, :func:`complete_turn`), not by every subscriber."""


@attrs.frozen
class Endpoint:
    """Where a command connects: ``base_url`` (``None``: the SDK default) and how to name it."""

    base_url: str | None
    description: str


def uses_remote(base_url: str | None) -> bool:
    """Whether to connect to a real endpoint: ``--base-url``, or ``OPENAI_API_KEY`` /
    ``OPENAI_BASE_URL`` in the environment; otherwise the embedded server is started."""
    return bool(base_url or os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))


@contextlib.asynccontextmanager
async def endpoint(base_url: str | None, *, realtime_audio: bool) -> AsyncIterator[Endpoint]:
    """The endpoint to use; starts (and finally stops) an embedded server when there is no
    remote one (see :func:`uses_remote`). ``realtime_audio`` paces the embedded server's
    audio in real time (remote endpoints always do)."""
    if uses_remote(base_url):
        shown = base_url or os.environ.get("OPENAI_BASE_URL") or "the OpenAI API"
        yield Endpoint(base_url, shown)
        return
    async with serve(realtime_audio=realtime_audio) as server:
        yield Endpoint(server.base_url, f"embedded server {server.base_url}")


async def open_session(
    where: Endpoint, model: str, *, recorder: Recorder | None = None
) -> RealtimeSession:
    """Open a session on ``where`` (the API key, if any, from ``OPENAI_API_KEY``).

    With ``recorder``, every frame in both directions is recorded (the key is never written;
    see :mod:`rxrealtime.cli.record`, which also ends the recording). Raises :class:`CliError`
    ("cannot connect to URL: why") when the socket cannot be opened; configuration errors
    (:class:`~rxrealtime.errors.ConfigurationError`) propagate.
    """
    url = prepare(model, base_url=where.base_url).url  # for messages; secrets are not in it
    try:
        return await connect(model, base_url=where.base_url, recorder=recorder)
    except (OSError, TimeoutError) as error:
        why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        failure = f"cannot connect to {url}: {why or type(error).__name__}"
    except HandshakeError as error:
        failure = f"cannot connect to {url}: {error}"
    raise CliError(failure)


async def wait_session_created(
    session: RealtimeSession, limit: float = CONNECT_TIMEOUT
) -> ev.SessionCreated:
    """Wait for the server's ``session.created`` (its first event on a good connection).

    A refused connection (bad key, bad model) sends an ``error`` and closes: the session's
    typed error (:class:`~rxrealtime.errors.AuthenticationError`, …) is raised.
    """
    created: asyncio.Future[ev.SessionCreated] = asyncio.get_running_loop().create_future()
    last_error: list[ev.ErrorEvent] = []

    def on_next(event: ev.ServerEvent) -> None:
        if isinstance(event, ev.ErrorEvent):
            last_error.append(event)
        elif isinstance(event, ev.SessionCreated) and not created.done():
            created.set_result(event)

    def on_end(error: Exception | None = None) -> None:
        if not created.done():
            if error is None and last_error:
                error = CliError(f"the server refused the session: {describe(last_error[-1])}")
            created.set_exception(error or CliError("the server closed the connection"))

    subscription = session.events.subscribe(on_next, on_end, on_end)
    try:
        return await asyncio.wait_for(created, limit)
    except TimeoutError:
        raise CliError(f"no session.created from the server within {limit:g} s") from None
    finally:
        subscription.dispose()


def describe(event: ev.ErrorEvent) -> str:
    """``CODE: MESSAGE`` of a server ``error`` event."""
    error = event.error
    code = getattr(error, "code", None) or getattr(error, "type", None) or "error"
    message = getattr(error, "message", None) or ""
    return f"{code}: {message}".rstrip(": ")


def _has_calls(summary: ops.ResponseSummary) -> bool:
    return any(getattr(item, "type", None) == "function_call" for item in summary.output)


async def complete_turn(
    session: RealtimeSession,
    request: Callable[[], Awaitable[None]],
    limit: float = TURN_TIMEOUT,
) -> list[ops.ResponseSummary]:
    """Run ``request`` (the sends that start a turn) and wait until the model has answered.

    A turn ends with the first response that is done without function calls (the tool
    runner's follow-up responses are part of the turn); the summaries of all its responses are
    returned (``ops.responses()``). A server ``error`` event, the end of the session or the
    time ``limit`` (seconds) fails the turn with :class:`CliError` (or the session's typed error).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[ops.ResponseSummary]] = loop.create_future()
    summaries: list[ops.ResponseSummary] = []

    def fail(error: Exception) -> None:
        if not done.done():
            done.set_exception(error)

    def on_summary(summary: ops.ResponseSummary) -> None:
        summaries.append(summary)
        if not _has_calls(summary) and not done.done():
            done.set_result(summaries)

    def on_event(event: ev.ServerEvent) -> None:
        if isinstance(event, ev.ErrorEvent):
            fail(CliError(f"server error {describe(event)}"))

    def on_completed() -> None:
        fail(CliError("the server closed the connection before answering"))

    subscriptions = (
        session.events.pipe(ops.responses()).subscribe(on_summary, fail, on_completed),
        session.events.pipe(ops.of_type(ev.ErrorEvent)).subscribe(on_event, fail, on_completed),
    )
    try:
        await request()
        return await asyncio.wait_for(done, limit)
    except ConnectionClosedOK:
        raise CliError("the connection was closed before the model answered") from None
    except TimeoutError:
        raise CliError(f"the model did not finish answering within {limit:g} s") from None
    finally:
        for subscription in subscriptions:
            subscription.dispose()


class LinePrinter:
    """Streams the model's words to ``stream`` after a ``prefix``, one line per response.

    Feed it ``ops.text_only()`` deltas (:meth:`write`) and end the line at each
    ``response.done`` (:meth:`end_line`); :meth:`line` prints a whole line (closing an open one
    first). ``stream`` defaults to ``sys.stdout`` looked up at each write.
    """

    def __init__(self, prefix: str = "assistant: ", stream: TextIO | None = None) -> None:
        self.prefix = prefix
        self._stream = stream
        self._open = False

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def write(self, delta: str) -> None:
        if not self._open:
            self.stream.write(self.prefix)
            self._open = True
        self.stream.write(delta)
        self.stream.flush()

    def end_line(self, _: object = None) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False

    def line(self, text: str) -> None:
        self.end_line()
        self.stream.write(text + "\n")
        self.stream.flush()

    def attach(self, events: Observable[ev.ServerEvent]) -> DisposableBase:
        """Subscribe to a session's (or a replay's) ``events``: the model's words
        (``ops.text_only()``) and the end of each response (``ops.of_type(ev.ResponseDone)``)."""
        return CompositeDisposable(
            events.pipe(ops.text_only()).subscribe(self.write, self.end_line, self.end_line),
            events.pipe(ops.of_type(ev.ResponseDone)).subscribe(self.end_line, ignore_error),
        )
