"""``rxrealtime chat``: a text chat in the terminal, the model's replies streaming.

Each line read from stdin is one user message; the reply streams after ``assistant:`` as
``ops.text_only()`` delivers it. The session offers the demo's two tools (``get_weather``,
``calculate``), executed by the tool runner. Blank lines are ignored.

Lines starting with ``/`` are commands for the chat itself and are never sent to the model:
``/help`` lists them, ``/quit`` (or ``/exit``) leaves, an unknown one gets a local hint. A
message that really starts with ``/`` is typed with two (``//etc`` sends ``/etc``).

When stdin is a terminal, lines are read with the standard library's :mod:`readline` where
it exists (arrow keys, history, the user's ``~/.inputrc``) after a ``you:`` prompt; otherwise
each line read is echoed after ``you:`` so the output reads as a transcript.

Leaving: end of input (Ctrl-D) or ``/quit`` exits with status 0; Ctrl-C exits with status 130
(like every command), after a newline so the shell's prompt starts on a line of its own, and a
recording then ends with reason ``"interrupted"`` (:mod:`rxrealtime.cli.record`).

Stdin is read by a daemon thread, so a pending read never keeps the process alive; the lines
reach the event loop in order. The terminal's settings are restored on the way out, even when
Ctrl-C arrives while :mod:`readline` has the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import queue
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from rxrealtime import events as ev
from rxrealtime.cli.common import (
    LinePrinter,
    complete_turn,
    endpoint,
    wait_session_created,
)
from rxrealtime.cli.record import recorded_session
from rxrealtime.cli.tools import TOOL_DEFINITIONS, traced_tools
from rxrealtime.session import RealtimeSession
from rxrealtime.sinks.tool_runner import run_tools

__all__ = ["HELP", "QUIT", "local_command", "run_chat"]

QUIT = "/quit"
_PROMPT = "you: "

HELP = (
    "commands (never sent to the model):",
    "  /help           this list",
    "  /quit, /exit    leave the chat (so do Ctrl-D and, with status 130, Ctrl-C)",
    "  //text          send '/text' (a message that starts with '/')",
)
"""What ``/help`` prints, one line each."""


def local_command(line: str) -> tuple[str, tuple[str, ...]] | None:
    """How the chat handles ``line`` itself: ``None`` for a message to send to the model, else
    ``(action, lines to print)`` with action ``"quit"`` or ``"show"``.

    ``/help`` shows :data:`HELP`; ``/quit`` and ``/exit`` quit; any other ``/word`` shows a
    hint; ``//…`` is a message (see :func:`message_text`).
    """
    text = line.strip()
    if not text.startswith("/") or text.startswith("//"):
        return None
    word = text.split()[0]
    if word in (QUIT, "/exit"):
        return "quit", ()
    if word == "/help":
        return "show", HELP
    return "show", (f"unknown command {word} (/help lists the commands; //… sends a '/')",)


def message_text(line: str) -> str:
    """The text sent for a message line: ``//x`` becomes ``/x``, anything else is unchanged."""
    return line[1:] if line.lstrip().startswith("//") else line


class _PipedLines:
    """The lines of a non-terminal ``stream``, read ahead by a daemon thread; ``None`` at
    the end."""

    def __init__(self, stream: TextIO) -> None:
        loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()

        def put(line: str | None) -> None:
            loop.call_soon_threadsafe(self._lines.put_nowait, line)

        def read() -> None:
            try:
                for line in stream:
                    put(line.rstrip("\r\n"))
            except (OSError, ValueError):  # stdin closed under us
                pass
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                    put(None)

        threading.Thread(target=read, name="rxrealtime-chat-stdin", daemon=True).start()

    async def get(self) -> str | None:
        return await self._lines.get()


