"""The microphone and the speaker through real (null) devices: what the speaker plays into the
``room`` sink is recorded back by microphones on its monitor source (see ``conftest.py``)."""

from __future__ import annotations

import asyncio
import base64
import threading
import time

import pytest
from voice_helpers import audio_events, bursts_ms, heard_characters, loud_span_ms, sine

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime.audio import PCM16, PCMU, AudioFormat
from rxrealtime.audio.devices import AudioDeviceError, Speaker, find_device
from rxrealtime.server import decode_tones, encode_text

pytestmark = pytest.mark.usefixtures("pulse")

LATENCY = 0.2  # s: room for a loaded machine to stall our threads without an underrun


async def _wait_for(condition: object, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _play(speaker: Speaker, pcm16: bytes, item_id: str) -> None:
    for event in audio_events(pcm16, item_id):
        speaker.on_next(event)


def test_the_test_devices_are_listed() -> None:
    assert find_device("output", "rxr_room").default_samplerate > 0
    assert find_device("input", "rxr_room_monitor").max_channels >= 1
    with pytest.raises(AudioDeviceError, match="no audio input device 'no such device'"):
        find_device("input", "no such device")


@pytest.mark.parametrize(
    ("fmt", "rate", "channels"), [(PCM16, 48000, 2), (PCMU, 44100, 2), (PCM16, 44100, 1)]
)
async def test_microphone_frames_from_a_foreign_rate_arrive_resampled_in_order(
    fmt: AudioFormat, rate: int, channels: int
) -> None:
    """A 44.1/48 kHz (stereo) input device gives fixed frames of 24 kHz PCM16 or 8 kHz G.711
    whose tone-code words read back in order and whose tones last as long as they were played."""
    words = "hello world 42"
    spoken = encode_text(words)
    frames: list[bytes] = []
    threads: set[int] = set()
    loop_thread = threading.get_ident()

    def on_frame(frame: bytes) -> None:
        threads.add(threading.get_ident())
        frames.append(frame)

    mic = rr.audio.microphone("rxr_room_monitor", format=fmt, samplerate=rate, channels=channels)
    subscription = mic.subscribe(on_frame)
    with Speaker("rxr_room", samplerate=44100, latency=LATENCY) as speaker:
        await speaker.wait_ready()
        await _wait_for(lambda: len(frames) > 5)  # the input stream is running
        _play(speaker, spoken, "item_1")
        await speaker.drain()
        await asyncio.sleep(0.4)  # the monitor's own latency
    subscription.dispose()

    frame_bytes = fmt.ms_to_bytes(20)
    assert frames and all(len(frame) == frame_bytes for frame in frames)
    assert threads == {loop_thread}
    recorded = b"".join(frames) if fmt == PCM16 else fmt.decode(b"".join(frames))
    if fmt == PCM16:
        assert decode_tones(recorded) == words, (heard_characters(recorded), bursts_ms(recorded))
    else:  # G.711 at 8 kHz bends the highest tones a little: read each at its nearest code
        assert heard_characters(recorded) == "".join(words.split()), bursts_ms(recorded)
    span = loud_span_ms(recorded)
    assert span is not None
    expected = loud_span_ms(spoken)
    assert expected is not None
    # the resampled recording lasts as long as what was played (a wrong rate would be 9% off)
    assert abs((span[1] - span[0]) - (expected[1] - expected[0])) <= 20


async def test_the_speaker_plays_in_real_time_and_reports_the_position_heard() -> None:
    """The position follows the device clock (real time, never ahead of the audio), ends at
    exactly the audio written, and the monitor recorded that much audio."""
    tone = sine(1500)
    frames: list[bytes] = []
    subscription = rr.audio.microphone("rxr_room_monitor", samplerate=48000).subscribe(
        frames.append
    )
    with Speaker("rxr_room", latency=LATENCY) as speaker:
        await speaker.wait_ready()
        await _wait_for(lambda: len(frames) > 5)
        samples: list[tuple[float, float]] = []
        _play(speaker, tone, "item_1")
        start = time.monotonic()
        while speaker.position("item_1") < 1500:
            samples.append((time.monotonic() - start, speaker.position("item_1")))
            assert time.monotonic() - start < 20
            await asyncio.sleep(0.02)
        elapsed = time.monotonic() - start
        await asyncio.sleep(0.4)
        frame_ms = 1000 / speaker.samplerate
        assert speaker.position("item_1") == pytest.approx(1500, abs=frame_ms)
        assert speaker.playback_position("item_1", 0) == pytest.approx(1500, abs=frame_ms)
        statistics = speaker.statistics()
    subscription.dispose()

    positions = [position for _, position in samples]
    assert positions == sorted(positions)  # never goes back
    # real time: playing 1.5 s took at least 1.5 s (less what had played before the first look)
    first_moving = next(t for t, position in samples if position > 0)
    assert elapsed - first_moving >= 1.5 - 0.1
    # and never ahead of the clock: after t seconds at most t s (+ one block) were heard
    assert all(position <= (t + 0.02) * 1000 for t, position in samples)
    assert statistics.underruns == 0 and statistics.queued_ms == 0
    recorded = loud_span_ms(b"".join(frames))
    assert recorded is not None
    assert recorded[1] - recorded[0] == pytest.approx(1500, abs=20 + frame_ms)


async def test_an_interrupt_stops_playback_at_once_and_the_position_stops_with_it() -> None:
    tone = sine(3000)
    frames: list[bytes] = []
    subscription = rr.audio.microphone("rxr_room_monitor").subscribe(frames.append)
    with Speaker("rxr_room", latency=LATENCY) as speaker:
        await speaker.wait_ready()
        await _wait_for(lambda: len(frames) > 5)
        _play(speaker, tone, "item_1")
        await _wait_for(lambda: speaker.position("item_1") >= 600)
        speaker.interrupt()
        stopped_at = speaker.playback_position("item_1", 0)
        # what the device still held: its latency, a block, and a scheduling delay
        assert stopped_at is not None and 600 <= stopped_at < 600 + LATENCY * 1000 + 200
        for event in audio_events(sine(500), "item_1"):  # the rest of an interrupted part
            speaker.on_next(event)
        await asyncio.sleep(0.6)
        assert speaker.position("item_1") == pytest.approx(stopped_at, abs=1)
        statistics = speaker.statistics()
    subscription.dispose()
    assert statistics.interrupted_parts == 1 and statistics.dropped_ms >= 1900
    recorded = loud_span_ms(b"".join(frames))
    assert recorded is not None
    assert recorded[1] - recorded[0] == pytest.approx(stopped_at, abs=25)


async def test_the_speaker_plays_g711_audio() -> None:
    """Output audio in G.711 µ-law 8 kHz (here pinned; the barge-in test follows a session's
    announcement) is expanded and resampled to the device."""
    words = "ok 7"
    spoken = encode_text(words)
    frames: list[bytes] = []
    subscription = rr.audio.microphone("rxr_room_monitor").subscribe(frames.append)
    with Speaker("rxr_room", format=PCMU, latency=LATENCY) as speaker:
        await speaker.wait_ready()
        await _wait_for(lambda: len(frames) > 5)
        speaker.on_next(
            ev.ResponseOutputAudioDelta(
                response_id="r",
                item_id="item_u",
                output_index=0,
                content_index=0,
                delta=base64.b64encode(PCMU.encode(spoken)).decode(),
            )
        )
        speaker.on_next(
            ev.ResponseOutputAudioDone(
                response_id="r", item_id="item_u", output_index=0, content_index=0
            )
        )
        await speaker.drain()
        await asyncio.sleep(0.4)
        assert speaker.position("item_u") == pytest.approx(PCM16.duration_ms(spoken), abs=1)
    subscription.dispose()
    # G.711 at 8 kHz bends the highest tones a little off pitch: read each at its nearest code
    assert heard_characters(b"".join(frames)) == "ok7"
