"""The one model of the Realtime API's audio formats: what they mean in bytes and milliseconds,
how the wire names them, and how each converts to and from PCM16 24 kHz.

* ``audio/pcm`` (:data:`PCM16`): 16-bit signed little-endian linear PCM, mono, 24 kHz (the
  API's only rate for it): 2 bytes per sample, 48 bytes per ms;
* ``audio/pcmu`` (:data:`PCMU`): ITU-T G.711 µ-law, 8 kHz, one byte per sample, 8 bytes per ms;
* ``audio/pcma`` (:data:`PCMA`): ITU-T G.711 A-law, 8 kHz, one byte per sample, 8 bytes per ms.

The same formats describe input audio (``input_audio_buffer.append``) and output audio. GA
sessions name them with objects (``{"type": "audio/pcmu"}``, ``{"type": "audio/pcm", "rate":
24000}``), beta sessions with strings (``pcm16``, ``g711_ulaw``, ``g711_alaw``):
:meth:`AudioFormat.from_wire` reads every spelling, :meth:`AudioFormat.to_wire` writes the GA one.

Part of the pure audio core: it imports nothing outside :mod:`rxrealtime.audio`, ``attrs`` and
the standard library (no event classes, no devices, no numpy), so every layer may use it, the
embedded server included. :class:`AudioFormat` values are immutable and thread-safe; a
:class:`StreamDecoder` keeps one sample of state and is not thread-safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import attrs

from rxrealtime.audio import g711
from rxrealtime.audio.pcm import downsample_24k_to_8k, upsample_8k_to_24k

__all__ = [
    "BETA_NAMES",
    "FORMATS",
    "PCM16",
    "PCMA",
    "PCMU",
    "AudioFormat",
    "AudioFormatType",
    "StreamDecoder",
]

AudioFormatType: TypeAlias = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]
"""The GA ``type`` of an audio format."""

BETA_NAMES: Mapping[str, AudioFormatType] = {
    "pcm16": "audio/pcm",
    "g711_ulaw": "audio/pcmu",
    "g711_alaw": "audio/pcma",
}
"""The beta API's format names (``input_audio_format``/``output_audio_format``) by GA type."""

_BYTES_PER_SAMPLE: Mapping[str, int] = {"audio/pcm": 2, "audio/pcmu": 1, "audio/pcma": 1}
_DEFAULT_RATES: Mapping[str, int] = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}
# The byte that decodes to (near) zero amplitude: 0 for linear PCM, the G.711 codes for 0.
_SILENCE: Mapping[str, bytes] = {"audio/pcm": b"\x00", "audio/pcmu": b"\xff", "audio/pcma": b"\xd5"}
_LAWS: Mapping[str, g711.Law] = {"audio/pcmu": "ulaw", "audio/pcma": "alaw"}


def _check_type(_instance: object, _attribute: object, value: str) -> None:
    if value not in _BYTES_PER_SAMPLE:
        raise ValueError(
            f"unknown audio format {value!r}; expected one of {list(_BYTES_PER_SAMPLE)}"
        )


def _check_rate(_instance: object, _attribute: object, value: int) -> None:
    if value <= 0:
        raise ValueError(f"sample_rate must be positive, not {value}")


def _default_rate(instance: AudioFormat) -> int:
    return _DEFAULT_RATES.get(instance.type, 24000)


