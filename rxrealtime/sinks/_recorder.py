"""``Recorder``: both directions of a session, one timestamped JSON object per line.

The format (a header line, one record per frame, an ``"end"`` record) is defined, written and
parsed by :mod:`rxrealtime.recording`; :func:`rxrealtime.replay.replay` reads it back.

Guarantees
----------

* **Flushed line by line.** Each record is written with a single ``write`` of a complete line,
  then flushed to the operating system, so a crash loses at most the frame in flight and a
  reader can follow the file while it is written (``fsync=True`` also survives power loss).
* **No secrets.** Every record is scrubbed by :func:`rxrealtime.masking.scrub` (the one masking
  implementation): each configured secret in any string (keys and values, at any depth) becomes
  ``***``; the values of ``Authorization``/``api_key``-like keys and any ``Bearer …`` string
  are masked whole. The ``OPENAI_API_KEY`` environment variable's value is a secret unless
  ``scrub_env=False``.
* **Threads.** ``on_next``/``record_in``/``record_out`` run on the caller's thread (the event
  loop's thread for a live session): each is one small buffered write plus a flush, so the
  recorder is safe to run inline on the loop. A lock makes concurrent calls from other threads
  safe and keeps lines whole.
* Records after ``close()`` (or after the stream ended) are ignored, never raised.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from reactivex import Observer

from rxrealtime import events as ev
from rxrealtime.masking import ordered_secrets
from rxrealtime.recording import (
    FORMAT_VERSION,
    HEADER_KEY,
    encode_line,
    end_record,
    frame_record,
    header_record,
    scrub,
)
from rxrealtime.transport import FrameTransport, TransportClosed

__all__ = ["FORMAT_VERSION", "HEADER_KEY", "Recorder", "RecordingTransport", "scrub"]


class Recorder(Observer[ev.ServerEvent]):
    """Record a session to ``path`` in the recording format above (the file is truncated).

    Use it as an observer of ``session.events`` (each event becomes an ``"in"`` record) and let
    the session report what it sends through :meth:`record_out`; or, at the transport level,
    call :meth:`record_in`/:meth:`record_out` with the raw text frames and do not subscribe it.
    The stream ending (``on_completed``/``on_error``) writes the ``"end"`` record and closes the
    file; :meth:`close` (also ``dispose``, and leaving a ``with`` block) does the same.

    Args:
        path: the file to write (its directory must exist).
        secrets: strings that must never be written (for instance the API key).
        scrub_env: also treat the value of ``OPENAI_API_KEY`` as a secret (default).
        meta: JSON-serialisable details for the header (model, url, …); scrubbed too.
        fsync: ``os.fsync`` after every line (survives power loss; much slower).
        clock: monotonic seconds for ``"t"`` (default :func:`time.monotonic`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        secrets: Iterable[str | None] = (),
        scrub_env: bool = True,
        meta: Mapping[str, Any] | None = None,
        fsync: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        env_key = os.environ.get("OPENAI_API_KEY") if scrub_env else None
        self._secrets = ordered_secrets([*secrets, env_key])
        self._fsync = fsync
        self._clock = clock
        self._lock = threading.Lock()
        self.path = Path(path)
        self.records_written = 0
        """Frames recorded so far (the header and the end record are not counted)."""
        self._file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._start = clock()
        self._write(header_record(time.time(), meta))

    @property
    def closed(self) -> bool:
        """Whether the file is closed (no more records will be written)."""
        return self._file is None

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        """Also mask ``secrets`` in every record written from now on."""
        self._secrets = ordered_secrets([*secrets, *self._secrets])

    def wrap(self, transport: FrameTransport) -> RecordingTransport:
        """A transport that records every raw frame ``transport`` receives and sends."""
        return RecordingTransport(transport, self)

    def record_in(self, frame: str | bytes | ev.ServerEvent | Mapping[str, Any]) -> None:
        """Record a frame received from the server: its raw text, bytes, or decoded event."""
        self._record("in", frame)

    def record_out(self, frame: str | bytes | ev.ClientEvent | Mapping[str, Any]) -> None:
        """Record a frame sent to the server: its encoded text, or the client event / dict."""
        self._record("out", frame)

    def close(self, reason: str = "closed", error: str | None = None) -> None:
        """Write the ``"end"`` record and close the file; idempotent (once ended, a later call
        writes nothing). ``reason`` (default ``"closed"``) and ``error`` say how the stream
        ended, for an owner that knows better than the transport (``"interrupted"`` after
        Ctrl-C, ``"error"`` with the message of a failure of its own)."""
        self._end(reason, error)

    def dispose(self) -> None:
        super().dispose()
        self.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _on_next_core(self, value: ev.ServerEvent) -> None:
        self.record_in(value)

    def _on_completed_core(self) -> None:
        self._end("completed", None)

    def _on_error_core(self, error: Exception) -> None:
        self._end("error", f"{type(error).__name__}: {error}")

    def _record(self, direction: str, frame: object) -> None:
        if self._file is None:
            return
        record = frame_record(direction, frame, t=self._clock() - self._start, ts=time.time())
        self._write(record, count=True)

    def _end(self, reason: str, error: str | None) -> None:
        if self._file is None:
            return
        self._write(end_record(reason, error, t=self._clock() - self._start, ts=time.time()))
        with self._lock:
            file, self._file = self._file, None
        if file is not None:
            file.close()

    def _write(self, record: dict[str, Any], *, count: bool = False) -> None:
        line = encode_line(record, self._secrets)
        with self._lock:
            if self._file is None:
                return
            self._file.write(line)
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())
            if count:
                self.records_written += 1


class RecordingTransport:
    """A :class:`~rxrealtime.transport.FrameTransport` that records the frames of another one.

    Each frame received is recorded (``record_in``, raw text or bytes) before it is returned;
    each frame sent is recorded (``record_out``) once the inner ``send`` succeeded. When
    ``recv`` finds the connection closed, the recorder ends with reason ``"completed"`` (close
    code 1000) or ``"error"`` (any other code). Use it by wrapping a session's transport, e.g.
    ``RealtimeSession(recorder.wrap(transport))``; do not also subscribe the recorder to the
    session's events (frames would be recorded twice).
    """

    __slots__ = ("_inner", "recorder")

    def __init__(self, inner: FrameTransport, recorder: Recorder) -> None:
        self._inner = inner
        self.recorder = recorder

    @property
    def description(self) -> str:
        return self._inner.description

    async def recv(self) -> str | bytes:
        try:
            frame = await self._inner.recv()
        except TransportClosed as closed:
            if closed.code == 1000 or not closed.by_peer:
                self.recorder.on_completed()
            else:
                self.recorder.on_error(closed)
            raise
        self.recorder.record_in(frame)
        return frame

    async def send(self, data: str | bytes) -> None:
        await self._inner.send(data)
        self.recorder.record_out(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._inner.close(code, reason)

    def abort(self) -> None:
        self._inner.abort()

    def __getattr__(self, name: str) -> Any:
        # Anything else (``connection`` of a WebSocketTransport, …) is the inner transport's.
        return getattr(self._inner, name)
