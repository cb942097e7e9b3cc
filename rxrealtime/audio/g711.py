"""ITU-T G.711 companding: µ-law (``audio/pcmu``) and A-law (``audio/pcma``).

* ``audio/pcmu``: G.711 µ-law at 8 kHz, one byte per sample;
* ``audio/pcma``: G.711 A-law at 8 kHz, one byte per sample;
* PCM16 here means 16-bit signed little-endian linear PCM, mono.

The companding follows G.711's segment tables on 16-bit input (the classic public-domain
formulation, bit-compatible with the former ``audioop.lin2ulaw`` / ``lin2alaw`` /
``ulaw2lin`` / ``alaw2lin``): µ-law encodes 0 as ``0xFF``, A-law encodes 0 as ``0xD5``.
Encoding and decoding do not resample: a µ-law byte string at 8 kHz decodes to PCM16 at 8 kHz
(:mod:`rxrealtime.audio.pcm` has the 8 kHz <-> 24 kHz resamplers, and
:meth:`rxrealtime.audio.AudioFormat.decode` does both). Table-driven (the 64 KiB encode table
of a law is built on its first use); every function is pure and thread-safe. Part of the pure
audio core: it imports nothing outside :mod:`rxrealtime.audio` and the standard library.
"""

from __future__ import annotations

import functools
from typing import Literal, TypeAlias

from rxrealtime.audio.pcm import samples

__all__ = [
    "Law",
    "alaw_decode",
    "alaw_encode",
    "decode",
    "encode",
    "ulaw_decode",
    "ulaw_encode",
]

Law: TypeAlias = Literal["ulaw", "alaw"]
"""A G.711 companding law: ``"ulaw"`` (``audio/pcmu``) or ``"alaw"`` (``audio/pcma``)."""

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # 14-bit magnitude limit


def _ulaw_byte(sample: int) -> int:
    value = sample >> 2  # µ-law works on 14 bits
    if value >= 0:
        mask = 0xFF
    else:
        mask, value = 0x7F, -value
    value = min(value, _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = max(value.bit_length() - 6, 0)
    if segment >= 8:  # only the most negative 16-bit samples
        return 0x7F ^ mask
    return (segment << 4 | (value >> (segment + 1)) & 0x0F) ^ mask


def _ulaw_sample(code: int) -> int:
    code = ~code & 0xFF
    exponent = (code >> 4) & 0x07
    magnitude = (((code & 0x0F) << 3) + _ULAW_BIAS << exponent) - _ULAW_BIAS
    return -magnitude if code & 0x80 else magnitude


def _alaw_byte(sample: int) -> int:
    value = sample >> 3  # A-law works on 13 bits
    if value >= 0:
        mask = 0xD5
    else:
        mask, value = 0x55, -value - 1
    segment = max(value.bit_length() - 5, 0)  # at most 7: value < 4096
    mantissa = (value >> (segment if segment > 1 else 1)) & 0x0F
    return (segment << 4 | mantissa) ^ mask


def _alaw_sample(code: int) -> int:
    code ^= 0x55
    segment = (code & 0x70) >> 4
    magnitude = (code & 0x0F) << 4
    if segment == 0:
        magnitude += 8
    else:
        magnitude = (magnitude + 0x108) << (segment - 1)
    return magnitude if code & 0x80 else -magnitude


def _check_law(law: str) -> None:
    if law not in ("ulaw", "alaw"):
        raise ValueError(f"law must be 'ulaw' or 'alaw', not {law!r}")


@functools.cache
def _encode_table(law: Law) -> bytes:
    """Code byte for every 16-bit sample, indexed by ``sample & 0xFFFF`` (built on first use)."""
    to_byte = _ulaw_byte if law == "ulaw" else _alaw_byte
    return bytes(to_byte(n - 0x10000 if n >= 0x8000 else n) for n in range(0x10000))


@functools.cache
def _decode_table(law: Law) -> tuple[bytes, ...]:
    """Little-endian PCM16 bytes for every code byte."""
    to_sample = _ulaw_sample if law == "ulaw" else _alaw_sample
    return tuple(to_sample(code).to_bytes(2, "little", signed=True) for code in range(256))


def encode(pcm: bytes | bytearray, law: Law) -> bytes:
    """PCM16 (any rate) to G.711 ``law``, one byte per sample; a trailing odd byte is ignored.

    Raises:
        ValueError: ``law`` is neither ``"ulaw"`` nor ``"alaw"``.
    """
    _check_law(law)
    table = _encode_table(law)
    return bytes(table[s & 0xFFFF] for s in samples(pcm))


def decode(data: bytes | bytearray, law: Law) -> bytes:
    """G.711 ``law`` to PCM16 at the same rate: two bytes out for every byte in.

    Raises:
        ValueError: ``law`` is neither ``"ulaw"`` nor ``"alaw"``.
    """
    _check_law(law)
    return b"".join(map(_decode_table(law).__getitem__, data))


def ulaw_encode(pcm: bytes | bytearray) -> bytes:
    """PCM16 (any rate) to G.711 µ-law, one byte per sample; a trailing odd byte is ignored."""
    return encode(pcm, "ulaw")


def ulaw_decode(data: bytes | bytearray) -> bytes:
    """G.711 µ-law to PCM16 at the same rate."""
    return decode(data, "ulaw")


def alaw_encode(pcm: bytes | bytearray) -> bytes:
    """PCM16 (any rate) to G.711 A-law, one byte per sample; a trailing odd byte is ignored."""
    return encode(pcm, "alaw")


def alaw_decode(data: bytes | bytearray) -> bytes:
    """G.711 A-law to PCM16 at the same rate."""
    return decode(data, "alaw")
