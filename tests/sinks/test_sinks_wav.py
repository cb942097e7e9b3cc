"""WavWriter: valid WAV files, one per response or per session, finalised however it ends."""

from __future__ import annotations

import logging
import wave
from pathlib import Path

import pytest
import reactivex
from reactivex.subject import Subject
from sinks_helpers import audio_delta, response_done, text_delta

from rxrealtime import events as ev
from rxrealtime.sinks import WavWriter


def pcm(n_frames: int, seed: int) -> bytes:
    return bytes((seed + i) % 256 for i in range(2 * n_frames))


def read(path: Path) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(str(path), "rb") as wav:
        return (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()), wav.readframes(
            wav.getnframes()
        )


MONO_24K = (1, 2, 24000)


def test_one_file_per_response_with_the_frames_of_its_deltas(tmp_path: Path) -> None:
    chunks = {"resp_A": [pcm(100, 1), pcm(37, 2)], "resp_B": [pcm(250, 3)]}
    events: list[ev.ServerEvent] = [
        audio_delta(chunks["resp_A"][0], "resp_A"),
        text_delta("ignored", "resp_A"),
        audio_delta(chunks["resp_A"][1], "resp_A", beta=True),
        response_done("resp_A"),
        audio_delta(chunks["resp_B"][0], "resp_B"),
        response_done("resp_B"),
    ]
    writer = WavWriter(tmp_path / "{index}-{response_id}.wav")
    reactivex.from_iterable(events).subscribe(writer)
    assert [(f.path.name, f.response_id, f.frames) for f in writer.files] == [
        ("0-resp_A.wav", "resp_A", 137),
        ("1-resp_B.wav", "resp_B", 250),
    ]
    for file in writer.files:
        params, frames = read(file.path)
        assert params == MONO_24K
        assert frames == b"".join(chunks[file.response_id or ""])


def test_interleaved_responses_get_their_own_files(tmp_path: Path) -> None:
    events = [
        audio_delta(pcm(10, 1), "r1"),
        audio_delta(pcm(20, 2), "r2"),
        audio_delta(pcm(30, 3), "r1"),
        response_done("r2"),
        response_done("r1"),
    ]
    writer = WavWriter(tmp_path / "{response_id}.wav")
    reactivex.from_iterable(events).subscribe(writer)
    assert [(f.response_id, f.frames) for f in writer.files] == [("r2", 20), ("r1", 40)]
    assert read(tmp_path / "r1.wav")[1] == pcm(10, 1) + pcm(30, 3)


def test_one_file_per_session(tmp_path: Path) -> None:
    events = [
        audio_delta(pcm(5, 1), "r1"),
        response_done("r1"),
        audio_delta(pcm(7, 2), "r2"),
        response_done("r2"),
    ]
    writer = WavWriter(tmp_path / "session.wav", per="session")
    reactivex.from_iterable(events).subscribe(writer)
    (file,) = writer.files
    assert file.frames == 12
    assert read(tmp_path / "session.wav") == (MONO_24K, pcm(5, 1) + pcm(7, 2))


def test_file_is_valid_while_being_written_and_after_an_error(tmp_path: Path) -> None:
    subject: Subject[ev.ServerEvent] = Subject()
    writer = WavWriter(tmp_path / "{response_id}.wav")
    subject.subscribe(writer)
    subject.on_next(audio_delta(pcm(64, 1), "r1"))
    subject.on_next(audio_delta(pcm(36, 2), "r1"))
    # Not finalised yet, but the header already counts every frame written so far.
    assert read(tmp_path / "r1.wav") == (MONO_24K, pcm(64, 1) + pcm(36, 2))
    subject.on_error(ConnectionError("dropped"))
    assert [f.frames for f in writer.files] == [100]
    subject.on_next(audio_delta(pcm(5, 3), "r1"))  # after the end: ignored
    assert read(tmp_path / "r1.wav")[1] == pcm(64, 1) + pcm(36, 2)


def test_dispose_finalises_open_files(tmp_path: Path) -> None:
    writer = WavWriter(tmp_path / "{index}.wav")
    subject: Subject[ev.ServerEvent] = Subject()
    subscription = subject.subscribe(writer)
    subject.on_next(audio_delta(pcm(3, 0), "r1"))
    subscription.dispose()
    writer.dispose()
    assert [f.frames for f in writer.files] == [3]
    writer.close()  # idempotent
    assert len(writer.files) == 1


def test_odd_sized_chunks_are_joined_into_whole_frames(tmp_path: Path) -> None:
    data = pcm(10, 9)
    events = [audio_delta(data[:3]), audio_delta(data[3:8]), audio_delta(data[8:]), response_done()]
    writer = WavWriter(tmp_path / "{response_id}.wav")
    reactivex.from_iterable(events).subscribe(writer)
    assert read(writer.files[0].path)[1] == data


def test_bad_base64_is_skipped_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = ev.decode(
        '{"type":"response.output_audio.delta","event_id":"evt_bad","response_id":"r1",'
        '"item_id":"i","output_index":0,"content_index":0,"delta":"%%not base64%%"}'
    )
    writer = WavWriter(tmp_path / "{response_id}.wav")
    with caplog.at_level(logging.WARNING, logger="rxrealtime.sinks"):
        reactivex.from_iterable([audio_delta(pcm(4, 0)), bad, response_done()]).subscribe(writer)
    assert writer.skipped == 1
    assert [f.frames for f in writer.files] == [4]
    assert "evt_bad" in caplog.text


def test_no_audio_no_file(tmp_path: Path) -> None:
    writer = WavWriter(tmp_path / "s.wav", per="session")
    reactivex.from_iterable([text_delta("hi"), response_done()]).subscribe(writer)
    assert writer.files == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("template", "per", "message"),
    [
        ("out.wav", "response", "needs {response_id} or {index}"),
        ("{nope}.wav", "response", "bad WAV path template"),
        ("{index}.wav", "track", "per must be"),
    ],
)
def test_bad_arguments(template: str, per: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        WavWriter(template, per=per)  # type: ignore[arg-type]
