"""The tone-code voice and the energy VAD, without sockets."""

from __future__ import annotations

import math
import random
from array import array

import pytest

from rxrealtime.server.audio import (
    BYTES_PER_MS,
    TONE_ALPHABET,
    EnergyVad,
    VadEvent,
    char_duration_ms,
    decode_tones,
    duration_ms,
    encode_text,
    silence,
)


def _sine(freq: float, ms: int, amplitude: float = 0.3) -> bytes:
    count = ms * 24
    return array(
        "h",
        (int(amplitude * 32767 * math.sin(2 * math.pi * freq * n / 24000)) for n in range(count)),
    ).tobytes()


def test_every_code_character_round_trips() -> None:
    text = " ".join(TONE_ALPHABET[i : i + 7] for i in range(0, len(TONE_ALPHABET), 7))
    assert decode_tones(silence(100) + encode_text(text) + silence(100)) == text


def test_case_and_whitespace_are_normalised() -> None:
    pcm = encode_text("Hello,   World\n#")
    assert decode_tones(pcm) == "hello, world"
    assert duration_ms(pcm) == sum(char_duration_ms(c) for c in "Hello, World ")


def test_durations() -> None:
    assert char_duration_ms("a") == 40 and char_duration_ms(" ") == 60
    assert char_duration_ms("#") == 0
    assert len(encode_text("ab c")) == (40 + 40 + 60 + 40) * BYTES_PER_MS
    assert silence(12.5) == bytes(600)


@pytest.mark.parametrize(
    "pcm",
    [
        b"",
        silence(500),
        _sine(440, 500),  # too long for a code burst
        _sine(522, 30),  # between two code frequencies (500 and 545 Hz)
        bytes(random.Random(7).getrandbits(8) for _ in range(24000)),
    ],
)
def test_other_audio_is_not_tone_code(pcm: bytes) -> None:
    assert decode_tones(pcm) is None


def test_vad_reports_padded_start_and_silence_delayed_stop() -> None:
    vad = EnergyVad(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=200)
    stream = silence(1000) + _sine(300, 700) + silence(400)
    events: list[VadEvent] = []
    for offset in range(0, len(stream), 1234):  # odd chunk sizes, frames straddle chunks
        events += vad.feed(stream[offset : offset + 1234])
    assert events == [VadEvent("speech_started", 700), VadEvent("speech_stopped", 1900)]
    assert vad.position_ms == 2100 and not vad.in_speech


def test_vad_threshold_and_reset() -> None:
    quiet = _sine(300, 300, amplitude=0.01)  # RMS about 0.007 of full scale
    assert EnergyVad(threshold=0.5).feed(quiet) == []
    assert EnergyVad(threshold=0.1).feed(quiet)[0].kind == "speech_started"
    vad = EnergyVad()
    vad.feed(_sine(300, 100))
    speaking = vad.in_speech
    vad.reset()
    assert (speaking, vad.in_speech) == (True, False)
    assert vad.feed(silence(500)) == []
