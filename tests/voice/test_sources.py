"""WAV sources, re-framing and conversion (no device needed): pacing on virtual time."""

from __future__ import annotations

import itertools
import math
import wave
from array import array
from pathlib import Path

import pytest
import reactivex
from reactivex.testing import TestScheduler
from voice_helpers import loud_span_ms, sine

import rxrealtime as rr
from rxrealtime.audio import PCM16, PCMA, PCMU, pcm
from rxrealtime.audio.devices import FormatEncoder, Framer, PcmConverter, level_dbfs
from rxrealtime.server import decode_tones, encode_text


def _write_wav(
    path: Path, data: bytes, rate: int = 24000, channels: int = 1, width: int = 2
) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(data)
    return path


def _stereo(mono: bytes) -> bytes:
    values = pcm.samples(mono)
    out = array("h", bytes(4 * len(values)))
    out[0::2] = values
    out[1::2] = values
    return pcm.to_bytes(out)


def _resample_naive_44k(pcm24: bytes) -> bytes:
    """24 kHz -> 44.1 kHz by linear interpolation (only to make a foreign-rate test file)."""
    values = pcm.samples(pcm24)
    count = len(values) * 44100 // 24000
    out = array("h", bytes(2 * count))
    for n in range(count):
        x = n * 24000 / 44100
        i = int(x)
        a = values[i]
        b = values[min(i + 1, len(values) - 1)]
        out[n] = round(a + (b - a) * (x - i))
    return pcm.to_bytes(out)


def _times(
    scheduler: TestScheduler, source: reactivex.Observable[bytes]
) -> list[tuple[float, int]]:
    """(virtual seconds, frame size) of each frame, and (-1, 0) for the completion."""
    seen: list[tuple[float, int]] = []
    source.subscribe(
        lambda frame: seen.append((scheduler.clock, len(frame))),
        on_completed=lambda: seen.append((-1.0, 0)),
        scheduler=scheduler,
    )
    scheduler.start()
    return seen


def test_wav_file_in_real_time_emits_one_frame_per_frame_duration(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "a.wav", sine(105))
    scheduler = TestScheduler()
    seen = _times(scheduler, rr.audio.wav_file(path, frame_ms=20))
    assert seen[-1] == (-1.0, 0)
    times = [t for t, _ in seen[:-1]]
    assert times == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08, 0.10])
    assert [size for _, size in seen[:-1]] == [960] * 5 + [240]  # the last 5 ms as they are


def test_wav_file_as_fast_as_possible_takes_no_time(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "a.wav", sine(1000))
    scheduler = TestScheduler()
    seen = _times(scheduler, rr.audio.wav_file(path, realtime=False, frame_ms=40))
    assert len(seen) == 26 and all(t in (0.0, -1.0) for t, _ in seen)


def test_wav_file_at_a_foreign_rate_is_resampled_to_each_format(tmp_path: Path) -> None:
    spoken = encode_text("abc 123")
    path = _write_wav(tmp_path / "b.wav", _stereo(_resample_naive_44k(spoken)), 44100, 2)
    for fmt in (PCM16, PCMU, PCMA):
        frames = _collect(rr.audio.wav_file(path, realtime=False, format=fmt, frame_ms=20))
        assert all(len(frame) == fmt.ms_to_bytes(20) for frame in frames[:-1])
        audio = b"".join(frames)
        assert fmt.duration_ms(audio) == pytest.approx(PCM16.duration_ms(spoken), abs=1)
        decoded = audio if fmt == PCM16 else fmt.decode(audio)
        assert decode_tones(decoded) == "abc 123"


def _collect(source: reactivex.Observable[bytes]) -> list[bytes]:
    frames: list[bytes] = []
    errors: list[Exception] = []
    scheduler = TestScheduler()
    source.subscribe(frames.append, errors.append, scheduler=scheduler)
    scheduler.start()
    assert not errors
    return frames


def test_wav_file_errors_reach_the_subscriber(tmp_path: Path) -> None:
    errors: list[Exception] = []
    rr.audio.wav_file(tmp_path / "missing.wav").subscribe(on_error=errors.append)
    eight_bit = _write_wav(tmp_path / "c.wav", bytes(100), width=1)
    rr.audio.wav_file(eight_bit).subscribe(on_error=errors.append)
    assert isinstance(errors[0], FileNotFoundError)
    assert isinstance(errors[1], ValueError) and "16-bit" in str(errors[1])
    with pytest.raises(ValueError, match="frame_ms"):
        rr.audio.wav_file(eight_bit, frame_ms=0)


def test_reframe_cuts_any_chunks_into_fixed_frames() -> None:
    chunks = [bytes(range(240)) * 6, b"\x01" * 1440, b"\x02" * 240]  # 30, 30 and 5 ms
    frames: list[bytes] = []
    reactivex.from_iterable(chunks).pipe(rr.audio.reframe(20)).subscribe(frames.append)
    assert b"".join(frames) == b"".join(chunks)
    assert [len(f) for f in frames[:-1]] == [960] * (len(frames) - 1)
    assert len(frames[-1]) == sum(map(len, chunks)) % 960


def test_converter_keeps_duration_and_pitch() -> None:
    """soxr, not sample dropping: 1 s of 1 kHz at 44.1 kHz stereo becomes 1 s of 1 kHz mono."""
    rate = 44100
    tone = array("h", (int(9000 * math.sin(2 * math.pi * 1000 * n / rate)) for n in range(rate)))
    stereo = _stereo(pcm.to_bytes(tone))
    converter = PcmConverter(rate, 2, 24000, 1)
    out = b"".join(converter.feed(stereo[i : i + 1763]) for i in range(0, len(stereo), 1763))
    out += converter.flush()
    assert len(out) == 48000
    values = pcm.samples(out)
    crossings = sum(1 for a, b in itertools.pairwise(values[1000:-1000]) if a < 0 <= b)
    assert crossings == pytest.approx(1000 * (22000 / 24000), abs=2)
    assert level_dbfs(out[2000:-2000]) == pytest.approx(level_dbfs(pcm.to_bytes(tone)), abs=0.2)


def test_same_rate_conversion_needs_no_resampler() -> None:
    encoder = FormatEncoder(24000, 2, PCM16)
    assert encoder.feed(_stereo(encode_text("x"))[:-1]) == encode_text("x")[:-2]
    framer = Framer(10, PCMU)
    assert framer.feed(b"\xff" * 250) == [b"\xff" * 80] * 3 and framer.flush() == b"\xff" * 10
    assert level_dbfs(b"") == -math.inf and level_dbfs(PCM16.silence(480)) == -math.inf
    assert loud_span_ms(PCM16.silence(480)) is None
