"""WavWriter on G.711 sessions (``audio/pcmu``, ``audio/pcma``): the announced format is
followed and the audio is written as standard PCM16 WAV at 8 kHz."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import pytest
import reactivex
from reactivex.subject import Subject
from sinks_helpers import audio_delta, response_done, wire

from rxrealtime import audio
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.audio import g711
from rxrealtime.scheduling import first
from rxrealtime.server import decode_tones, serve
from rxrealtime.server import g711 as server_g711
from rxrealtime.session import connect
from rxrealtime.sinks import WavWriter

MONO_8K = (1, 2, 8000)
MONO_24K = (1, 2, 24000)
# Every code byte once (so every table entry is checked), then some silence.
ALL_CODES = bytes(range(256)) + b"\xff" * 40


def read(path: Path) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(str(path), "rb") as wav:
        return (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()), wav.readframes(
            wav.getnframes()
        )


def ga_session(fmt: Any, *, type: str = "session.updated") -> ev.ServerEvent:
    return wire(type, session={"type": "realtime", "audio": {"output": {"format": fmt}}})


def beta_session(name: str) -> ev.ServerEvent:
    session = {"id": "sess_1", "object": "realtime.session", "output_audio_format": name}
    return wire("session.created", session=session)


def created(response: str, fmt: dict[str, Any] | None = None) -> ev.ServerEvent:
    body: dict[str, Any] = {"object": "realtime.response", "id": response, "status": "in_progress"}
    if fmt is not None:
        body["audio"] = {"output": {"format": fmt}}
    return wire("response.created", response=body)


def pcm(n_frames: int, seed: int) -> bytes:
    return bytes((seed + i) % 256 for i in range(2 * n_frames))


PCMU_WIRE = {"type": "audio/pcmu"}
PCMA_WIRE = {"type": "audio/pcma"}
PCM_WIRE = {"type": "audio/pcm", "rate": 24000}


# -- the one audio core ----------------------------------------------------------------------------


def test_the_codec_and_formats_are_shared_not_copied() -> None:
    for name in ("ulaw_encode", "ulaw_decode", "alaw_encode", "alaw_decode"):
        assert getattr(server_g711, name) is getattr(g711, name) is getattr(audio, name)
    for name in ("downsample_24k_to_8k", "upsample_8k_to_24k"):
        assert getattr(server_g711, name) is getattr(audio.pcm, name)
    assert server_g711.Codec is ops.AudioFormat is audio.AudioFormat
    for name in ("PCM16", "PCMU", "PCMA"):
        assert getattr(server_g711, name) is getattr(ops, name) is getattr(audio, name)


def test_reference_decodes() -> None:
    samples = [
        int.from_bytes(g711.ulaw_decode(bytes([c]))[:2], "little", signed=True)
        for c in (0xFF, 0x80, 0x00, 0x7F)
    ]
    assert samples == [0, 32124, -32124, 0]
    samples = [
        int.from_bytes(g711.alaw_decode(bytes([c]))[:2], "little", signed=True)
        for c in (0xD5, 0x55, 0xAA, 0x2A)
    ]
    assert samples == [8, -8, 32256, -32256]
    assert g711.decode(ALL_CODES, "ulaw") == g711.ulaw_decode(ALL_CODES)
    assert g711.encode(g711.alaw_decode(ALL_CODES), "alaw") == ALL_CODES
    with pytest.raises(ValueError, match="law must be"):
        g711.decode(b"\x00", "mulaw")  # type: ignore[arg-type]


def test_the_sinks_do_not_load_the_server() -> None:
    code = (
        "import sys, rxrealtime.sinks\n"
        "print(any(m.startswith('rxrealtime.server') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- following the announced format ----------------------------------------------------------


def test_pcmu_session_writes_8khz_pcm16_with_the_decoded_samples(tmp_path: Path) -> None:
    events = [
        ga_session(PCMU_WIRE),
        created("resp_1"),
        audio_delta(ALL_CODES[:100], "resp_1"),
        audio_delta(ALL_CODES[100:], "resp_1"),
        response_done("resp_1"),
    ]
    writer = WavWriter(tmp_path / "{response_id}.wav")
    reactivex.from_iterable(events).subscribe(writer)
    (file,) = writer.files
    assert (file.path.name, file.frames, file.sample_rate) == ("resp_1.wav", len(ALL_CODES), 8000)
    params, frames = read(file.path)
    assert params == MONO_8K
    assert frames == g711.ulaw_decode(ALL_CODES)
    assert frames[:2] == (-32124).to_bytes(2, "little", signed=True)  # code 0x00


def test_beta_session_and_a_per_response_override(tmp_path: Path) -> None:
    events = [
        beta_session("g711_ulaw"),
        created("r1"),
        audio_delta(ALL_CODES, "r1"),
        response_done("r1"),
        created("r2", PCMA_WIRE),  # this response only
        audio_delta(ALL_CODES, "r2"),
        response_done("r2"),
        created("r3", PCM_WIRE),
        audio_delta(pcm(30, 1), "r3"),
        response_done("r3"),
    ]
    writer = WavWriter(tmp_path / "{index}-{response_id}.wav")
    reactivex.from_iterable(events).subscribe(writer)
    assert [(f.path.name, f.sample_rate) for f in writer.files] == [
        ("0-r1.wav", 8000),
        ("1-r2.wav", 8000),
        ("2-r3.wav", 24000),
    ]
    assert read(writer.files[0].path) == (MONO_8K, g711.ulaw_decode(ALL_CODES))
    assert read(writer.files[1].path) == (MONO_8K, g711.alaw_decode(ALL_CODES))
    assert read(writer.files[2].path) == (MONO_24K, pcm(30, 1))


def test_a_pinned_format_ignores_announcements(tmp_path: Path) -> None:
    events = [
        ga_session(PCM_WIRE),
        created("r1"),
        audio_delta(ALL_CODES, "r1"),
        response_done("r1"),
    ]
    writer = WavWriter(tmp_path / "{response_id}.wav", format=ops.PCMA)
    reactivex.from_iterable(events).subscribe(writer)
    assert read(writer.files[0].path) == (MONO_8K, g711.alaw_decode(ALL_CODES))


def test_sample_rate_labels_linear_pcm_only(tmp_path: Path) -> None:
    events = [
        audio_delta(pcm(10, 1), "r1"),
        response_done("r1"),
        ga_session(PCMU_WIRE),
        audio_delta(b"\xff" * 8, "r2"),
        response_done("r2"),
    ]
    writer = WavWriter(tmp_path / "{response_id}.wav", sample_rate=16000)
    reactivex.from_iterable(events).subscribe(writer)
    assert [(f.response_id, f.sample_rate, f.frames) for f in writer.files] == [
        ("r1", 16000, 10),
        ("r2", 8000, 8),
    ]


def test_file_is_valid_while_being_written(tmp_path: Path) -> None:
    subject: Subject[ev.ServerEvent] = Subject()
    writer = WavWriter(tmp_path / "{response_id}.wav")
    subject.subscribe(writer)
    subject.on_next(ga_session(PCMU_WIRE))
    subject.on_next(created("r1"))
    subject.on_next(audio_delta(ALL_CODES[:7], "r1"))
    subject.on_next(audio_delta(ALL_CODES[7:60], "r1"))
    # Not finalised yet, but the header already counts every frame written so far.
    assert read(tmp_path / "r1.wav") == (MONO_8K, g711.ulaw_decode(ALL_CODES[:60]))
    subject.on_error(ConnectionError("dropped"))
    assert [(f.frames, f.sample_rate) for f in writer.files] == [(60, 8000)]


# -- a per-session file whose format changes ---------------------------------------------------


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ("session.wav", ["session.wav", "session-1.wav", "session-2.wav"]),
        ("session-{index}.wav", ["session-0.wav", "session-1.wav", "session-2.wav"]),
    ],
)
def test_a_rate_change_starts_a_new_file(tmp_path: Path, template: str, names: list[str]) -> None:
    events = [
        created("r1"),
        audio_delta(pcm(12, 1), "r1"),
        response_done("r1"),
        ga_session(PCMU_WIRE),
        created("r2"),
        audio_delta(ALL_CODES[:50], "r2"),
        response_done("r2"),
        ga_session(PCMA_WIRE),  # same 8 kHz rate: the same file goes on
        created("r3"),
        audio_delta(ALL_CODES[50:], "r3"),
        response_done("r3"),
        ga_session(PCM_WIRE),
        created("r4"),
        audio_delta(pcm(5, 2), "r4"),
        response_done("r4"),
    ]
    writer = WavWriter(tmp_path / template, per="session")
    reactivex.from_iterable(events).subscribe(writer)
    assert [(f.path.name, f.response_id, f.frames, f.sample_rate) for f in writer.files] == [
        (names[0], "r1", 12, 24000),
        (names[1], "r2", len(ALL_CODES), 8000),
        (names[2], "r4", 5, 24000),
    ]
    assert read(tmp_path / names[0]) == (MONO_24K, pcm(12, 1))
    assert read(tmp_path / names[1]) == (
        MONO_8K,
        g711.ulaw_decode(ALL_CODES[:50]) + g711.alaw_decode(ALL_CODES[50:]),
    )
    assert read(tmp_path / names[2]) == (MONO_24K, pcm(5, 2))


def test_a_file_is_never_overwritten(tmp_path: Path) -> None:
    events = [
        audio_delta(pcm(3, 1), "r1"),
        response_done("r1"),
        audio_delta(pcm(4, 2), "r1"),  # late audio of a finished response
        response_done("r1"),
    ]
    writer = WavWriter(tmp_path / "{response_id}.wav")
    reactivex.from_iterable(events).subscribe(writer)
    assert [(f.path.name, f.frames) for f in writer.files] == [("r1.wav", 3), ("r1-1.wav", 4)]
    assert read(tmp_path / "r1.wav")[1] == pcm(3, 1)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sample_rate must be positive"):
        WavWriter("{index}.wav", sample_rate=0)
    with pytest.raises(TypeError, match="format must be an AudioFormat"):
        WavWriter("{index}.wav", format="audio/pcmu")  # type: ignore[arg-type]


# -- a real session with the embedded server -------------------------------------------------


def user_text(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


@pytest.mark.timeout(30)
async def test_a_pcmu_session_with_the_embedded_server(tmp_path: Path) -> None:
    async with (
        serve(realtime_audio=False) as server,
        connect(base_url=server.base_url, api_key="test-key") as session,
    ):
        writer = WavWriter(tmp_path / "{index}-{response_id}.wav")
        session.events.subscribe(writer)
        transcripts: list[ev.ResponseOutputAudioTranscriptDone] = []
        session.events.pipe(ops.of_type(ev.ResponseOutputAudioTranscriptDone)).subscribe(
            transcripts.append
        )
        updated = first(session.events.pipe(ops.of_type(ev.SessionUpdated)))
        await session.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"format": PCMU_WIRE}}},
            }
        )
        await updated
        finished = first(session.events.pipe(ops.of_type(ev.ResponseDone)))
        await session.send(user_text("hello"))
        await session.send(
            {"type": "response.create", "response": {"output_modalities": ["audio"]}}
        )
        done = await finished
        await session.close()

    (file,) = writer.files
    assert done.response is not None and file.response_id == done.response.id
    (transcript,) = transcripts
    assert transcript.transcript
    params, frames = read(file.path)
    assert params == MONO_8K
    assert file.frames == len(frames) // 2 > 0
    assert decode_tones(server_g711.upsample_8k_to_24k(frames)) == transcript.transcript.lower()