class _TypedLines:
    """Lines typed at a terminal, one ``input(prompt)`` per :meth:`get` (with line editing
    when :mod:`readline` is available), on a daemon thread; ``None`` at end of input."""

    def __init__(self, prompt: str) -> None:
        with contextlib.suppress(ImportError):  # not on every platform
            importlib.import_module("readline")  # importing it gives input() line editing
        self._prompt = prompt
        self._loop = asyncio.get_running_loop()
        self._requests: queue.SimpleQueue[asyncio.Future[str | None]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="rxrealtime-chat-input", daemon=True).start()

    async def get(self) -> str | None:
        answer: asyncio.Future[str | None] = self._loop.create_future()
        self._requests.put(answer)
        return await answer

    def _serve(self) -> None:
        while True:
            answer = self._requests.get()
            try:
                line: str | None = input(self._prompt)
            except (EOFError, OSError, ValueError):
                line = None
            try:
                self._loop.call_soon_threadsafe(_resolve, answer, line)
            except RuntimeError:  # the loop is closed: nobody listens
                return
            if line is None:
                return


def _resolve(answer: asyncio.Future[str | None], line: str | None) -> None:
    if not answer.done():  # not cancelled (Ctrl-C) meanwhile
        answer.set_result(line)


@contextlib.contextmanager
def _terminal_restored(stream: TextIO) -> Iterator[None]:
    """Put the terminal's settings back on the way out (readline changes them while it
    reads, and an interrupted read never gets to restore them)."""
    try:
        import termios
    except ImportError:  # not on every platform
        yield
        return
    try:
        fd = stream.fileno()
        saved: list[Any] | None = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        saved = None
    try:
        yield
    finally:
        if saved is not None:
            with contextlib.suppress(OSError, ValueError, termios.error):
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def run_chat(*, base_url: str | None, model: str, record: Path | None = None) -> None:
    """Chat until end of input or ``/quit``; raises :class:`~rxrealtime.cli.common.CliError`
    (or a typed :class:`~rxrealtime.errors.RxRealtimeError`) when the session fails."""
    interactive = sys.stdin.isatty()
    async with endpoint(base_url, realtime_audio=False) as where:
        hint = "Ctrl-D" if interactive else "end of input"
        print(
            f"rxrealtime chat: {where.description}, model {model} "
            f"({QUIT} or {hint} to leave, /help for commands)",
            flush=True,
        )
        try:
            with _terminal_restored(sys.stdin) if interactive else contextlib.nullcontext():
                async with recorded_session(where, model, record) as session:
                    await _converse(session, interactive)
        except (asyncio.CancelledError, KeyboardInterrupt):
            if interactive:  # Ctrl-C: end the line the prompt (or a reply) left open
                print(flush=True)
            raise
    if record is not None:
        print(f"recorded to {record}")


async def _converse(session: RealtimeSession, interactive: bool) -> None:
    printer = LinePrinter()
    watching = printer.attach(session.events)
    try:
        await wait_session_created(session)
    except BaseException:
        watching.dispose()
        raise
    # started after the handshake: a refused session then ends before the runner subscribes
    runner = run_tools(session, traced_tools(printer.line), sync_in_thread=False)
    try:
        await session.send(
            ev.SessionUpdate(
                session=ev.RealtimeSessionConfig(
                    output_modalities=["text"], tools=list(TOOL_DEFINITIONS), tool_choice="auto"
                )
            )
        )
        lines = _TypedLines(_PROMPT) if interactive else _PipedLines(sys.stdin)
        while True:
            line = await lines.get()
            if line is None:
                if interactive:
                    print()  # Ctrl-D leaves the cursor after the prompt
                break
            if not line.strip():
                continue
            handled = local_command(line)
            if handled is not None:
                action, shown = handled
                if action == "quit":
                    break
                for text in shown:
                    printer.line(text)
                continue
            if not interactive:
                printer.line(f"{_PROMPT}{line}")

            async def request(text: str = message_text(line)) -> None:
                await session.send(ev.ConversationItemCreate.user_text(text))
                await session.send(ev.ResponseCreate())

            await complete_turn(session, request)
    except (asyncio.CancelledError, KeyboardInterrupt):
        printer.end_line()  # a transcript stays one line per reply, even when interrupted
        raise
    finally:
        await runner.aclose()
        watching.dispose()
