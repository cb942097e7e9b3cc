"""Frames to record lines for the Redis publisher: sans-I/O, in two steps.

1. :meth:`RecordEncoder.admit`, when a frame is recorded (in order, on the session's path):
   decides from the frame's type alone whether it is published -- audio deltas are left out
   unless ``include_audio`` (counted in :attr:`RecordEncoder.omitted`), except the first audio
   delta of each response, kept with its ``delta`` emptied -- and flags what the second step
   must know.
2. :meth:`RecordEncoder.line`, later and in batches (off the receive path when the load
   allows): the record line, built by :class:`rxrealtime.recording.FrameEncoder` -- the one
   encoder of frame records, whose fast path writes exactly what
   :func:`rxrealtime.recording.encode_line` writes and falls back to it for anything it cannot
   prove (any depth, any content, secrets). The model named by a received ``session.*`` event
   is learnt here (:attr:`RecordEncoder.model`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import orjson

from rxrealtime import events as ev
from rxrealtime.recording import (
    FrameEncoder,
    encode_line,
    end_record,
    frame_record,
    reconnect_record,
)

__all__ = [
    "AUDIO_IN",
    "KEEP",
    "LINE",
    "MARKER",
    "OMIT",
    "SESSION",
    "VALID",
    "RecordEncoder",
    "kind_of",
]

AUDIO_IN = frozenset({"response.output_audio.delta", "response.audio.delta"})
AUDIO_OUT = frozenset({"input_audio_buffer.append"})

OMIT: Final = -1
""":meth:`RecordEncoder.admit`: leave the frame out."""
KEEP: Final = 0
"""Publish the frame as it is."""
VALID: Final = 1
"""Flag: the frame is JSON text that decoded to an event (no need to check it again)."""
MARKER: Final = 2
"""Flag: publish it with its ``delta`` emptied (a response's first audio delta)."""
SESSION: Final = 4
"""Flag: a ``session.*`` event (parsed when encoded, to learn the model)."""

LINE: Final = "line"
"""The direction of a recorded item that is already its finished record line (a frame an
offloaded publisher's session process encoded itself)."""

_PREFIX = '{"type":"'
_T = TypeVar("_T")
_PREFIX_B = b'{"type":"'


def kind_of(frame: object) -> str | None:
    """The ``type`` of a frame (text or bytes that start with ``{"type":"``, a decoded event, a
    mapping), cheaply; ``None`` when it does not say (parsed later, if at all)."""
    if isinstance(frame, str):
        if frame.startswith(_PREFIX):
            end = frame.find('"', 9)
            return frame[9:end] if end > 0 else None
        return None
    if isinstance(frame, bytes | bytearray | memoryview):
        data = bytes(frame) if isinstance(frame, memoryview) else frame
        if data.startswith(_PREFIX_B):
            end = data.find(b'"', 9)
            if end > 0:
                try:
                    return bytes(data[9:end]).decode()
                except UnicodeDecodeError:
                    return None
        return None
    if isinstance(frame, ev.ServerEvent | ev.ClientEvent):
        kind = getattr(frame, "type", None)
        return kind if isinstance(kind, str) else None
    if isinstance(frame, Mapping):
        kind = frame.get("type")
        return kind if isinstance(kind, str) else None
    return None


def _empty_delta(frame: object) -> str | None:
    """The text of a valid audio-delta frame with its top-level ``delta`` emptied, without
    parsing the payload (most of the bytes); ``None`` when that is not provably right. It is
    when the text has no backslash (no escape can hide a key or a quote), ``"delta":"`` occurs
    once, right after ``{`` or ``,`` (so it is a key: the text is valid JSON), and ``"delta"``
    nowhere else (so it is the event's own, top-level key)."""
    if isinstance(frame, str):
        text = frame
    elif isinstance(frame, bytes | bytearray):
        try:
            text = frame.decode()
        except UnicodeDecodeError:
            return None
    else:
        return None
    if "\\" in text:
        return None
    start = text.find('"delta":"')
    if start < 1 or text[start - 1] not in "{,":
        return None
    end = text.find('"', start + 9)
    if end < 0 or '"delta"' in text[:start] or '"delta"' in text[end:]:
        return None
    return text[: start + 9] + text[end:]


def _parsed_kind(frame: object) -> str | None:
    """The ``type`` of a text frame whose type is not first (rare): parsed."""
    try:
        value = orjson.loads(frame)  # type: ignore[arg-type]
    except (orjson.JSONDecodeError, TypeError):
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else None


class RecordEncoder:
    """One session's frames to record lines (see the module)."""

    __slots__ = ("_frames", "_marker_due", "include_audio", "model", "omitted", "started_at")

    def __init__(self, started_at: float, include_audio: bool, secrets: tuple[str, ...]) -> None:
        self.started_at = started_at
        self.include_audio = include_audio
        self._frames = FrameEncoder(secrets)
        self.model: str | None = None
        self.omitted = 0
        self._marker_due = True

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._frames.secrets

    @secrets.setter
    def secrets(self, secrets: tuple[str, ...]) -> None:
        self._frames.secrets = secrets

    def admit(self, direction: str, kind: str | None, frame: object) -> int:
        """Whether (and how) a frame of type ``kind`` is published: :data:`OMIT`, or
        :data:`KEEP` plus flags. Called in recording order: it keeps the audio marker state."""
        if kind is None and frame.__class__ in (str, bytes, bytearray):
            kind = _parsed_kind(frame)
        if kind is None:
            return KEEP
        if kind == "response.created":
            self._marker_due = True
            return KEEP
        if not self.include_audio:
            if direction == "in" and kind in AUDIO_IN:
                if self._marker_due:
                    self._marker_due = False
                    return MARKER
                self.omitted += 1
                return OMIT
            if direction == "out" and kind in AUDIO_OUT:
                self.omitted += 1
                return OMIT
        if kind.startswith("session."):
            return SESSION
        return KEEP

    def lines_with(
        self,
        items: list[tuple[float, str, Any, int]],
        other: Callable[[tuple[float, str, Any, int], float], _T],
    ) -> list[bytes | _T]:
        """The record lines of recorded items ``(ts, direction, frame, flags)``, in order: the
        frames flagged :data:`VALID` only in one batch through the frame encoder, every other
        item through ``other(item, started_at)``."""
        return self._frames.lines_with(items, self.started_at, other)

    def line(self, ts: float, direction: str, frame: object, flags: int) -> bytes:
        """The record line of one admitted frame (any flags). Raises ``TypeError`` for a value
        that is not a frame, an event or a dict."""
        if flags & MARKER and flags & VALID:
            emptied = _empty_delta(frame)
            if emptied is not None:  # the rest of the event goes through the fast path
                return self._frames.lines([(ts, direction, emptied, VALID)], self.started_at)[0]
        if flags & (MARKER | SESSION) and isinstance(frame, str | bytes | bytearray):
            try:  # text: parsed here (a marker loses its payload, a session names its model)
                event = orjson.loads(frame)
            except orjson.JSONDecodeError:
                event = None
            if isinstance(event, dict):
                given: object = frame
                if flags & MARKER:
                    try:
                        given = orjson.dumps({**event, "delta": ""})
                    except TypeError:  # deeper than the writer takes: the reference encoder
                        return self._reference(ts, direction, frame, flags)
                else:
                    self._learn(direction, event)
                return self._frames.lines([(ts, direction, given, VALID)], self.started_at)[0]
        if not flags & (MARKER | SESSION):
            item = (ts, direction, frame, flags & VALID)
            return self._frames.lines([item], self.started_at)[0]
        return self._reference(ts, direction, frame, flags)

    def _reference(self, ts: float, direction: str, frame: object, flags: int) -> bytes:
        record = frame_record(direction, frame, t=ts - self.started_at, ts=ts)
        event: Any = record.get("event")
        if isinstance(event, dict):
            if flags & MARKER:
                record["event"] = {**event, "delta": ""}
            else:
                self._learn(direction, event)
        return encode_line(record, self._frames.secrets)

    def _learn(self, direction: str, event: dict[str, Any]) -> None:
        session = event.get("session")
        model = session.get("model") if isinstance(session, dict) else None
        if direction == "in" and isinstance(model, str) and model:
            self.model = model

    def end(self, ts: float, reason: str, error: str | None) -> bytes:
        """The ``"end"`` record's line."""
        record = end_record(reason, error, t=ts - self.started_at, ts=ts)
        return encode_line(record, self._frames.secrets)

    def reconnect(self, ts: float, connection: int, code: int | None, reason: str | None) -> bytes:
        """The ``"reconnect"`` record's line (connection number ``connection`` starts)."""
        record = reconnect_record(connection, code, reason, t=ts - self.started_at, ts=ts)
        return encode_line(record, self._frames.secrets)
