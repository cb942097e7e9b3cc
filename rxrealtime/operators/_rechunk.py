"""``rechunk``: output audio in fixed-size frames (e.g. 20 ms for telephony)."""

from __future__ import annotations

from collections.abc import Callable

import attrs
from reactivex import Observable

from rxrealtime import events as ev
from rxrealtime.audio import FORMATS, AudioFormat

from ._audio_chunks import AudioChunk, AudioDecoder, InvalidAudioHandler
from ._core import Clock, stateful

__all__ = ["Rechunker", "rechunk"]


@attrs.define
class _Buffer:
    first: AudioChunk
    format: AudioFormat
    frame_bytes: int
    data: bytearray
    emitted_bytes: int = 0


class Rechunker:
    """The sans-I/O state machine behind :func:`rechunk` (one per subscription).

    One buffer per ``(item_id, content_index)`` part, framed in the part's format (its
    decoder fixes a part's format at its first delta, so a buffer never mixes formats).

    Raises:
        ValueError: ``frame_ms`` is shorter than one sample of ``fmt`` (of any of the API's
            formats when ``fmt`` is ``None``).
    """

    def __init__(
        self,
        fmt: AudioFormat | None,
        frame_ms: float,
        *,
        pad: bool = False,
        on_invalid: InvalidAudioHandler | None = None,
    ) -> None:
        for candidate in FORMATS.values() if fmt is None else (fmt,):
            if candidate.ms_to_bytes(frame_ms) <= 0:
                raise ValueError(
                    f"frame_ms={frame_ms} is shorter than one sample of {candidate.type} "
                    f"at {candidate.sample_rate} Hz"
                )
        self.frame_ms = frame_ms
        self._pad = pad
        self._decoder = AudioDecoder(fmt, on_invalid)
        self._buffers: dict[tuple[str, int], _Buffer] = {}

    @property
    def open_parts(self) -> int:
        return len(self._buffers)

    def frame_bytes(self, fmt: AudioFormat) -> int:
        """Bytes of one frame in ``fmt``: ``frame_ms`` rounded down to whole samples (at least
        one sample, for a rate announced outside the API's formats)."""
        return max(fmt.ms_to_bytes(self.frame_ms), fmt.bytes_per_sample)

    def step(self, event: ev.ServerEvent, emit: Callable[[AudioChunk], None]) -> None:
        self._decoder.step(event, lambda chunk: self._add(chunk, emit))
        if isinstance(event, ev.ResponseOutputAudioDone):
            self._flush((event.item_id, event.content_index), emit)
        elif isinstance(event, ev.ResponseDone) and event.response is not None:
            done_id = event.response.id
            for key in [k for k, b in self._buffers.items() if b.first.response_id == done_id]:
                self._flush(key, emit)

    def finish(self, emit: Callable[[AudioChunk], None]) -> None:
        for key in list(self._buffers):
            self._flush(key, emit)
        self._decoder.finish(emit)

    def _add(self, chunk: AudioChunk, emit: Callable[[AudioChunk], None]) -> None:
        key = (chunk.item_id, chunk.content_index)
        buffer = self._buffers.get(key)
        if buffer is None:
            fmt = chunk.audio_format
            buffer = self._buffers[key] = _Buffer(chunk, fmt, self.frame_bytes(fmt), bytearray())
        buffer.data += chunk.data
        size = buffer.frame_bytes
        whole = len(buffer.data) - len(buffer.data) % size
        for start in range(0, whole, size):
            self._emit(buffer, bytes(buffer.data[start : start + size]), emit)
        del buffer.data[:whole]

    def _flush(self, key: tuple[str, int], emit: Callable[[AudioChunk], None]) -> None:
        buffer = self._buffers.pop(key, None)
        if buffer is None or not buffer.data:
            return
        tail = bytes(buffer.data)
        if self._pad:
            tail += buffer.format.silence(buffer.frame_bytes - len(tail))
        self._emit(buffer, tail, emit)

    def _emit(self, buffer: _Buffer, data: bytes, emit: Callable[[AudioChunk], None]) -> None:
        fmt = buffer.format
        emit(
            attrs.evolve(
                buffer.first,
                data=data,
                offset_ms=fmt.bytes_to_ms(buffer.emitted_bytes),
                duration_ms=fmt.bytes_to_ms(len(data)),
            )
        )
        buffer.emitted_bytes += len(data)


def rechunk(
    frame_ms: float = 20,
    *,
    format: AudioFormat | None = None,
    pad: bool = False,
    on_invalid: InvalidAudioHandler | None = None,
) -> Callable[[Observable[ev.ServerEvent]], Observable[AudioChunk]]:
    """Output audio decoded (as :func:`audio_chunks` does) and regrouped into fixed frames.

    ::

        --a(i1,700B)--a(i1,700B)--audio.done(i1)--|     frame 960 B (20 ms of 24 kHz PCM16)
        --------------[i1 960B]---[i1 440B]-------|

        --session.updated(pcmu)--a(i1,200B)--audio.done(i1)--|    frame 160 B (20 ms of pcmu)
        -------------------------[i1 160B]---[i1 40B]--------|

    Each ``(item_id, content_index)`` part is framed separately, with ``offset_ms`` counted from
    the part's start. Every frame holds exactly ``frame_ms`` of audio (rounded down to whole
    samples) except the tail of a part, flushed when the part ends (``…audio.done``), when its
    response ends (``response.done``), and when the source completes. With ``pad=True`` the tail
    is padded with silence of the format to a full frame. Bytes are never dropped, duplicated or
    reordered within a part; frames of a part are emitted in order.

    ``format`` works as in :func:`audio_chunks`: ``None`` (the default) follows the session's
    announced output format and per-response overrides, starting from PCM16 24 kHz; a format
    pins it. Frame sizes in bytes follow each part's format (20 ms: 960 B of PCM16, 160 B of
    G.711). A part's format is fixed by its first delta, so a frame never mixes formats; a
    format announced later applies from the next part on.

    Raises:
        ValueError: ``frame_ms`` is shorter than one sample of ``format`` (with ``None``: of any
            of the API's formats, i.e. under 0.125 ms).
    """
    Rechunker(format, frame_ms)  # validate now, not at subscription time

    def factory(_clock: Clock) -> Rechunker:
        return Rechunker(format, frame_ms, pad=pad, on_invalid=on_invalid)

    return stateful(factory)
