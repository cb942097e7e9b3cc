"""PCM16 audio for the embedded server: a decodable "tone code" voice and an energy VAD.

All audio is 16-bit signed little-endian mono PCM at 24 kHz, the Realtime API's ``audio/pcm``
(:data:`rxrealtime.audio.PCM16`: the byte/ms arithmetic and sample buffers are the pure audio
core's).

The tone code
-------------
The server's synthetic voice speaks text as a sequence of short tones, one per character:

* each known character (:data:`TONE_ALPHABET`, matched case-insensitively) is a 30 ms sine
  burst at ``500 + 45 * index`` Hz with 4 ms raised-cosine fades, then 10 ms of silence;
* a space (and any run of whitespace) is 60 ms of silence; other characters are skipped.

:func:`decode_tones` reads such audio back (zero-crossing frequency estimate per burst), so a test
or a demo can "speak" to the server with :func:`encode_text` and the default model's transcription
hears the words exactly. The tones are loud (peak 0.3 of full scale), so the VAD hears them as
speech, and the gaps between them are far shorter than any VAD silence duration.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator

import attrs

from rxrealtime.audio import PCM16
from rxrealtime.audio.pcm import samples as _samples
from rxrealtime.audio.pcm import to_bytes as _to_bytes

__all__ = [
    "BYTES_PER_MS",
    "SAMPLE_RATE",
    "TONE_ALPHABET",
    "EnergyVad",
    "VadEvent",
    "char_duration_ms",
    "decode_tones",
    "duration_ms",
    "encode_text",
    "silence",
]

SAMPLE_RATE = PCM16.sample_rate
"""Samples per second of every PCM buffer the server reads or writes (24000)."""
BYTES_PER_MS = PCM16.bytes_per_second // 1000
"""48: bytes of PCM16 mono per millisecond."""

TONE_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789.,?!'-+*/=:%()"
"""The characters the tone code can speak, in frequency order."""

_BASE_HZ = 500.0
_STEP_HZ = 45.0
_TONE_MS = 30
_GAP_MS = 10
_SPACE_MS = 60
_FADE_MS = 4
_AMPLITUDE = 0.3 * 32767
_INDEX = {c: i for i, c in enumerate(TONE_ALPHABET)}


def duration_ms(pcm: bytes | bytearray) -> float:
    """Duration in milliseconds of a PCM16 24 kHz mono buffer."""
    return PCM16.duration_ms(pcm)


def silence(ms: float) -> bytes:
    """``ms`` milliseconds of digital silence (rounded down to a whole sample)."""
    return PCM16.silence(PCM16.ms_to_bytes(ms))


def char_duration_ms(char: str) -> int:
    """How long the tone code takes to speak ``char`` (0 for characters it skips)."""
    if char.isspace():
        return _SPACE_MS
    return _TONE_MS + _GAP_MS if char.lower() in _INDEX else 0


def _tone(freq: float) -> array[int]:
    count = _TONE_MS * SAMPLE_RATE // 1000
    fade = _FADE_MS * SAMPLE_RATE // 1000
    step = 2.0 * math.pi * freq / SAMPLE_RATE
    out = array("h", bytes(2 * count))
    for n in range(count):
        edge = min(n, count - 1 - n)
        gain = 0.5 - 0.5 * math.cos(math.pi * edge / fade) if edge < fade else 1.0
        out[n] = int(_AMPLITUDE * gain * math.sin(step * n))
    return out


_TONES: dict[str, bytes] = {}


def _char_pcm(char: str) -> bytes:
    if char.isspace():
        return silence(_SPACE_MS)
    key = char.lower()
    if key not in _INDEX:
        return b""
    cached = _TONES.get(key)
    if cached is None:
        cached = _to_bytes(_tone(_BASE_HZ + _STEP_HZ * _INDEX[key])) + silence(_GAP_MS)
        _TONES[key] = cached
    return cached


def encode_text(text: str) -> bytes:
    """Speak ``text`` in the tone code; the result's duration is the sum of
    :func:`char_duration_ms` over the characters (whitespace runs count once)."""
    parts: list[bytes] = []
    previous_space = False
    for char in text:
        space = char.isspace()
        if not (space and previous_space):
            parts.append(_char_pcm(char))
        previous_space = space
    return b"".join(parts)


def _segments(samples: array[int]) -> Iterator[tuple[int, int]]:
    """Runs of sound separated by at least 5 ms of near-silence, as sample ranges."""
    block = SAMPLE_RATE // 1000
    quiet_needed = 5
    start: int | None = None
    last_loud = 0
    quiet = 0
    for offset in range(0, len(samples), block):
        chunk = samples[offset : offset + block]
        loud = max(chunk, default=0) > 300 or -min(chunk, default=0) > 300
        if loud:
            if start is None:
                start = offset
            last_loud = offset + len(chunk)
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= quiet_needed:
                yield start, last_loud
                start = None
    if start is not None:
        yield start, last_loud


def _frequency(samples: array[int], start: int, end: int) -> float | None:
    crossings: list[float] = []
    for n in range(start + 1, end):
        a, b = samples[n - 1], samples[n]
        if (a < 0 <= b) or (a >= 0 > b):
            crossings.append(n - 1 + (a / (a - b) if a != b else 0.0))
    if len(crossings) < 4:
        return None
    span = crossings[-1] - crossings[0]
    return (len(crossings) - 1) * SAMPLE_RATE / (2.0 * span)


def decode_tones(pcm: bytes | bytearray) -> str | None:
    """Read tone-code audio back into lower-case text, or ``None`` when ``pcm`` is not tone code.

    Audio counts as tone code when it has at least one burst and every burst lasts 20 to 40 ms
    and sits within 15 Hz of a code frequency. Gaps of 40 ms or more become one space.
    """
    samples = _samples(pcm)
    chars: list[str] = []
    previous_end: int | None = None
    gap_for_space = 40 * SAMPLE_RATE // 1000
    for start, end in _segments(samples):
        length_ms = (end - start) * 1000 / SAMPLE_RATE
        freq = _frequency(samples, start, end)
        if freq is None or not 20 <= length_ms <= 40:
            return None
        index = round((freq - _BASE_HZ) / _STEP_HZ)
        if not 0 <= index < len(TONE_ALPHABET) or abs(_BASE_HZ + _STEP_HZ * index - freq) > 15:
            return None
        if previous_end is not None and start - previous_end >= gap_for_space:
            chars.append(" ")
        chars.append(TONE_ALPHABET[index])
        previous_end = end
    return "".join(chars) if chars else None


@attrs.frozen
class VadEvent:
    """A turn boundary found by :class:`EnergyVad`.

    ``kind`` is ``"speech_started"`` (``ms`` = onset minus prefix padding, never before 0) or
    ``"speech_stopped"`` (``ms`` = end of the last loud frame plus the silence duration, i.e. the
    moment the silence was long enough). Times are milliseconds of audio since the stream began.
    """

    kind: str
    ms: int


@attrs.define
class EnergyVad:
    """Energy-based voice activity detection over 10 ms frames, fed incrementally.

    A frame is speech when its RMS, as a fraction of full scale, is at least
    ``threshold * 0.04`` (the default threshold 0.5 means RMS ≥ 0.02, about -34 dBFS).
    Speech starts at the first speech frame and stops after ``silence_duration_ms`` without one.
    Not thread-safe; one instance per connection.
    """

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 200
    position_ms: int = 0
    in_speech: bool = False
    _silent_ms: int = 0
    _pending: bytearray = attrs.field(factory=bytearray)

    def reset(self) -> None:
        """Forget partial frames and any speech in progress (the stream position is kept)."""
        self._pending.clear()
        self.in_speech = False
        self._silent_ms = 0

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Consume ``pcm`` and return the boundaries it completes, in stream order."""
        self._pending += pcm
        frame_bytes = 10 * BYTES_PER_MS
        limit = self.threshold * 0.04 * 32768
        events: list[VadEvent] = []
        while len(self._pending) >= frame_bytes:
            frame = _samples(self._pending[:frame_bytes])
            del self._pending[:frame_bytes]
            rms = math.sqrt(sum(s * s for s in frame) / len(frame))
            if rms >= limit:
                if not self.in_speech:
                    self.in_speech = True
                    start = max(0, self.position_ms - self.prefix_padding_ms)
                    events.append(VadEvent("speech_started", start))
                self._silent_ms = 0
            elif self.in_speech:
                self._silent_ms += 10
                if self._silent_ms >= self.silence_duration_ms:
                    self.in_speech = False
                    self._silent_ms = 0
                    events.append(VadEvent("speech_stopped", self.position_ms + 10))
            self.position_ms += 10
        return events
