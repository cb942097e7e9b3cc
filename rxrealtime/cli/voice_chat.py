"""``rxrealtime chat --voice``: talk to the model through the microphone, hear it on the speaker.

The microphone streams to the session (:func:`rxrealtime.audio.send_audio`, server VAD turns);
the model's audio plays on the speaker (:class:`rxrealtime.audio.Speaker`); speaking over the
model interrupts it, and the item is truncated where you stopped hearing it
(:meth:`~rxrealtime.audio.Speaker.handle_barge_in`). What you said and what the model said are
printed as ``you: …`` / ``assistant: …`` lines (your words as the session's input
transcription hears them).

While it listens, a terminal shows one status line — the state (listening, hearing you,
thinking, speaking) and a level meter of the microphone — rewritten in place; when stdout is
not a terminal, ``listening`` is printed once, when the microphone is live, and transcripts
follow as lines.

Leaving: ``/quit`` or end of input (Ctrl-D; closing stdin) exits with status 0; Ctrl-C with
130. Without an audio device, or without the ``[voice]`` extra or PortAudio, the command says
so in one line and exits with status 1. There is no echo cancellation: use headphones, or the
speaker's sound will interrupt the model.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TextIO

from reactivex import operators as rx_ops

from rxrealtime import events as ev
from rxrealtime.audio.devices import (
    Speaker,
    find_device,
    level_dbfs,
    microphone,
    send_audio,
)
from rxrealtime.cli.common import CliError, endpoint, ignore_error, wait_session_created
from rxrealtime.cli.record import recorded_session
from rxrealtime.session import RealtimeSession

__all__ = ["add_voice_options", "level_meter", "run_voice_chat"]

QUIT = ("/quit", "/exit")
TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"
_METER_WIDTH = 20
_FLOOR_DB = -60.0


def add_voice_options(parser: argparse.ArgumentParser) -> None:
    """``--voice`` and the device options, on the ``chat`` parser."""
    parser.add_argument(
        "--voice",
        action="store_true",
        help="talk through the microphone and hear the answer (needs the [voice] extra)",
    )
    parser.add_argument(
        "--input-device",
        metavar="NAME",
        help="with --voice: microphone (index or part of its name; default: the system's)",
    )
    parser.add_argument(
        "--output-device",
        metavar="NAME",
        help="with --voice: speaker (index or part of its name; default: the system's)",
    )


def _device(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value


def level_meter(dbfs: float, width: int = _METER_WIDTH) -> str:
    """A bar of ``width`` cells for a level in dBFS (-60 dB and below empty, 0 dB full)."""
    if math.isnan(dbfs) or dbfs <= _FLOOR_DB:
        filled = 0
    else:
        filled = min(width, round(width * (dbfs - _FLOOR_DB) / -_FLOOR_DB))
    return "[" + "#" * filled + " " * (width - filled) + "]"


class _Console:
    """Transcript lines, and on a terminal one status line kept below them."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self.state = "starting"
        self._level = -math.inf
        self._shown = ""  # the status line on the terminal now
        self._announced = False
        self._frames = 0
        self._peak = -math.inf

    def line(self, text: str) -> None:
        self._clear()
        self._stream.write(text + "\n")
        self._draw()

    def set_state(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        if not self._tty and state == "listening" and not self._announced:
            self._announced = True
            self.line("listening")
        self._draw()

    def level(self, frame: bytes) -> None:
        self._peak = max(self._peak, level_dbfs(frame))
        self._frames += 1
        if self._frames % 5 == 0:  # the loudest of every 5 frames: 10 times a second
            self._level, self._peak = self._peak, -math.inf
            self._draw()

    def _status(self) -> str:
        db = "  -inf" if self._level == -math.inf else f"{self._level:6.1f}"
        return f"{self.state:<12} {level_meter(self._level)} {db} dBFS"

    def _clear(self) -> None:
        if self._tty and self._shown:
            self._stream.write("\r\x1b[2K")
            self._shown = ""

    def _draw(self) -> None:
        if self._tty:
            self._shown = self._status()
            self._stream.write("\r\x1b[2K" + self._shown)
        self._stream.flush()

    def close(self) -> None:
        self._clear()
        self._stream.flush()


def _read_lines(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None]) -> None:
    """Stdin, line by line, onto the loop (``None`` at the end); a daemon thread's work."""

    def put(line: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            loop.call_soon_threadsafe(lines.put_nowait, line)

    try:
        for line in sys.stdin:
            put(line.strip())
    except (OSError, ValueError):
        pass
    put(None)


async def run_voice_chat(
    *,
    base_url: str | None,
    model: str,
    record: Path | None = None,
    input_device: str | None = None,
    output_device: str | None = None,
) -> None:
    """Talk until ``/quit`` or end of input; raises :class:`~rxrealtime.cli.common.CliError`
    or a typed :class:`~rxrealtime.errors.RxRealtimeError` (one line each) on failure."""
    # No device: say so before connecting. Opening one takes PortAudio a moment: off the loop.
    await asyncio.to_thread(find_device, "input", _device(input_device))
    speaker = await asyncio.to_thread(Speaker, _device(output_device))
    try:
        async with endpoint(base_url, realtime_audio=True) as where:
            print(
                f"rxrealtime chat --voice: {where.description}, model {model} "
                f"(speak; /quit or end of input to leave)",
                flush=True,
            )
            async with recorded_session(where, model, record) as session:
                await _converse(session, speaker, input_device)
    finally:
        speaker.close()
    if record is not None:
        print(f"recorded to {record}")


async def _converse(session: RealtimeSession, speaker: Speaker, input_device: str | None) -> None:
    console = _Console(sys.stdout)
    subscriptions = [session.events.subscribe(speaker)]  # first: it must see the format
    subscriptions.append(
        session.events.subscribe(lambda event: _show(event, console, speaker), ignore_error)
    )
    try:
        await wait_session_created(session)
        await session.session.update(
            session={
                "type": "realtime",
                "audio": {
                    "input": {
                        "transcription": {"model": TRANSCRIPTION_MODEL},
                        "turn_detection": {"type": "server_vad"},
                    }
                },
            }
        )
        barge = speaker.handle_barge_in(session)
        frames = microphone(_device(input_device))
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_frame(frame: bytes) -> None:
            console.level(frame)
            if console.state == "starting":
                console.set_state("listening")

        def end(_error: Exception | None = None) -> None:
            if not ended.done():
                ended.set_result(None)

        subscriptions.append(session.events.subscribe(on_error=end, on_completed=end))
        sender = send_audio(session, frames.pipe(rx_ops.do_action(on_frame)))
        try:
            await speaker.wait_ready()
            await _until_quit(ended, sender.wait())
        finally:
            await sender.aclose()
            await barge.aclose()
        if sender.statistics().reason == "error":
            await sender  # raises the microphone's error
    finally:
        for subscription in subscriptions:
            subscription.dispose()
        console.close()


async def _until_quit(ended: asyncio.Future[None], sending: Awaitable[Any]) -> None:
    """Wait for ``/quit``, the end of input, the end of the session or of the sender."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(
        target=_read_lines, args=(loop, lines), name="rxrealtime-voice-stdin", daemon=True
    ).start()
    sender_done = asyncio.ensure_future(sending)

    async def quit_typed() -> None:
        while True:
            line = await lines.get()
            if line is None or line in QUIT:
                return

    typed = asyncio.ensure_future(quit_typed())
    try:
        await asyncio.wait({typed, sender_done, ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        typed.cancel()
        if not sender_done.done():
            sender_done.cancel()
        await asyncio.gather(typed, sender_done, return_exceptions=True)
    if ended.done() and not typed.done():
        raise CliError("the session ended")


def _show(event: ev.ServerEvent, console: _Console, speaker: Speaker) -> None:
    if isinstance(event, ev.InputAudioBufferSpeechStarted):
        console.set_state("hearing you")
    elif isinstance(event, ev.InputAudioBufferSpeechStopped):
        console.set_state("thinking")
    elif isinstance(event, ev.ConversationItemInputAudioTranscriptionCompleted):
        console.line(f"you: {event.transcript.strip()}")
    elif isinstance(event, ev.ResponseOutputAudioDelta):
        console.set_state("speaking")
    elif isinstance(event, ev.ResponseOutputAudioTranscriptDone):
        cut = " (interrupted)" if speaker.interrupted(event.item_id, event.content_index) else ""
        console.line(f"assistant: {event.transcript.strip()}{cut}")
    elif isinstance(event, ev.ResponseDone):
        console.set_state("listening")
    elif isinstance(event, ev.ErrorEvent) and event.error is not None:
        console.line(f"error: {event.error.message}")
