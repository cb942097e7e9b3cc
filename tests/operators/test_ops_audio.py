"""AudioFormat, audio_chunks and rechunk."""

from __future__ import annotations

import logging

import pytest
from ops_helpers import audio_delta, audio_done, created, done, text_delta
from reactivex.testing import ReactiveTest, TestScheduler

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.operators._audio_chunks import AudioDecoder
from rxrealtime.operators._rechunk import Rechunker

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed


def run(events: list[ev.ServerEvent], operator, *, complete_at: int = 900):  # type: ignore[no-untyped-def]
    scheduler = TestScheduler()
    messages = [on_next(210 + 10 * i, e) for i, e in enumerate(events)]
    source = scheduler.create_hot_observable(*messages, on_completed(complete_at))
    return scheduler.start(lambda: source.pipe(operator)).messages


def values(messages):  # type: ignore[no-untyped-def]
    return [m.value.value for m in messages if m.value.kind == "N"]


def test_audio_formats_describe_bytes_and_time() -> None:
    assert (ops.PCM16.bytes_per_sample, ops.PCM16.sample_rate) == (2, 24000)
    assert (ops.PCMU.bytes_per_sample, ops.PCMU.sample_rate) == (1, 8000)
    assert ops.PCM16.ms_to_bytes(20) == 960
    assert ops.PCMU.ms_to_bytes(20) == ops.PCMA.ms_to_bytes(20) == 160
    assert ops.PCM16.bytes_to_ms(48) == 1.0
    assert ops.PCM16.ms_to_bytes(0.03) == 0  # less than a sample
    assert ops.PCMU.silence(2) == b"\xff\xff" and ops.PCMA.silence(1) == b"\xd5"
    assert ops.AudioFormat.from_wire({"type": "audio/pcm", "rate": 24000}) == ops.PCM16
    assert ops.AudioFormat.from_wire("g711_ulaw") == ops.PCMU
    assert ops.AudioFormat.from_wire({"type": "audio/pcma"}) == ops.PCMA
    with pytest.raises(ValueError):
        ops.AudioFormat.from_wire("mp3")
    with pytest.raises(ValueError):
        ops.AudioFormat("audio/flac")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ops.PCM16.ms_to_bytes(-1)


def chunk(item, data, offset, *, fmt=ops.PCM16, response="r1", ci=0):  # type: ignore[no-untyped-def]
    return ops.AudioChunk(
        data, fmt.type, fmt.sample_rate, item, response, ci, offset, fmt.bytes_to_ms(len(data))
    )


def test_audio_chunks_decode_once_with_running_offsets_per_part() -> None:
    a, b = bytes(range(48)) * 2, b"\x01\x02" * 24  # 2 ms and 1 ms of PCM16
    events = [
        audio_delta("i1", a),
        text_delta("t", "ignored"),
        audio_delta("i2", b, response="r2", beta=True),
        audio_delta("i1", b),
        audio_delta("i1", b""),  # empty delta: no chunk
        audio_done("i1"),
        audio_delta("i1", b),  # a new part after done starts again at 0
    ]
    assert run(events, ops.audio_chunks()) == [
        on_next(210, chunk("i1", a, 0.0)),
        on_next(230, chunk("i2", b, 0.0, response="r2")),
        on_next(240, chunk("i1", b, 2.0)),
        on_next(270, chunk("i1", b, 0.0)),
        on_completed(900),
    ]


def test_audio_chunks_in_g711_format() -> None:
    data = b"\x7f" * 80  # 10 ms of 8 kHz G.711
    [first] = values(run([audio_delta("i1", data)], ops.audio_chunks(ops.PCMU)))
    assert (first.format, first.sample_rate, first.duration_ms) == ("audio/pcmu", 8000, 10.0)
    assert first.audio_format == ops.PCMU and first.end_ms == 10.0


def test_invalid_base64_is_skipped_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[str, str]] = []
    events = [audio_delta("i1", "not base64!!"), audio_delta("i1", b"\x00\x00")]
    out = values(
        run(events, ops.audio_chunks(on_invalid=lambda e, why: seen.append((e.item_id, why))))
    )
    assert [c.offset_ms for c in out] == [0.0]
    assert seen and seen[0][0] == "i1" and "base64" in seen[0][1]
    with caplog.at_level(logging.WARNING, logger="rxrealtime.operators"):
        assert len(values(run(events, ops.audio_chunks()))) == 1
    assert "undecodable audio" in caplog.text


def test_audio_state_released_at_done_and_response_done() -> None:
    decoder = AudioDecoder()
    sink: list[ops.AudioChunk] = []
    decoder.step(audio_delta("i1", b"\x00\x00"), sink.append)
    decoder.step(audio_delta("i2", b"\x00\x00", response="r2"), sink.append)
    assert decoder.open_parts == 2
    decoder.step(audio_done("i1"), sink.append)
    decoder.step(done("r2", status="cancelled"), sink.append)
    assert decoder.open_parts == 0


def test_rechunk_frames_and_flushes_tail_per_response() -> None:
    part = bytes(range(256)) * 4  # 1024 bytes: one 960-byte frame + 64 tail
    events = [
        created(),
        audio_delta("i1", part[:700]),
        audio_delta("i1", part[700:]),
        done("r1"),  # no audio.done: the response's end flushes the tail
    ]
    frames = values(run(events, ops.rechunk(20)))
    assert [len(f.data) for f in frames] == [960, 64]
    assert b"".join(f.data for f in frames) == part
    assert [f.offset_ms for f in frames] == [0.0, 20.0]
    assert frames[0].duration_ms == 20.0


def test_rechunk_pads_tail_on_audio_done_and_flushes_on_completion() -> None:
    events = [audio_delta("i1", b"\x80" * 200), audio_done("i1"), audio_delta("i2", b"\x80" * 10)]
    frames = values(run(events, ops.rechunk(20, format=ops.PCMU, pad=True)))
    assert [len(f.data) for f in frames] == [160, 160, 160]
    assert frames[1].data == b"\x80" * 40 + b"\xff" * 120  # tail of i1 padded with µ-law silence
    assert frames[2].item_id == "i2"  # flushed when the source completed
    assert frames[2].offset_ms == 0.0


def test_rechunk_keeps_interleaved_items_apart() -> None:
    machine = Rechunker(ops.PCM16, 10)  # 480-byte frames
    out: list[ops.AudioChunk] = []
    machine.step(audio_delta("a", b"\x01" * 300), out.append)
    machine.step(audio_delta("b", b"\x02" * 300, response="r2"), out.append)
    machine.step(audio_delta("a", b"\x01" * 300), out.append)
    assert [(f.item_id, set(f.data)) for f in out] == [("a", {1})]
    machine.step(done("r2"), out.append)
    assert [(f.item_id, len(f.data)) for f in out] == [("a", 480), ("b", 300)]
    assert machine.open_parts == 1
    machine.finish(out.append)
    assert [(f.item_id, len(f.data)) for f in out][-1] == ("a", 120)


def test_rechunk_rejects_frames_shorter_than_a_sample() -> None:
    with pytest.raises(ValueError):
        ops.rechunk(0.01)
