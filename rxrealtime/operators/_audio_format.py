"""``AudioFormat``: what the Realtime API's three audio formats mean in bytes and milliseconds,
and :func:`announced_output_format`: which output format a server event announces."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import attrs

from rxrealtime import events as ev

__all__ = [
    "PCM16",
    "PCMA",
    "PCMU",
    "AudioFormat",
    "AudioFormatType",
    "announced_output_format",
]

logger = logging.getLogger("rxrealtime.operators")

AudioFormatType: TypeAlias = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]

_BYTES_PER_SAMPLE: dict[str, int] = {"audio/pcm": 2, "audio/pcmu": 1, "audio/pcma": 1}
# The byte that decodes to (near) zero amplitude: 0 for linear PCM, the G.711 codes for 0.
_SILENCE: dict[str, bytes] = {"audio/pcm": b"\x00", "audio/pcmu": b"\xff", "audio/pcma": b"\xd5"}
_BETA_NAMES: dict[str, AudioFormatType] = {
    "pcm16": "audio/pcm",
    "g711_ulaw": "audio/pcmu",
    "g711_alaw": "audio/pcma",
}


def _check_type(_instance: object, _attribute: object, value: str) -> None:
    if value not in _BYTES_PER_SAMPLE:
        raise ValueError(
            f"unknown audio format {value!r}; expected one of {list(_BYTES_PER_SAMPLE)}"
        )


def _check_rate(_instance: object, _attribute: object, value: int) -> None:
    if value <= 0:
        raise ValueError(f"sample_rate must be positive, not {value}")


@attrs.frozen
class AudioFormat:
    """A mono audio format of the Realtime API.

    * ``audio/pcm``: 16-bit signed little-endian linear PCM, 24 kHz (the API's only rate);
    * ``audio/pcmu``: G.711 µ-law, 8 kHz, one byte per sample;
    * ``audio/pcma``: G.711 A-law, 8 kHz, one byte per sample.

    The same formats describe input audio (``input_audio_buffer.append``) and output audio.
    Beta sessions spell them ``pcm16``, ``g711_ulaw`` and ``g711_alaw``: see :meth:`from_wire`.
    """

    type: AudioFormatType = attrs.field(default="audio/pcm", validator=_check_type)
    sample_rate: int = attrs.field(default=24000, validator=_check_rate)

    @property
    def bytes_per_sample(self) -> int:
        """2 for ``audio/pcm``, 1 for the G.711 formats (mono: also bytes per frame)."""
        return _BYTES_PER_SAMPLE[self.type]

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * self.bytes_per_sample

    def bytes_to_ms(self, n_bytes: int) -> float:
        """Duration of ``n_bytes`` of audio in milliseconds."""
        return n_bytes * 1000 / self.bytes_per_second

    def ms_to_bytes(self, ms: float) -> int:
        """Bytes holding ``ms`` milliseconds, rounded down to a whole sample."""
        if ms < 0:
            raise ValueError(f"ms must not be negative, not {ms}")
        return int(ms * self.sample_rate / 1000) * self.bytes_per_sample

    def silence(self, n_bytes: int) -> bytes:
        """``n_bytes`` of silence in this format."""
        return _SILENCE[self.type] * n_bytes

    @classmethod
    def from_wire(cls, value: str | Mapping[str, Any]) -> AudioFormat:
        """The format a session or response names: GA ``{"type": "audio/pcm", "rate": 24000}``
        objects, bare GA type strings, or beta names (``pcm16``, ``g711_ulaw``, ``g711_alaw``).

        Raises:
            ValueError: the value names no known format.
        """
        if isinstance(value, Mapping):
            kind = value.get("type")
            rate = value.get("rate")
        else:
            kind, rate = value, None
        if not isinstance(kind, str):
            raise ValueError(f"not an audio format: {value!r}")
        kind = _BETA_NAMES.get(kind, kind)
        if kind not in _BYTES_PER_SAMPLE:
            raise ValueError(f"unknown audio format {kind!r}")
        default_rate = 24000 if kind == "audio/pcm" else 8000
        return cls(kind, rate if isinstance(rate, int) and rate > 0 else default_rate)


PCM16 = AudioFormat("audio/pcm", 24000)
"""16-bit PCM at 24 kHz: the default input and output format."""
PCMU = AudioFormat("audio/pcmu", 8000)
"""G.711 µ-law at 8 kHz (telephony)."""
PCMA = AudioFormat("audio/pcma", 8000)
"""G.711 A-law at 8 kHz (telephony)."""


def announced_output_format(event: ev.ServerEvent) -> AudioFormat | None:
    """The output audio format ``event`` announces, or ``None`` if it announces none.

    * ``session.created`` / ``session.updated``: the session's ``audio.output.format`` (GA: an
      :class:`~rxrealtime.events.AudioFormat` object such as ``AudioPCMU()``), else a beta
      session's ``output_audio_format`` (``"pcm16"``, ``"g711_ulaw"``, ``"g711_alaw"``);
    * ``response.created``: the response's ``audio.output.format``, else its beta
      ``output_audio_format`` — the format of that response's audio;
    * any other event: ``None``.

    A format this library does not know (``{"type": "audio/mp3"}``, a number, ...) counts as
    no announcement: ``None``, with a warning on the ``rxrealtime.operators`` logger. Never raises.
    """
    audio: ev.AudioConfig | None
    if isinstance(event, ev.SessionCreated | ev.SessionUpdated):
        holder: ev.SessionConfig | ev.Response | None = event.session
        audio = event.session.audio if isinstance(event.session, ev.RealtimeSessionConfig) else None
    elif isinstance(event, ev.ResponseCreated):
        holder = event.response
        audio = event.response.audio if event.response is not None else None
    else:
        return None
    if holder is None:
        return None
    output = audio.output if audio is not None else None
    if output is not None and output.format is not None:
        wire = output.format
        value: object = {"type": wire.type, "rate": getattr(wire, "rate", None)}
    elif output is not None and "format" in output.extra:  # not an object: e.g. a bare string
        value = output.extra["format"]
    elif "output_audio_format" in holder.extra:
        value = holder.extra["output_audio_format"]
    else:
        return None
    try:
        if isinstance(value, str | Mapping):
            return AudioFormat.from_wire(value)
    except ValueError:
        pass
    logger.warning("%s announces an unknown output audio format %r: ignored", event.type, value)
    return None
