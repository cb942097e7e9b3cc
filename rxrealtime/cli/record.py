"""``rxrealtime record FILE [demo|chat]`` and the ``--record FILE`` option of ``demo`` and
``chat``: the same command, its session recorded.

Every frame in both directions goes to ``FILE`` through :class:`~rxrealtime.sinks.Recorder`
(the format is :mod:`rxrealtime.recording`; ``rxrealtime replay FILE`` reads it back). The API
key is never written. The recording's last record (``"dir": "end"``) says how the command
really ended:

* ``"completed"``: the command finished and closed the session (or the server closed it
  normally, code 1000);
* ``"error"``: the connection failed or the command failed; ``"error"`` holds the message (the
  same one line the command printed, or the close the server sent);
* ``"interrupted"``: the user pressed Ctrl-C (``"error"`` says so).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from rxrealtime.cli.common import CliError, Endpoint, open_session
from rxrealtime.session import RealtimeSession
from rxrealtime.sinks import Recorder

__all__ = ["INTERRUPTED", "end_recording", "recorded_session", "start_recording"]

INTERRUPTED = "interrupted"
"""The end record's ``reason`` after Ctrl-C."""


def start_recording(path: Path, model: str) -> Recorder:
    """A recorder writing to ``path`` (truncated), the model in its header; :class:`CliError`
    ("cannot record to PATH: why") when the file cannot be created."""
    try:
        return Recorder(path, meta={"model": model})
    except OSError as error:
        raise CliError(f"cannot record to {path}: {error.strerror or error}") from None


def end_recording(recorder: Recorder, failure: BaseException) -> None:
    """Write the end record for a command that stopped with ``failure`` (a no-op when the
    recording has already ended, e.g. with the server's close)."""
    if isinstance(failure, asyncio.CancelledError | KeyboardInterrupt):
        recorder.close(reason=INTERRUPTED, error="interrupted by the user (Ctrl-C)")
    else:
        message = " ".join(str(failure).split()) or type(failure).__name__
        recorder.close(reason="error", error=message)


@contextlib.asynccontextmanager
async def recorded_session(
    where: Endpoint, model: str, record: Path | None
) -> AsyncIterator[RealtimeSession]:
    """``async with recorded_session(...) as session:`` an open session on ``where``, recorded
    to ``record`` when given, closed on the way out.

    When the block (or opening the session) raises, the recording's end record names the
    failure (see the module docs) before the session is closed; a normal exit closes the
    session and the recording ends ``"completed"``.
    """
    recorder = start_recording(record, model) if record is not None else None
    try:
        session = await open_session(where, model, recorder=recorder)
    except (Exception, asyncio.CancelledError, KeyboardInterrupt) as failure:
        if recorder is not None:
            end_recording(recorder, failure)
        raise
    async with session:
        try:
            yield session
        except (Exception, asyncio.CancelledError, KeyboardInterrupt) as failure:
            if recorder is not None:
                end_recording(recorder, failure)
            raise
