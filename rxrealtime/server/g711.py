"""The Realtime API's audio formats for the embedded server: PCM16 24 kHz and G.711 at 8 kHz.

The server works in PCM16 24 kHz mono internally (its voice, its VAD, its transcription and the
audio it stores). A :class:`Codec` converts at the wire boundary:

* ``audio/pcm``  — 16-bit signed little-endian PCM at 24 kHz (48 bytes per ms), passed through;
* ``audio/pcmu`` — ITU-T G.711 µ-law at 8 kHz, one byte per sample (8 bytes per ms);
* ``audio/pcma`` — ITU-T G.711 A-law at 8 kHz, one byte per sample (8 bytes per ms).

Going to 8 kHz averages each group of 3 samples (a boxcar low-pass, then decimation by 3);
coming back interpolates linearly between consecutive 8 kHz samples. Both keep durations
exact: 1 ms of PCM16 24 kHz (24 samples) is 8 G.711 bytes and back.

The companding and the two resamplers live in the neutral, sans-I/O :mod:`rxrealtime.g711`
(the sinks use them too) and are re-exported here unchanged: G.711's segment tables on 16-bit
input, bit-compatible with the former ``audioop.lin2ulaw`` / ``lin2alaw``; µ-law encodes 0 as
``0xFF``, A-law encodes 0 as ``0xD5``. This module adds the server's wire-boundary
:class:`Codec`. All functions are pure and thread-safe except :class:`StreamDecoder`, which
keeps one sample of state.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from rxrealtime.g711 import (
    Law,
    alaw_decode,
    alaw_encode,
    decode,
    downsample_24k_to_8k,
    encode,
    ulaw_decode,
    ulaw_encode,
    upsample_8k_to_24k,
)

__all__ = [
    "CODECS",
    "PCM16",
    "PCMA",
    "PCMU",
    "Codec",
    "Law",
    "StreamDecoder",
    "alaw_decode",
    "alaw_encode",
    "codec_for",
    "downsample_24k_to_8k",
    "ulaw_decode",
    "ulaw_encode",
    "upsample_8k_to_24k",
]


@attrs.frozen
class Codec:
    """One wire audio format and its conversions to and from the server's PCM16 24 kHz."""

    type: str
    """The GA format type: ``audio/pcm``, ``audio/pcmu`` or ``audio/pcma``."""
    sample_rate: int
    bytes_per_ms: int
    law: Law | None = None
    """``"ulaw"``, ``"alaw"``, or ``None`` for PCM16 24 kHz (no conversion)."""

    def duration_ms(self, data: bytes | bytearray) -> float:
        """Duration of ``data`` (audio in this format) in milliseconds."""
        return len(data) / self.bytes_per_ms

    def encode(self, pcm: bytes | bytearray) -> bytes:
        """PCM16 24 kHz to this format (same duration, to the 8 kHz sample)."""
        if self.law is None:
            return bytes(pcm)
        return encode(downsample_24k_to_8k(pcm), self.law)

    def decode(self, data: bytes | bytearray) -> bytes:
        """One self-contained buffer in this format to PCM16 24 kHz."""
        return self.decoder().feed(data)

    def decoder(self) -> StreamDecoder:
        """A decoder for a stream of chunks in this format (interpolation continues across
        chunk boundaries)."""
        return StreamDecoder(self)


@attrs.define
class StreamDecoder:
    """Decodes consecutive chunks of one stream to PCM16 24 kHz. Not thread-safe."""

    codec: Codec
    _last: int = 0

    def feed(self, data: bytes | bytearray) -> bytes:
        """Decode the next chunk of the stream."""
        law = self.codec.law
        if law is None or not data:
            return bytes(data)
        narrow = decode(data, law)
        pcm = upsample_8k_to_24k(narrow, self._last)
        self._last = int.from_bytes(narrow[-2:], "little", signed=True)
        return pcm


PCM16 = Codec("audio/pcm", 24_000, 48)
PCMU = Codec("audio/pcmu", 8_000, 8, "ulaw")
PCMA = Codec("audio/pcma", 8_000, 8, "alaw")
CODECS: Mapping[str, Codec] = {codec.type: codec for codec in (PCM16, PCMU, PCMA)}
"""The supported formats by GA type."""


def codec_for(audio_format: object) -> Codec:
    """The codec of a wire format object (``{"type": "audio/pcmu"}``); ``None`` (unset) is PCM16.

    Raises :class:`ValueError` for anything else (not an object, or an unknown ``type``).
    """
    if audio_format is None:
        return PCM16
    kind = audio_format.get("type") if isinstance(audio_format, Mapping) else None
    codec = CODECS.get(kind) if isinstance(kind, str) else None
    if codec is None:
        raise ValueError(f"unsupported audio format {audio_format!r}")
    return codec
