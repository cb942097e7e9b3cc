"""Streaming conversion between a device's PCM and the session's audio formats, and fixed frames.

* :class:`PcmConverter`: interleaved PCM16 at any rate and channel count to any other, as a
  stream of chunks (channels are averaged down or copied up; rates are converted with ``soxr``,
  a proper band-limited resampler, never by dropping or repeating samples);
* :class:`FormatEncoder`: device PCM to one of the API's input formats (PCM16 24 kHz, G.711
  µ-law/A-law 8 kHz) — resampled straight to the format's rate, then companded;
* :class:`Framer`: a byte stream cut into frames of one fixed duration;
* :func:`level_dbfs`: the RMS level of PCM16, for meters.

``numpy`` and ``soxr`` (the ``[voice]`` extra) are needed only when the rates differ; matching
rates (a 24 kHz WAV file, any mono source at the format's rate) convert with the standard
library alone. Every object here is a sans-I/O state machine: not thread-safe, one per stream.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

from rxrealtime.audio import PCM16, AudioFormat, g711
from rxrealtime.audio.devices.backend import load_numpy, load_soxr
from rxrealtime.audio.pcm import samples, to_bytes

__all__ = ["FormatEncoder", "Framer", "PcmConverter", "level_dbfs"]


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")


class PcmConverter:
    """Interleaved PCM16 at ``in_rate`` Hz with ``in_channels`` channels to PCM16 at
    ``out_rate`` Hz with ``out_channels`` channels, chunk by chunk.

    :meth:`feed` may be given any number of bytes (a trailing partial sample frame is kept for
    the next call) and returns what is ready; the resampler holds back a few milliseconds,
    which :meth:`flush` returns at the end of the stream. Over a whole stream the output lasts
    as long as the input, to the output sample.

    Raises:
        ValueError: a rate or channel count below 1.
        AudioDeviceError: the rates differ and ``numpy``/``soxr`` are not installed.
    """

    def __init__(
        self,
        in_rate: int,
        in_channels: int,
        out_rate: int,
        out_channels: int = 1,
        *,
        quality: str = "HQ",
    ) -> None:
        for name, value in (
            ("in_rate", in_rate),
            ("in_channels", in_channels),
            ("out_rate", out_rate),
            ("out_channels", out_channels),
        ):
            _check_positive(name, value)
        self.in_rate, self.in_channels = in_rate, in_channels
        self.out_rate, self.out_channels = out_rate, out_channels
        self._pending = b""
        self._np: Any = None
        self._resampler: Any = None
        if in_rate != out_rate:
            self._np = load_numpy()
            self._resampler = load_soxr().ResampleStream(
                in_rate, out_rate, 1, dtype="float32", quality=quality
            )

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        """Convert the next chunk; returns the converted audio ready so far."""
        frame = 2 * self.in_channels
        whole = self._pending + bytes(data)
        cut = len(whole) // frame * frame
        self._pending = whole[cut:]
        return self._convert(whole[:cut], last=False)

    def flush(self) -> bytes:
        """End the stream: the audio the resampler still holds (a partial sample frame left
        over from :meth:`feed` is dropped)."""
        self._pending = b""
        return self._convert(b"", last=True)

    def _convert(self, data: bytes, *, last: bool) -> bytes:
        if self._resampler is None:
            return _spread(_mono(data, self.in_channels), self.out_channels)
        np = self._np
        wide = np.frombuffer(data, "<i2").reshape(-1, self.in_channels)
        mono = wide.mean(axis=1, dtype=np.float32)
        resampled = self._resampler.resample_chunk(mono, last=last)
        pcm = np.clip(np.rint(resampled), -32768, 32767).astype("<i2")
        if self.out_channels > 1:
            pcm = np.repeat(pcm, self.out_channels)
        return bytes(pcm.tobytes())


def _mono(data: bytes, channels: int) -> bytes:
    """Interleaved PCM16 averaged to one channel (rounded to the nearest sample value)."""
    if channels == 1 or not data:
        return data
    wide = samples(data)
    out = array("h", bytes(len(wide) // channels * 2))
    for index in range(len(out)):
        group = wide[index * channels : (index + 1) * channels]
        out[index] = round(sum(group) / channels)
    return to_bytes(out)


def _spread(mono: bytes, channels: int) -> bytes:
    """Mono PCM16 copied to every one of ``channels`` interleaved channels."""
    if channels == 1 or not mono:
        return mono
    narrow = samples(mono)
    out = array("h", bytes(len(narrow) * channels * 2))
    for channel in range(channels):
        out[channel::channels] = narrow
    return to_bytes(out)


class FormatEncoder:
    """Device PCM (PCM16, ``in_rate`` Hz, ``in_channels`` channels) to ``format``, one of the
    API's input formats at its API rate: PCM16 24 kHz, or G.711 µ-law/A-law 8 kHz (resampled
    to 8 kHz directly, then companded).

    Raises:
        ValueError: ``format`` is not at its API rate, or a bad rate or channel count.
        AudioDeviceError: resampling is needed and ``numpy``/``soxr`` are not installed.
    """

    def __init__(self, in_rate: int, in_channels: int, format: AudioFormat = PCM16) -> None:
        format.encode(b"")  # raises ValueError for a format that is not at its API rate
        self.format = format
        self._pcm = PcmConverter(in_rate, in_channels, format.sample_rate, 1)

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        """Encode the next chunk; returns what is ready."""
        return self._encode(self._pcm.feed(data))

    def flush(self) -> bytes:
        """End the stream: what the resampler still holds, encoded."""
        return self._encode(self._pcm.flush())

    def _encode(self, pcm: bytes) -> bytes:
        law = self.format.law
        return pcm if law is None or not pcm else g711.encode(pcm, law)


class Framer:
    """Cuts a byte stream of ``format`` audio into frames of exactly ``frame_ms`` each.

    Raises:
        ValueError: ``frame_ms`` is not positive, or is shorter than one sample.
    """

    def __init__(self, frame_ms: float, format: AudioFormat = PCM16) -> None:
        if not frame_ms > 0:
            raise ValueError(f"frame_ms must be positive, not {frame_ms}")
        self.frame_bytes = format.ms_to_bytes(frame_ms)
        if self.frame_bytes < format.bytes_per_sample:
            raise ValueError(f"frame_ms={frame_ms} is shorter than one sample of {format.type}")
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        """The whole frames completed by ``data``, in order."""
        self._buffer += data
        size = self.frame_bytes
        count = len(self._buffer) // size
        frames = [bytes(self._buffer[i * size : (i + 1) * size]) for i in range(count)]
        del self._buffer[: count * size]
        return frames

    def flush(self) -> bytes:
        """What is left (shorter than one frame; may be empty), and an empty buffer."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest


def level_dbfs(pcm: bytes | bytearray) -> float:
    """The RMS level of PCM16 audio in dB relative to full scale: 0 for a full-scale square
    wave, about -3 for a full-scale sine, ``-inf`` for silence or no audio."""
    values = samples(pcm)
    if not values:
        return -math.inf
    mean_square = sum(v * v for v in values) / len(values)
    return -math.inf if mean_square == 0 else 10 * math.log10(mean_square / 32768**2)
