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
* **A recorder can never end a session.** After the header (whose failure the constructor
  raises), recording raises nothing but the caller's ``TypeError`` for a value that is not a
  frame, an event or a dict: a frame of any depth or content is written (see
  :mod:`rxrealtime.recording`, Depth); a write that fails (disk full, a closed file, …) and a
  value that cannot be recorded are counted in :attr:`Recorder.errors`, the latest in
  :attr:`Recorder.last_error`, and logged on the ``rxrealtime`` logger (the first failure and
  every 100th). :class:`RecordingTransport` also guards every call it makes to its recorder
  (a subclass that raises, even ``CancelledError`` or ``GeneratorExit``, is counted and
  logged the same way; only ``KeyboardInterrupt`` and ``SystemExit`` go through).
* **Every connection.** Given to ``connect(recorder=...)`` with a reconnect policy, one
  recorder records every connection of the session: each new connection (a reconnect or a
  planned recycle) starts with a ``"reconnect"`` record, and the one ``"end"`` record is
  written when the *session* ends (the session tells the transport it used last), saying how:
  ``"completed"`` for a normal end, ``"error"`` with the session's error otherwise.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from rxrealtime import events as ev
from rxrealtime._compat import Observer
from rxrealtime.errors import ConnectionClosedOK
from rxrealtime.masking import ordered_secrets, redact
from rxrealtime.recording import (
    FORMAT_VERSION,
    HEADER_KEY,
    encode_line,
    end_record,
    frame_record,
    header_record,
    reconnect_record,
    scrub,
)
from rxrealtime.sinks._wrapping import WrappedTransport
from rxrealtime.transport import FrameTransport, TransportClosed

__all__ = ["FORMAT_VERSION", "HEADER_KEY", "Recorder", "RecordingTransport", "scrub"]

log = logging.getLogger("rxrealtime")

_LOG_EVERY = 100
"""After the first failure, one in this many is logged (a failing disk fails every frame)."""


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
        self.errors = 0
        """Frames or records that could not be written (each logged; see the guarantees)."""
        self.last_error: str | None = None
        """The latest of those failures, one line, secrets masked."""
        self._connections = 0  # connections wrapped so far (see wrap)
        self._last_close: tuple[int, str] | None = None  # how the newest connection closed
        self._file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._start = clock()
        try:
            self._file.write(encode_line(header_record(time.time(), meta), self._secrets))
            self._file.flush()
        except BaseException:
            self._file.close()
            raise

    @property
    def closed(self) -> bool:
        """Whether the file is closed (no more records will be written)."""
        return self._file is None

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        """Also mask ``secrets`` in every record written from now on."""
        self._secrets = ordered_secrets([*secrets, *self._secrets])

    def wrap(self, transport: FrameTransport) -> RecordingTransport:
        """A transport that records every raw frame ``transport`` receives and sends.

        Called again for a new connection of the same session (a reconnect, a planned
        recycle), the recording goes on: a ``"reconnect"`` record comes first, with how the
        previous connection closed when it did.
        """
        self._connections += 1
        if self._connections > 1:
            code, reason = self._last_close or (None, None)
            self._last_close = None
            now = self._clock() - self._start
            self._write(reconnect_record(self._connections, code, reason, t=now, ts=time.time()))
        return RecordingTransport(transport, self, self._connections)

    def connection_closed(self, connection: int, closed: TransportClosed) -> None:
        """Connection number ``connection`` closed (what :class:`RecordingTransport` reports):
        remembered for the next ``"reconnect"`` record; the recording goes on."""
        if connection == self._connections:
            self._last_close = (closed.code, redact(closed.reason, self._secrets))

    def session_ended(self, terminal: BaseException) -> None:
        """The session this recorder records ended with ``terminal`` (its
        :class:`~rxrealtime.errors.ConnectionClosed`): write the ``"end"`` record."""
        if isinstance(terminal, ConnectionClosedOK):
            self._end("completed", None)
        else:
            self._end("error", f"{type(terminal).__name__}: {terminal}")

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
        # a value of a wrong type (not a frame, event or dict) is the caller's TypeError
        record = frame_record(direction, frame, t=self._clock() - self._start, ts=time.time())
        self._write(record, count=True)

    def _end(self, reason: str, error: str | None) -> None:
        if self._file is None:
            return
        self._write(end_record(reason, error, t=self._clock() - self._start, ts=time.time()))
        with self._lock:
            file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except Exception as error:  # the last flush failed
                self.failed(error)

    def _write(self, record: dict[str, Any], *, count: bool = False) -> None:
        line = encode_line(record, self._secrets)  # never raises
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(line)
                self._file.flush()
                if self._fsync:
                    os.fsync(self._file.fileno())
            except Exception as error:  # disk full, file closed under us, …
                self.failed(error)
                return
            if count:
                self.records_written += 1

    def failed(self, error: BaseException) -> None:
        """Count and log one failure to record (see the guarantees); never raises."""
        self.errors += 1
        self.last_error = redact(f"{type(error).__name__}: {error}", self._secrets)
        if self.errors == 1 or self.errors % _LOG_EVERY == 0:
            log.warning(
                "rxrealtime recorder %s: %d failure(s) so far, the latest: %s "
                "(the session goes on)",
                self.path.name,
                self.errors,
                self.last_error,
            )


class RecordingTransport(WrappedTransport):
    """A :class:`~rxrealtime.transport.FrameTransport` that records the frames of another one.

    Each frame received is recorded (``record_in``, raw text or bytes) before it is returned;
    each frame sent is recorded (``record_out``) once the inner ``send`` succeeded. When
    ``recv`` finds the connection closed, the close is remembered for the ``"reconnect"``
    record of a next connection; the ``"end"`` record is written by :meth:`session_ended`
    (the session calls it once, when its stream ends) or by closing the recorder. Every call
    to the recorder is guarded: whatever it raises (``KeyboardInterrupt`` and ``SystemExit``
    aside) is counted in ``recorder.errors`` and logged, and the frame still reaches the
    session. Use it by wrapping a session's transport, e.g.
    ``RealtimeSession(recorder.wrap(transport))``; do not also subscribe the recorder to the
    session's events (frames would be recorded twice).
    """

    __slots__ = ("connection", "recorder")

    def __init__(self, inner: FrameTransport, recorder: Recorder, connection: int = 1) -> None:
        super().__init__(inner)
        self.recorder = recorder
        self.connection = connection
        """Which connection of the recording this is (1, then 2, … after reconnects)."""

    def _received(self, frame: str | bytes) -> None:
        self.recorder.record_in(frame)

    def _sent(self, frame: str | bytes) -> None:
        self.recorder.record_out(frame)

    def _closed(self, closed: TransportClosed) -> None:
        self.recorder.connection_closed(self.connection, closed)

    def _ended(self, terminal: BaseException) -> None:
        self.recorder.session_ended(terminal)

    def _failed(self, error: BaseException) -> None:
        try:
            self.recorder.failed(error)
        except Exception:  # a subclass that breaks even this: still never fatal
            log.exception("rxrealtime recorder failed")
