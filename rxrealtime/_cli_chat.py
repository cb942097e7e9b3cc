"""``python -m rxrealtime chat``: a text chat in the terminal, the model's replies streaming.

Each line read from stdin is one user message; the reply streams after ``assistant:`` as
``ops.text_only()`` delivers it. The session offers the demo's two tools (``get_weather``,
``calculate``), executed by the tool runner. The chat ends at end of input (Ctrl-D) or on a
line ``/quit``; blank lines are ignored. When stdin is a terminal a ``you:`` prompt is shown;
otherwise each line read is echoed after ``you:`` so the output reads as a transcript.

Stdin is read by a daemon thread, so a pending read never keeps the process alive; the lines
reach the event loop through a queue, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from pathlib import Path
from typing import TextIO

from rxrealtime import events as ev
from rxrealtime._cli_common import (
    LinePrinter,
    complete_turn,
    endpoint,
    open_session,
    wait_session_created,
)
from rxrealtime._cli_tools import TOOL_DEFINITIONS, traced_tools
from rxrealtime.session import RealtimeSession
from rxrealtime.sinks.tool_runner import run_tools

__all__ = ["QUIT", "run_chat"]

QUIT = "/quit"
_PROMPT = "you: "


def _read_lines(stream: TextIO) -> asyncio.Queue[str | None]:
    """A queue fed with the lines of ``stream`` by a daemon thread (``None`` at the end)."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def put(line: str | None) -> None:
        loop.call_soon_threadsafe(lines.put_nowait, line)

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
    return lines


async def run_chat(*, base_url: str | None, model: str, record: Path | None = None) -> None:
    """Chat until end of input or ``/quit``; raises :class:`~rxrealtime._cli_common.CliError`
    (or a typed :class:`~rxrealtime.errors.RxRealtimeError`) when the session fails."""
    interactive = sys.stdin.isatty()
    async with endpoint(base_url, realtime_audio=False) as where:
        hint = "Ctrl-D" if interactive else "end of input"
        print(
            f"rxrealtime chat: {where.description}, model {model} ({QUIT} or {hint} to leave)",
            flush=True,
        )
        session = await open_session(where, model, record=record)
        async with session:
            await _converse(session, interactive)
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
        lines = _read_lines(sys.stdin)
        while True:
            if interactive:
                print(_PROMPT, end="", flush=True)
            line = await lines.get()
            if line is None or line.strip() == QUIT:
                break
            if not line.strip():
                continue
            if not interactive:
                printer.line(f"{_PROMPT}{line}")

            async def request(text: str = line) -> None:
                await session.send(ev.ConversationItemCreate.user_text(text))
                await session.send(ev.ResponseCreate())

            await complete_turn(session, request)
        if interactive:
            print()
    finally:
        await runner.aclose()
        watching.dispose()