@attrs.frozen
class AudioFormat:
    """A mono audio format of the Realtime API: its GA ``type`` and its ``sample_rate``.

    ``sample_rate`` defaults to the type's API rate (24 kHz for ``audio/pcm``, 8 kHz for the
    G.711 types); another rate is accepted (a server may announce one) and all the byte/ms
    arithmetic follows it, but only the API rates convert to and from PCM16 24 kHz
    (:meth:`encode`, :meth:`decode`). Equal formats compare and hash equal.

    Raises:
        ValueError: ``type`` is not one of :data:`AudioFormatType`, or ``sample_rate`` is not
            positive.
    """

    type: AudioFormatType = attrs.field(default="audio/pcm", validator=_check_type)
    sample_rate: int = attrs.field(
        default=attrs.Factory(_default_rate, takes_self=True), validator=_check_rate
    )

    # -- arithmetic ------------------------------------------------------------------------------

    @property
    def bytes_per_sample(self) -> int:
        """2 for ``audio/pcm``, 1 for the G.711 formats (mono: also bytes per frame)."""
        return _BYTES_PER_SAMPLE[self.type]

    @property
    def bytes_per_second(self) -> int:
        """Bytes of one second of audio: 48000 for PCM16 24 kHz, 8000 for G.711 8 kHz."""
        return self.sample_rate * self.bytes_per_sample

    @property
    def bytes_per_ms(self) -> float:
        """Bytes of one millisecond of audio: 48 for PCM16 24 kHz, 8 for G.711 8 kHz."""
        return self.bytes_per_second / 1000

    @property
    def law(self) -> g711.Law | None:
        """The G.711 law of the format (``"ulaw"``, ``"alaw"``), ``None`` for linear PCM."""
        return _LAWS.get(self.type)

    def bytes_to_ms(self, n_bytes: int) -> float:
        """Duration of ``n_bytes`` of audio in milliseconds (exact, not rounded)."""
        return n_bytes * 1000 / self.bytes_per_second

    def duration_ms(self, data: bytes | bytearray) -> float:
        """Duration of ``data`` (audio in this format) in milliseconds."""
        return self.bytes_to_ms(len(data))

    def ms_to_bytes(self, ms: float) -> int:
        """Bytes holding ``ms`` milliseconds, rounded down to a whole sample.

        Raises:
            ValueError: ``ms`` is negative.
        """
        if ms < 0:
            raise ValueError(f"ms must not be negative, not {ms}")
        return int(ms * self.sample_rate / 1000) * self.bytes_per_sample

    def silence(self, n_bytes: int) -> bytes:
        """``n_bytes`` of silence in this format (the byte that decodes to zero amplitude)."""
        return _SILENCE[self.type] * n_bytes

    # -- the wire --------------------------------------------------------------------------------

    @classmethod
    def from_wire(cls, value: object) -> AudioFormat:
        """The format a session or response names, in any of the wire's spellings:

        * a GA object, as a mapping (``{"type": "audio/pcm", "rate": 24000}``) or as any object
          with ``type`` and optional ``rate`` attributes (the events layer's
          ``ev.AudioPCMU()``);
        * a bare GA type string (``"audio/pcmu"``);
        * a beta name (``"pcm16"``, ``"g711_ulaw"``, ``"g711_alaw"``).

        A missing or non-positive ``rate`` means the type's API rate.

        Raises:
            ValueError: the value names no known format.
        """
        if isinstance(value, Mapping):
            kind, rate = value.get("type"), value.get("rate")
        elif isinstance(value, str):
            kind, rate = value, None
        else:
            kind, rate = getattr(value, "type", None), getattr(value, "rate", None)
        if not isinstance(kind, str):
            raise ValueError(f"not an audio format: {value!r}")
        kind = BETA_NAMES.get(kind, kind)
        if kind not in _BYTES_PER_SAMPLE:
            raise ValueError(f"unknown audio format {kind!r}")
        if isinstance(rate, int) and not isinstance(rate, bool) and rate > 0:
            return cls(kind, rate)  # type: ignore[arg-type]  # checked just above
        return cls(kind)  # type: ignore[arg-type]

    def to_wire(self) -> dict[str, Any]:
        """The GA wire object: ``{"type": "audio/pcm", "rate": 24000}``, ``{"type":
        "audio/pcmu"}``, ... (a G.711 format names its rate only when it is not 8 kHz)."""
        if self.law is None or self.sample_rate != _DEFAULT_RATES[self.type]:
            return {"type": self.type, "rate": self.sample_rate}
        return {"type": self.type}

    # -- conversion to and from PCM16 24 kHz -----------------------------------------------------

    def _check_convertible(self) -> None:
        if self.sample_rate != _DEFAULT_RATES[self.type]:
            raise ValueError(
                f"{self.type} at {self.sample_rate} Hz does not convert to or from PCM16 "
                f"24 kHz (only the API rates do: 24 kHz PCM16, 8 kHz G.711)"
            )

    def encode(self, pcm: bytes | bytearray) -> bytes:
        """PCM16 24 kHz audio in this format, of the same duration (to the 8 kHz sample):
        PCM16 passes through; G.711 is downsampled to 8 kHz, then companded.

        Raises:
            ValueError: the format is not at its API rate.
        """
        self._check_convertible()
        law = self.law
        if law is None:
            return bytes(pcm)
        return g711.encode(downsample_24k_to_8k(pcm), law)

    def decode(self, data: bytes | bytearray) -> bytes:
        """One self-contained buffer in this format as PCM16 24 kHz (see :meth:`decoder` for a
        stream of chunks).

        Raises:
            ValueError: the format is not at its API rate.
        """
        return self.decoder().feed(data)

    def decoder(self) -> StreamDecoder:
        """A decoder of a stream of chunks in this format to PCM16 24 kHz (interpolation
        continues across chunk boundaries, so the chunks decode exactly as their
        concatenation would).

        Raises:
            ValueError: the format is not at its API rate.
        """
        return StreamDecoder(self)


@attrs.define
class StreamDecoder:
    """Decodes consecutive chunks of one stream in ``format`` to PCM16 24 kHz. Not thread-safe.

    Raises:
        ValueError: ``format`` is not at its API rate.
    """

    format: AudioFormat
    _last: int = 0

    def __attrs_post_init__(self) -> None:
        self.format._check_convertible()

    def feed(self, data: bytes | bytearray) -> bytes:
        """Decode the next chunk of the stream."""
        law = self.format.law
        if law is None or not data:
            return bytes(data)
        narrow = g711.decode(data, law)
        pcm = upsample_8k_to_24k(narrow, self._last)
        self._last = int.from_bytes(narrow[-2:], "little", signed=True)
        return pcm


PCM16 = AudioFormat("audio/pcm", 24000)
"""16-bit PCM at 24 kHz: the API's default input and output format."""
PCMU = AudioFormat("audio/pcmu", 8000)
"""G.711 µ-law at 8 kHz (telephony)."""
PCMA = AudioFormat("audio/pcma", 8000)
"""G.711 A-law at 8 kHz (telephony)."""

FORMATS: Mapping[str, AudioFormat] = {f.type: f for f in (PCM16, PCMU, PCMA)}
"""The API's formats at their API rates, by GA type."""
