"""``rxrealtime.audio.b64`` gives exactly the standard library's results, faster."""

from __future__ import annotations

import base64
import binascii
import random

import pytest

from rxrealtime.audio import b64

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n -_\x00\xff"


def _stdlib(value: str | bytes) -> tuple[str, object]:
    try:
        return "ok", base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        return type(exc).__name__, str(exc)


def _ours(value: str | bytes) -> tuple[str, object]:
    try:
        return "ok", b64.decode(value)
    except (binascii.Error, ValueError) as exc:
        return type(exc).__name__, str(exc)


def test_decode_agrees_with_the_standard_library_on_any_input() -> None:
    rng = random.Random(14)
    for _ in range(20000):
        raw = bytes(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 14)))
        for value in (raw, raw.decode("latin-1")):
            assert _ours(value) == _stdlib(value), value


@pytest.mark.parametrize(
    "value",
    [
        "X+1a=",  # padding after a complete quantum: Python 3.11's stdlib accepts it
        "AAAA====",
        "AA==",
        "AA=",
        "A",
        "",
        "AAAA\n",
        "AAA\u00e9",  # not ASCII
    ],
)
def test_decode_corners(value: str) -> None:
    assert _ours(value) == _stdlib(value)


def test_round_trip_of_real_audio_sizes() -> None:
    rng = random.Random(3)
    for size in (0, 1, 2, 3, 160, 2400, 4800, 48000):
        pcm = rng.randbytes(size)
        text = b64.encode(pcm)
        assert text == base64.b64encode(pcm).decode("ascii")
        assert b64.decode(text) == pcm
        assert b64.encode(memoryview(pcm)) == text and b64.encode(bytearray(pcm)) == text
