"""The input audio buffer of one session: decoding, the buffer itself, and the VAD's clock.

Appended audio is decoded from the session's input format to PCM16 24 kHz on arrival (one stream
decoder, restarted when the format changes) and kept until it is committed or cleared. With turn
detection on, an :class:`~rxrealtime.server.audio.EnergyVad` reads it, and each turn boundary it
finds is handed to ``on_boundary`` according to the VAD clock:

* ``"audio"`` — audio-timestamp mode: a boundary is handed over while the ``append`` that
  completed it is being handled. Audio pushed faster than real time gives ``speech_started`` and
  ``speech_stopped`` as fast as it arrives (fractions of a millisecond apart): deterministic and
  quick, for tests.
* ``"arrival"`` — arrival-time mode: the input is a live stream played on a clock that starts at
  the arrival of the first audio and never runs ahead of real time (each append starts playing
  when it arrives or when the audio before it has played, whichever is later). A boundary is
  handed over when that clock reaches the frame where it was detected. A client streaming in real
  time sees a boundary at most one append's duration (typically 20 to 100 ms) after the audio
  completing it arrived; a client pushing audio faster than real time sees the boundaries spaced
  as far apart as the audio between them lasts, as from the live service.

Either way the boundaries' ``audio_start_ms`` / ``audio_end_ms`` are the same audio positions, and
handing over keeps detection order. Clearing or committing the buffer, or changing the VAD
settings, drops boundaries not yet handed over. :meth:`InputAudio.close` cancels the clock's
task; nothing runs after it returns. Not thread-safe: one per connection, on its event loop.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal

from rxrealtime.server.audio import BYTES_PER_MS, EnergyVad, VadEvent
from rxrealtime.server.g711 import Codec, StreamDecoder

__all__ = ["VAD_CLOCKS", "InputAudio", "VadClock"]

VadClock = Literal["arrival", "audio"]
VAD_CLOCKS: tuple[VadClock, ...] = ("arrival", "audio")

_FRAME_BYTES = 10 * BYTES_PER_MS
_SEMANTIC_SILENCE_MS = {"low": 800, "medium": 500, "high": 250, "auto": 500}
_log = logging.getLogger("rxrealtime.server")


class InputAudio:
    """One session's input audio buffer and VAD (see the module docstring)."""

    def __init__(
        self, codec: Codec, *, clock: VadClock, on_boundary: Callable[[VadEvent], None]
    ) -> None:
        if clock not in VAD_CLOCKS:
            raise ValueError(f"vad clock must be one of {VAD_CLOCKS}, got {clock!r}")
        self.clock: VadClock = clock
        self._on_boundary = on_boundary
        self._decoder: StreamDecoder = codec.decoder()
        self._buffer = bytearray()
        self._stream_bytes = 0
        self._buffer_start_ms = 0
        self._vad: EnergyVad | None = None
        self._vad_key: tuple[Any, ...] | None = None
        self._play_end: float | None = None
        self._pending: collections.deque[tuple[float, VadEvent]] = collections.deque()
        self._task: asyncio.Task[None] | None = None

    # -- configuration ------------------------------------------------------------------------

    def set_codec(self, codec: Codec) -> None:
        """Decode later appends in ``codec`` (the decoder restarts only when it changes)."""
        if codec != self._decoder.format:
            self._decoder = codec.decoder()

    def configure(self, turn: object) -> bool:
        """Follow the session's ``turn_detection`` (``None``: VAD off). Returns whether the VAD
        was rebuilt (then any speech in progress is forgotten and pending boundaries dropped)."""
        if not isinstance(turn, Mapping):
            changed = self._vad is not None
            self._vad = self._vad_key = None
            self._pending.clear()
            return changed
        if turn.get("type") == "semantic_vad":
            threshold, padding = 0.5, 300
            silence = _SEMANTIC_SILENCE_MS.get(str(turn.get("eagerness") or "auto"), 500)
        else:
            threshold = float(turn.get("threshold") or 0.5)
            padding = int(turn.get("prefix_padding_ms") or 300)
            silence = int(turn.get("silence_duration_ms") or 200)
        key = (threshold, padding, silence)
        if key == self._vad_key:
            return False
        self._vad_key = key
        self._vad = EnergyVad(threshold, padding, silence, position_ms=self.position_ms)
        self._pending.clear()
        return True

    # -- the buffer ---------------------------------------------------------------------------

    @property
    def position_ms(self) -> int:
        """Milliseconds of input audio received since the session began."""
        return self._stream_bytes // BYTES_PER_MS

    @property
    def buffered_ms(self) -> float:
        """Milliseconds of audio in the buffer."""
        return len(self._buffer) / BYTES_PER_MS

    def append(self, wire: bytes) -> None:
        """Add audio in the session's input format; run the VAD over it."""
        pcm = self._decoder.feed(wire)
        chunk_start_ms = self._stream_bytes / BYTES_PER_MS
        self._buffer += pcm
        self._stream_bytes += len(pcm)
        vad = self._vad
        if vad is None or not pcm:
            return
        play_start = 0.0
        if self.clock == "arrival":
            now = asyncio.get_running_loop().time()
            play_start = max(now, self._play_end or now)
            self._play_end = play_start + len(pcm) / BYTES_PER_MS / 1000
        for offset in range(0, len(pcm), _FRAME_BYTES):
            for boundary in vad.feed(pcm[offset : offset + _FRAME_BYTES]):
                if self.clock == "audio":
                    self._on_boundary(boundary)
                else:
                    due = play_start + max(0.0, vad.position_ms - chunk_start_ms) / 1000
                    self._schedule(due, boundary)

    def take_until(self, ms: int) -> bytes:
        """Remove and return the buffered audio before stream position ``ms``."""
        cut = max(0, (ms - self._buffer_start_ms) * BYTES_PER_MS)
        pcm = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        self._buffer_start_ms = ms
        return pcm

    def take_all(self) -> bytes:
        """Remove and return the whole buffer (a manual commit); resets the VAD."""
        pcm = bytes(self._buffer)
        self.clear()
        return pcm

    def clear(self) -> None:
        """Empty the buffer, forget speech in progress, drop pending boundaries."""
        self._buffer.clear()
        self._buffer_start_ms = self.position_ms
        self._pending.clear()
        if self._vad is not None:
            self._vad.reset()
            self._vad.position_ms = self._buffer_start_ms

    # -- the arrival clock --------------------------------------------------------------------

    def _schedule(self, due: float, boundary: VadEvent) -> None:
        self._pending.append((due, boundary))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._release())

    async def _release(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            entry = self._pending[0]
            delay = entry[0] - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self._pending or self._pending[0] is not entry:
                continue  # dropped (clear, commit, new settings) while waiting
            self._pending.popleft()
            try:
                self._on_boundary(entry[1])
            except Exception:  # the handler reports its own errors; never kill the clock
                _log.exception("turn boundary handler failed")

    async def close(self) -> None:
        """Cancel the arrival clock (pending boundaries are dropped) and wait for it."""
        self._pending.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
