"""PCM16 sample buffers and the 8 kHz <-> 24 kHz resamplers of the G.711 formats.

PCM16 here (and everywhere in the Realtime API) means 16-bit signed little-endian linear PCM,
mono. Pure and dependency-free (the standard library's :mod:`array` only): every function is
thread-safe and returns new objects.

Going from 24 kHz to 8 kHz averages each group of 3 samples (a boxcar low-pass, then
decimation by 3); going back interpolates linearly between consecutive 8 kHz samples. Both keep
durations exact: 1 ms of PCM16 24 kHz (24 samples) is 8 samples at 8 kHz and back.
"""

from __future__ import annotations

import sys
from array import array

__all__ = ["downsample_24k_to_8k", "samples", "to_bytes", "upsample_8k_to_24k"]


def samples(pcm: bytes | bytearray) -> array[int]:
    """The samples of a PCM16 buffer as a new ``array('h')`` in native byte order; a trailing
    odd byte (half a sample) is ignored."""
    out = array("h")
    out.frombytes(bytes(pcm[: len(pcm) // 2 * 2]))
    if sys.byteorder == "big":  # pragma: no cover - PCM16 on the wire is little-endian
        out.byteswap()
    return out


def to_bytes(values: array[int]) -> bytes:
    """PCM16 little-endian bytes of an ``array('h')`` (the array is left unchanged)."""
    if sys.byteorder == "big":  # pragma: no cover
        values = array("h", values)
        values.byteswap()
    return values.tobytes()


def downsample_24k_to_8k(pcm: bytes | bytearray) -> bytes:
    """PCM16 24 kHz to PCM16 8 kHz: each output sample is the rounded mean of 3 input samples
    (a trailing group of 1 or 2 samples is averaged too)."""
    wide = samples(pcm)
    out = array("h", bytes(2 * -(-len(wide) // 3)))
    for index in range(len(out)):
        group = wide[3 * index : 3 * index + 3]
        out[index] = round(sum(group) / len(group))
    return to_bytes(out)


def upsample_8k_to_24k(pcm: bytes | bytearray, previous: int = 0) -> bytes:
    """PCM16 8 kHz to PCM16 24 kHz by linear interpolation: input sample ``x[n]`` becomes the 3
    samples stepping from ``x[n-1]`` to ``x[n]``, so the output lags by 2/3 of an 8 kHz sample
    and needs no look-ahead. ``previous`` is ``x[-1]`` (the last sample of the preceding chunk
    when streaming; 0 at the start)."""
    narrow = samples(pcm)
    out = array("h", bytes(6 * len(narrow)))
    for index, sample in enumerate(narrow):
        step = sample - previous
        out[3 * index] = previous + round(step / 3)
        out[3 * index + 1] = previous + round(2 * step / 3)
        out[3 * index + 2] = sample
        previous = sample
    return to_bytes(out)
