"""Helpers of the voice tests: test audio, audio events, and measuring recorded audio."""

from __future__ import annotations

import base64
import math
from array import array
from pathlib import Path

import attrs

from rxrealtime import events as ev
from rxrealtime.audio import PCM16, pcm
from rxrealtime.server.audio import TONE_ALPHABET


@attrs.frozen
class Pulse:
    """A running PulseAudio test server (``conftest.py``): ``env`` points PortAudio, ALSA and
    libpulse at it."""

    directory: Path
    env: dict[str, str]


def sine(ms: float, freq: float = 440.0, amplitude: float = 0.3) -> bytes:
    """``ms`` of a PCM16 24 kHz sine."""
    count = PCM16.ms_to_bytes(ms) // 2
    step = 2 * math.pi * freq / PCM16.sample_rate
    values = (int(amplitude * 32767 * math.sin(step * n)) for n in range(count))
    return pcm.to_bytes(array("h", values))


def audio_events(
    pcm16: bytes, item_id: str = "item_1", response_id: str = "resp_1", chunk_ms: float = 100
) -> list[ev.ServerEvent]:
    """The deltas of one assistant audio part carrying ``pcm16``, then its ``audio.done``."""
    size = PCM16.ms_to_bytes(chunk_ms)
    events: list[ev.ServerEvent] = [
        ev.ResponseOutputAudioDelta(
            response_id=response_id,
            item_id=item_id,
            output_index=0,
            content_index=0,
            delta=base64.b64encode(pcm16[offset : offset + size]).decode("ascii"),
        )
        for offset in range(0, len(pcm16), size)
    ]
    events.append(
        ev.ResponseOutputAudioDone(
            response_id=response_id, item_id=item_id, output_index=0, content_index=0
        )
    )
    return events


def loud_span_ms(pcm16: bytes, threshold: int = 1000) -> tuple[float, float] | None:
    """(first, last) ms of PCM16 24 kHz audio whose samples pass ``threshold``, or ``None``."""
    values = pcm.samples(pcm16)
    loud = [index for index, value in enumerate(values) if abs(value) > threshold]
    if not loud:
        return None
    return loud[0] / 24, (loud[-1] + 1) / 24


def heard_characters(pcm16: bytes) -> str:
    """The tone-code characters of every complete burst (25 ms or longer) in PCM16 24 kHz
    audio, each read as the character of the nearest code frequency (no tolerance: audio that
    went through G.711 and several resamplers is a little off pitch), spaces left out."""
    values = pcm.samples(pcm16)
    chars = []
    for start, length in bursts_ms(pcm16):
        if length < 25:
            continue  # cut short (by an interruption)
        # the middle of the burst: its fades are quiet enough for noise to add crossings
        window = values[(start + 6) * 24 : (start + length - 6) * 24]
        crossings = [n for n in range(1, len(window)) if (window[n - 1] < 0) != (window[n] < 0)]
        freq = (len(crossings) - 1) * 24000 / (2 * (crossings[-1] - crossings[0]))
        index = round((freq - 500) / 45)
        chars.append(TONE_ALPHABET[min(max(index, 0), len(TONE_ALPHABET) - 1)])
    return "".join(chars)


def bursts_ms(pcm16: bytes) -> list[tuple[int, int]]:
    """(start, length) in ms of each run of loud 1 ms blocks (for failure messages)."""
    values = pcm.samples(pcm16)
    runs: list[tuple[int, int]] = []
    start = None
    for index in range(0, len(values) // 24):
        loud = max(map(abs, values[index * 24 : index * 24 + 24])) > 300
        if loud and start is None:
            start = index
        elif not loud and start is not None:
            runs.append((start, index - start))
            start = None
    return runs
