"""Audio for the Realtime API: the one audio-format model and a pure codec core.

::

    from rxrealtime import audio

    audio.PCMU.ms_to_bytes(20)                       # 160: one 20 ms telephony frame
    audio.AudioFormat.from_wire({"type": "audio/pcma"}) == audio.PCMA
    audio.PCMU.encode(pcm16_24k)                     # G.711 µ-law 8 kHz, same duration
    audio.PCMU.decode(ulaw_bytes)                    # back to PCM16 24 kHz

* :mod:`rxrealtime.audio.formats`: :class:`AudioFormat` and the API's formats :data:`PCM16`
  (24 kHz), :data:`PCMU` and :data:`PCMA` (G.711 8 kHz): bytes per sample, byte <-> ms
  arithmetic, silence, the wire's GA and beta spellings, conversion to and from PCM16 24 kHz;
* :mod:`rxrealtime.audio.g711`: µ-law/A-law companding, bit-exact with the former ``audioop``;
* :mod:`rxrealtime.audio.pcm`: PCM16 sample buffers and the 8 kHz <-> 24 kHz resamplers.
* :mod:`rxrealtime.audio.b64`: base64 audio on the wire, fast, with the standard library's
  results (``decode``, ``encode``).

This core is pure (no I/O, no event loop), dependency-free beyond ``attrs`` and ``pybase64``
(no numpy, no sound devices) and imports nothing else from ``rxrealtime``, so the events-facing
operators, the sinks and the embedded server all share it. ``rxrealtime.operators.AudioFormat``,
``PCM16``, ``PCMU`` and ``PCMA`` are these same objects.

Importing this package never imports an optional dependency. The device shell
(:mod:`rxrealtime.audio.devices`: ``microphone``, ``wav_file``, ``reframe``, ``send_audio``,
``Speaker``, ``AudioDeviceError``) is reachable here too, loaded on first access by name; its
optional libraries (the ``[voice]`` extra) load only when a device is opened.
"""

from __future__ import annotations

import importlib
from typing import Any

from rxrealtime.audio import b64, g711, pcm
from rxrealtime.audio.formats import (
    BETA_NAMES,
    FORMATS,
    PCM16,
    PCMA,
    PCMU,
    AudioFormat,
    AudioFormatType,
    StreamDecoder,
)
from rxrealtime.audio.g711 import Law, alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from rxrealtime.audio.pcm import downsample_24k_to_8k, upsample_8k_to_24k

__all__ = [
    "BETA_NAMES",
    "FORMATS",
    "PCM16",
    "PCMA",
    "PCMU",
    "AudioFormat",
    "AudioDeviceError",
    "AudioFormatType",
    "Law",
    "Speaker",
    "StreamDecoder",
    "alaw_decode",
    "alaw_encode",
    "b64",
    "downsample_24k_to_8k",
    "g711",
    "microphone",
    "pcm",
    "reframe",
    "send_audio",
    "ulaw_decode",
    "ulaw_encode",
    "upsample_8k_to_24k",
    "wav_file",
]

# The device shell (layer "audio devices", below this core) is loaded by name on first access,
# so importing the core never imports it, nor its optional libraries.
_DEVICE_NAMES = frozenset(
    {"AudioDeviceError", "Speaker", "microphone", "reframe", "send_audio", "wav_file"}
)


def __getattr__(name: str) -> Any:
    if name in _DEVICE_NAMES:
        return getattr(importlib.import_module("rxrealtime.audio.devices"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
