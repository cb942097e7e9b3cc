"""Frames to record lines for the Redis publisher: sans-I/O, one call per frame.

Every line is a record of :mod:`rxrealtime.recording` (``{"t", "ts", "dir", "event" | "raw" |
"raw_base64"}``), scrubbed as that format requires. Most frames take a fast path that builds
the line around the frame's own JSON text, without parsing it into Python objects and dumping it
again; it is taken only when the result is provably what :func:`rxrealtime.recording
.encode_line` would write for the same record (the same JSON value, scrubbed identically):

* the frame is text that starts with ``{"type":"`` and is valid JSON (``orjson`` checks it);
* it has no line break (the line must stay one line) and no ``\\u`` escape (an escaped
  secret would not be found by a text search);
* no secret occurs in it, and nothing that looks like a credential or a credential's key
  (``bearer``, ``authorization``, ``api_key``/``api-key``/``apikey``, any case).

Everything else -- binary frames, invalid JSON, decoded events, the audio and ``session.*``
events this encoder inspects -- goes through ``recording.frame_record`` and
``recording.encode_line``.
"""

from __future__ import annotations

import logging

import orjson

from rxrealtime.recording import encode_line, end_record, frame_record

__all__ = ["RecordEncoder"]

log = logging.getLogger("rxrealtime.redis")

AUDIO_IN = frozenset({"response.output_audio.delta", "response.audio.delta"})
AUDIO_OUT = frozenset({"input_audio_buffer.append"})
_IN = b'{"t":%r,"ts":%r,"dir":"in","event":%b}\n'
_OUT = b'{"t":%r,"ts":%r,"dir":"out","event":%b}\n'


class RecordEncoder:
    """Turns one session's frames into record lines.

    ``include_audio=False`` leaves audio deltas out (counted in :attr:`omitted`) except the
    first audio delta after each ``response.created``, kept with ``delta`` emptied. The model
    named by a received ``session.*`` event is kept in :attr:`model`.
    """

    def __init__(self, started_at: float, include_audio: bool, secrets: tuple[str, ...]) -> None:
        self.started_at = started_at
        self.include_audio = include_audio
        self.secrets = secrets
        self.model: str | None = None
        self.omitted = 0
        self._marker_due = True

    def end(self, ts: float, reason: str, error: str | None) -> bytes:
        """The ``"end"`` record's line."""
        record = end_record(reason, error, t=ts - self.started_at, ts=ts)
        return encode_line(record, self.secrets)

    def line(self, ts: float, direction: str, frame: object) -> bytes | None:
        """The record line for one frame, or ``None`` when it is left out."""
        if frame.__class__ is str:
            text: str = frame  # type: ignore[assignment,unused-ignore]
            if text.startswith('{"type":"'):
                kind = text[9 : text.find('"', 9)]
                if not self.include_audio and (kind in AUDIO_IN or kind in AUDIO_OUT):
                    if kind in AUDIO_OUT or not self._marker_due:
                        self.omitted += 1  # left out unparsed: audio is most of the bytes
                        return None
                    return self._slow(ts, direction, frame)
                if kind.startswith("session."):
                    return self._slow(ts, direction, frame)
                if kind == "response.created":
                    self._marker_due = True
                if "\\u" not in text and "\n" not in text and "\r" not in text:
                    for secret in self.secrets:
                        if secret in text:
                            return self._slow(ts, direction, frame)
                    lowered = text.lower()
                    if (
                        "bearer" in lowered
                        or "authorization" in lowered
                        or "api_key" in lowered
                        or "api-key" in lowered
                        or "apikey" in lowered
                    ):
                        return self._slow(ts, direction, frame)
                    data = text.encode()
                    try:
                        orjson.loads(data)
                    except orjson.JSONDecodeError:
                        return self._slow(ts, direction, frame)
                    template = _IN if direction == "in" else _OUT
                    return template % (round(ts - self.started_at, 6), ts, data)
        return self._slow(ts, direction, frame)

    def _slow(self, ts: float, direction: str, frame: object) -> bytes | None:
        """The record through :mod:`rxrealtime.recording` (parse, scrub, serialise)."""
        try:
            record = frame_record(direction, frame, t=ts - self.started_at, ts=ts)
        except TypeError:
            log.warning("cannot publish a %s", type(frame).__name__)
            return None
        event = record.get("event")
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "response.created":
            self._marker_due = True
        elif not self.include_audio and (kind in AUDIO_IN or kind in AUDIO_OUT):
            if kind in AUDIO_OUT or not self._marker_due or not isinstance(event, dict):
                self.omitted += 1
                return None
            self._marker_due = False  # the response's first audio delta: kept, payload emptied
            record["event"] = {**event, "delta": ""}
        elif isinstance(event, dict) and isinstance(kind, str) and kind.startswith("session."):
            session = event.get("session")
            model = session.get("model") if isinstance(session, dict) else None
            if direction == "in" and isinstance(model, str) and model:
                self.model = model
        return encode_line(record, self.secrets)
