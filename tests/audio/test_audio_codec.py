"""The pure codec core: G.711 companding (against CPython's ``audioop`` where it still exists),
the 8 kHz <-> 24 kHz resamplers, and conversion of every API format to and from PCM16 24 kHz."""

from __future__ import annotations

import importlib
import math
import warnings
from array import array
from types import ModuleType

import pytest

from rxrealtime import audio
from rxrealtime.audio import FORMATS, PCM16, PCMA, PCMU, AudioFormat, g711, pcm

EVERY_SAMPLE = array("h", range(-32768, 32768)).tobytes()
EVERY_CODE = bytes(range(256))
G711 = [pytest.param(PCMU, id="pcmu"), pytest.param(PCMA, id="pcma")]


def _pcm(samples: list[int]) -> bytes:
    return array("h", samples).tobytes()


def _sine(freq: float, count: int, rate: int = 24000, amplitude: float = 8000) -> bytes:
    step = 2 * math.pi * freq / rate
    return _pcm([round(amplitude * math.sin(step * n)) for n in range(count)])


def _audioop() -> ModuleType | None:
    """CPython's former C codec (Python < 3.13), the reference G.711 implementation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return importlib.import_module("audioop")
        except ImportError:  # pragma: no cover - Python 3.13+
            return None


# -- companding --------------------------------------------------------------------------------


def test_companding_is_bit_exact_with_audioop() -> None:
    audioop = _audioop()
    if audioop is None:  # pragma: no cover - the recorded digests in tests/server still hold
        pytest.skip("audioop was removed in Python 3.13")
    assert g711.ulaw_encode(EVERY_SAMPLE) == audioop.lin2ulaw(EVERY_SAMPLE, 2)
    assert g711.alaw_encode(EVERY_SAMPLE) == audioop.lin2alaw(EVERY_SAMPLE, 2)
    assert g711.ulaw_decode(EVERY_CODE) == audioop.ulaw2lin(EVERY_CODE, 2)
    assert g711.alaw_decode(EVERY_CODE) == audioop.alaw2lin(EVERY_CODE, 2)


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_decode_then_encode_is_the_identity_on_codes(law: g711.Law) -> None:
    # 0x7F and 0xFF both decode to 0 in µ-law (±0): 0 encodes to 0xFF
    expected = EVERY_CODE.replace(b"\x7f", b"\xff") if law == "ulaw" else EVERY_CODE
    assert g711.encode(g711.decode(EVERY_CODE, law), law) == expected
    assert len(g711.decode(EVERY_CODE, law)) == 2 * len(EVERY_CODE)
    assert g711.encode(b"\x00\x00\x01", law) == g711.encode(b"\x00\x00", law)  # odd byte dropped


def test_an_unknown_law_is_refused() -> None:
    with pytest.raises(ValueError, match="law must be 'ulaw' or 'alaw'"):
        g711.encode(b"\x00\x00", "mulaw")  # type: ignore[arg-type]


# -- PCM16 buffers and resampling ------------------------------------------------------------------


def test_sample_buffers() -> None:
    assert pcm.samples(_pcm([1, -2, 32767]) + b"\x05").tolist() == [1, -2, 32767]
    values = array("h", [0, -32768, 300])
    assert pcm.to_bytes(values) == b"\x00\x00\x00\x80\x2c\x01" and values.tolist()[1] == -32768


def test_resampling_keeps_durations_and_continues_across_chunks() -> None:
    tone = _sine(440, 2400)  # 100 ms at 24 kHz
    narrow = pcm.downsample_24k_to_8k(tone)
    assert len(narrow) == len(tone) // 3
    wide = pcm.upsample_8k_to_24k(narrow)
    assert len(wide) == len(tone)
    # chunk by chunk, handing over the last sample, is the same as all at once
    pieces, previous = [], 0
    for start in range(0, len(narrow), 34):
        piece = narrow[start : start + 34]
        pieces.append(pcm.upsample_8k_to_24k(piece, previous))
        previous = pcm.samples(piece)[-1]
    assert b"".join(pieces) == wide


# -- formats to and from PCM16 24 kHz --------------------------------------------------------------


def test_pcm16_passes_through() -> None:
    tone = _sine(1000, 480)
    assert PCM16.encode(tone) == tone and PCM16.decode(tone) == tone
    assert PCM16.decoder().feed(bytearray(tone[:3])) == tone[:3]


@pytest.mark.parametrize("fmt", G711)
def test_g711_round_trip_keeps_duration_and_signal(fmt: AudioFormat) -> None:
    tone = _sine(500, 4800)  # 200 ms of a 500 Hz sine
    wire = fmt.encode(tone)
    assert len(wire) == 1600 and fmt.duration_ms(wire) == PCM16.duration_ms(tone) == 200
    assert wire == (g711.ulaw_encode if fmt is PCMU else g711.alaw_encode)(
        pcm.downsample_24k_to_8k(tone)
    )
    back = pcm.samples(fmt.decode(wire))
    assert len(back) == 4800
    original = pcm.samples(tone)
    # boxcar + companding + interpolation, one 24 kHz sample late: within 4 % of full swing
    error = max(abs(back[n] - original[n - 1]) for n in range(3, 4800))
    assert error < 0.04 * 8000


@pytest.mark.parametrize("fmt", G711)
def test_stream_decoder_matches_the_whole_buffer(fmt: AudioFormat) -> None:
    wire = fmt.encode(_sine(700, 2400))
    decoder = fmt.decoder()
    assert decoder.format is fmt
    streamed = b"".join(decoder.feed(wire[n : n + 37]) for n in range(0, len(wire), 37))
    assert streamed == fmt.decode(wire)
    assert decoder.feed(b"") == b""


def test_only_the_api_rates_convert() -> None:
    for fmt in (AudioFormat("audio/pcm", 16000), AudioFormat("audio/pcmu", 16000)):
        with pytest.raises(ValueError, match="does not convert"):
            fmt.encode(bytes(4))
        with pytest.raises(ValueError, match="does not convert"):
            fmt.decode(bytes(4))
        with pytest.raises(ValueError, match="does not convert"):
            audio.StreamDecoder(fmt)
    assert all(len(fmt.decode(fmt.encode(bytes(48)))) == 48 for fmt in FORMATS.values())
