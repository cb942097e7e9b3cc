"""The Realtime API's audio formats for the embedded server: PCM16 24 kHz and G.711 at 8 kHz.

The server works in PCM16 24 kHz mono internally (its voice, its VAD, its transcription and the
audio it stores) and converts at the wire boundary with the formats of the pure audio core,
:mod:`rxrealtime.audio` (the client side uses the same core; it holds no event classes and no
I/O, so the server stays an independent oracle of the protocol):

* ``audio/pcm``  — 16-bit signed little-endian PCM at 24 kHz (48 bytes per ms), passed through;
* ``audio/pcmu`` — ITU-T G.711 µ-law at 8 kHz, one byte per sample (8 bytes per ms);
* ``audio/pcma`` — ITU-T G.711 A-law at 8 kHz, one byte per sample (8 bytes per ms).

A format's ``encode``/``decode``/``decoder`` convert from and to PCM16 24 kHz (see
:class:`rxrealtime.audio.AudioFormat`). What this module adds is the server's strict reading of
the wire: :func:`codec_for` accepts only the GA format objects the live service accepts.
The codec functions are re-exported unchanged for the server's users and tests.
"""

from __future__ import annotations

from collections.abc import Mapping

from rxrealtime.audio import (
    FORMATS,
    PCM16,
    PCMA,
    PCMU,
    AudioFormat,
    Law,
    StreamDecoder,
    alaw_decode,
    alaw_encode,
    downsample_24k_to_8k,
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

Codec = AudioFormat
"""The server's name for a wire audio format: :class:`rxrealtime.audio.AudioFormat` itself."""

CODECS: Mapping[str, AudioFormat] = FORMATS
"""The supported formats by GA type."""


def codec_for(audio_format: object) -> AudioFormat:
    """The format of a GA wire format object (``{"type": "audio/pcmu"}``); ``None`` (unset) is
    PCM16. Returns one of :data:`PCM16`, :data:`PCMU`, :data:`PCMA` (a ``rate`` key is ignored:
    the server validates it separately).

    Raises :class:`ValueError` for anything else (not an object, or an unknown ``type``).
    """
    if audio_format is None:
        return PCM16
    kind = audio_format.get("type") if isinstance(audio_format, Mapping) else None
    codec = CODECS.get(kind) if isinstance(kind, str) else None
    if codec is None:
        raise ValueError(f"unsupported audio format {audio_format!r}")
    return codec
