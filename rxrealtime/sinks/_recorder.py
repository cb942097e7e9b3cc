"""``Recorder``: both directions of a session, one timestamped JSON object per line.

Recording format (JSON Lines, UTF-8, one object per line, ``"\\n"``-terminated)
---------------------------------------------------------------------------------

The first line is a header::

    {"rxrealtime_recording": 1, "started_at": <unix time, float>, "meta": {...}}

Every frame is then one record::

    {"t": <seconds since the recorder started, float>, "ts": <unix time, float>,
     "dir": "in" | "out", "event": <the wire dict>}

``"in"`` is a server event, ``"out"`` a client event, ``"event"`` exactly what went over the
wire (the event layer's ``to_dict``). A frame that is not a JSON value, and any frame that
decoded to an ``InvalidEvent``, is kept verbatim: ``"raw": <text>`` instead of ``"event"``, or
``"raw_base64": <base64>`` for a binary (or non-UTF-8) frame. When the stream ends, a last
record says how::

    {"t": ..., "ts": ..., "dir": "end", "reason": "completed" | "error" | "closed",
     "error": <message> | null}

:func:`rxrealtime.replay.replay` reads this format (and plain JSONL with one server event per
line). Readers skip records whose ``dir`` they do not know, so later versions may add kinds.

Guarantees
----------

* **Flushed line by line.** Each record is written with a single ``write`` of a complete line,
  then flushed to the operating system, so a crash loses at most the frame in flight and a
  reader can follow the file while it is written (``fsync=True`` also survives power loss).
* **No secrets.** Every string (keys and values, at any depth) has each configured secret
  replaced by ``***``; the values of ``Authorization``/``api_key``-like keys and any
  ``Bearer …`` string are masked whole. The ``OPENAI_API_KEY`` environment variable's value is
  a secret unless ``scrub_env=False``.
* **Threads.** ``on_next``/``record_in``/``record_out`` run on the caller's thread (the event
  loop's thread for a live session): each is one small buffered write plus a flush, so the
  recorder is safe to run inline on the loop. A lock makes concurrent calls from other threads
  safe and keeps lines whole.
* Records after ``close()`` (or after the stream ended) are ignored, never raised.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from reactivex import Observer

from rxrealtime import events as ev
from rxrealtime.errors import redact
from rxrealtime.transport import FrameTransport, TransportClosed

__all__ = ["FORMAT_VERSION", "HEADER_KEY", "Recorder", "RecordingTransport", "scrub"]

FORMAT_VERSION = 1
"""The value of the header's ``rxrealtime_recording`` key written by this version."""

HEADER_KEY = "rxrealtime_recording"
"""The key that marks a recording's header line."""

_MASK = "***"
_SECRET_KEYS = frozenset(
    {"authorization", "proxy-authorization", "api_key", "api-key", "apikey", "x-api-key"}
)


def scrub(value: Any, secrets: Iterable[str | None]) -> Any:
    """A copy of the JSON-like ``value`` with secrets masked (see the module guarantees)."""
    return _scrub(value, _ordered(secrets))


def _ordered(secrets: Iterable[str | None]) -> list[str]:
    """Distinct non-empty secrets, longest first (so one containing another is masked whole)."""
    return sorted({secret for secret in secrets if secret}, key=len, reverse=True)


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        if value[:7].lower() == "bearer ":
            return "Bearer " + _MASK
        return redact(value, secrets) if secrets else value
    if isinstance(value, Mapping):
        return {
            _scrub(str(key), secrets): (
                _MASK if str(key).lower() in _SECRET_KEYS else _scrub(item, secrets)
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item, secrets) for item in value]
    return value


def _wire(frame: object) -> tuple[str, Any]:
    """The record field (``event``/``raw``/``raw_base64``) and value for one frame."""
    if isinstance(frame, bytes | bytearray | memoryview):
        data = bytes(frame)
        try:
            return _wire(data.decode("utf-8"))
        except UnicodeDecodeError:
            return "raw_base64", base64.b64encode(data).decode("ascii")
    if isinstance(frame, str):
        try:
            return "event", orjson.loads(frame)
        except orjson.JSONDecodeError:
            return "raw", frame
    if isinstance(frame, ev.InvalidEvent):
        # Verbatim, so a replay decodes exactly the same InvalidEvent.
        raw = frame.raw
        if isinstance(raw, str):
            return "raw", raw
        if isinstance(raw, bytes):
            return "raw_base64", base64.b64encode(raw).decode("ascii")
        return "event", raw
    if isinstance(frame, ev.ServerEvent | ev.ClientEvent):
        return "event", ev.to_dict(frame)
    if isinstance(frame, Mapping):
        return "event", dict(frame)
    raise TypeError(f"cannot record a {type(frame).__name__}; expected an event, dict or frame")


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
        self._secrets = _ordered([*secrets, env_key])
        self._fsync = fsync
        self._clock = clock
        self._lock = threading.Lock()
        self.path = Path(path)
        self.records_written = 0
        """Frames recorded so far (the header and the end record are not counted)."""
        self._file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._start = clock()
        header: dict[str, Any] = {HEADER_KEY: FORMAT_VERSION, "started_at": time.time()}
        if meta:
            header["meta"] = dict(meta)
        self._write(header)

    @property
    def closed(self) -> bool:
        """Whether the file is closed (no more records will be written)."""
        return self._file is None

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        """Also mask ``secrets`` in every record written from now on."""
        self._secrets = _ordered([*secrets, *self._secrets])

    def wrap(self, transport: FrameTransport) -> RecordingTransport:
        """A transport that records every raw frame ``transport`` receives and sends."""
        return RecordingTransport(transport, self)

    def record_in(self, frame: str | bytes | ev.ServerEvent | Mapping[str, Any]) -> None:
        """Record a frame received from the server: its raw text, bytes, or decoded event."""
        self._record("in", frame)

    def record_out(self, frame: str | bytes | ev.ClientEvent | Mapping[str, Any]) -> None:
        """Record a frame sent to the server: its encoded text, or the client event / dict."""
        self._record("out", frame)

    def close(self) -> None:
        """Write the ``"end"`` record (reason ``"closed"``) and close the file; idempotent."""
        self._end("closed", None)

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
        field, value = _wire(frame)
        now = self._clock()
        self._write(
            {"t": round(now - self._start, 6), "ts": time.time(), "dir": direction, field: value},
            count=True,
        )

    def _end(self, reason: str, error: str | None) -> None:
        if self._file is None:
            return
        now = self._clock()
        self._write(
            {
                "t": round(now - self._start, 6),
                "ts": time.time(),
                "dir": "end",
                "reason": reason,
                "error": error,
            }
        )
        with self._lock:
            file, self._file = self._file, None
        if file is not None:
            file.close()

    def _write(self, record: dict[str, Any], *, count: bool = False) -> None:
        line = orjson.dumps(
            _scrub(record, self._secrets), default=str, option=orjson.OPT_APPEND_NEWLINE
        )
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
