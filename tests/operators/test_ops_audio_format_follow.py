"""audio_chunks, rechunk and barge_in follow the output audio format the stream announces."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from ops_helpers import audio_delta, audio_done, created, done, speech_started, wire
from reactivex.testing import ReactiveTest, TestScheduler

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.operators import (
    AudioDecoder,
    BargeInDetector,
    OutputFormatTracker,
    Rechunker,
    announced_output_format,
)

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed


# -- wire-shaped announcements -----------------------------------------------------------------


def ga_session(fmt: Any, *, type: str = "session.updated") -> ev.ServerEvent:
    """A GA session announcing output format ``fmt`` (a wire object, or anything)."""
    return wire(type, session={"type": "realtime", "audio": {"output": {"format": fmt}}})


def beta_session(name: Any, *, type: str = "session.created") -> ev.ServerEvent:
    """A beta (flat) session announcing ``output_audio_format``."""
    session = {"id": "sess_1", "object": "realtime.session", "modalities": ["audio", "text"]}
    return wire(type, session={**session, "output_audio_format": name})


def ga_created(response: str, fmt: dict[str, Any] | None = None) -> ev.ServerEvent:
    body: dict[str, Any] = {"object": "realtime.response", "id": response, "status": "in_progress"}
    if fmt is not None:
        body["audio"] = {"output": {"format": fmt, "voice": "marin"}}
    return wire("response.created", response=body)


def beta_created(response: str, name: Any) -> ev.ServerEvent:
    body = {"object": "realtime.response", "id": response, "output_audio_format": name}
    return wire("response.created", response=body)


PCMU_WIRE = {"type": "audio/pcmu"}
PCMA_WIRE = {"type": "audio/pcma"}
PCM_WIRE = {"type": "audio/pcm", "rate": 24000}
MS20_G711 = b"\x7f" * 160  # 20 ms of 8 kHz G.711 (or 3.33 ms of PCM16)


def run(events: list[ev.ServerEvent], operator: Any) -> list[Any]:
    """Values of ``operator`` over ``events`` sent at 210, 220, ... in virtual time."""
    scheduler = TestScheduler()
    messages = [on_next(210 + 10 * i, e) for i, e in enumerate(events)]
    source = scheduler.create_hot_observable(*messages, on_completed(900))
    out = scheduler.start(lambda: source.pipe(operator)).messages
    assert out[-1] == on_completed(900)  # nothing here may error the stream
    return [m.value.value for m in out if m.value.kind == "N"]


def shape(chunks: list[ops.AudioChunk]) -> list[tuple[str, str, int, float, float]]:
    return [(c.item_id, c.format, c.sample_rate, c.offset_ms, c.duration_ms) for c in chunks]


# -- the one place that reads announcements ----------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (ga_session(PCMU_WIRE), ops.PCMU),
        (ga_session(PCMA_WIRE, type="session.created"), ops.PCMA),
        (ga_session(PCM_WIRE), ops.PCM16),
        (ga_session({"type": "audio/pcm"}), ops.PCM16),  # rate left out: 24 kHz
        (ga_session("audio/pcmu"), ops.PCMU),  # a bare type string instead of an object
        (beta_session("g711_alaw"), ops.PCMA),
        (beta_session("g711_ulaw", type="session.updated"), ops.PCMU),
        (beta_session("pcm16"), ops.PCM16),
        (ga_created("r1", PCMA_WIRE), ops.PCMA),
        (beta_created("r1", "g711_ulaw"), ops.PCMU),
        (ga_created("r1"), None),  # a response naming no format
        (wire("session.updated", session={"type": "realtime", "instructions": "hi"}), None),
        (wire("session.updated", session={"type": "transcription", "audio": {"input": {}}}), None),
        (wire("session.updated"), None),  # no session at all
        (audio_delta("i1", b"\x00\x00"), None),
        (done("r1"), None),
    ],
)
def test_announced_output_format(event: ev.ServerEvent, expected: ops.AudioFormat | None) -> None:
    assert announced_output_format(event) == expected


@pytest.mark.parametrize(
    "event",
    [
        ga_session({"type": "audio/mp3"}),
        ga_session({"rate": 16000}),  # no type
        ga_session(7),
        beta_session("opus"),
        beta_session(5),
        beta_created("r1", ["g711_ulaw"]),
    ],
)
def test_unknown_announced_formats_are_ignored_with_a_warning(
    event: ev.ServerEvent, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="rxrealtime.operators"):
        assert announced_output_format(event) is None
    assert "unknown output audio format" in caplog.text


def test_tracker_fixes_a_format_per_response_and_releases_it() -> None:
    tracker = OutputFormatTracker()
    assert tracker.format_for("r1") == ops.PCM16  # the service default
    tracker.observe(ga_session(PCMU_WIRE))
    tracker.observe(created("r1"))  # no format named: the session's, fixed now
    tracker.observe(ga_created("r2", PCM_WIRE))  # a per-response override
    tracker.observe(ga_session(PCMA_WIRE))  # later responses only
    assert [tracker.format_for(r) for r in ("r1", "r2", "r3", None)] == [
        ops.PCMU,
        ops.PCM16,
        ops.PCMA,
        ops.PCMA,
    ]
    assert tracker.open_responses == 2
    tracker.observe(done("r1"))
    tracker.observe(done("r2", status="cancelled"))
    assert tracker.open_responses == 0
    assert tracker.format_for("r1") == ops.PCMA


def test_pinned_tracker_ignores_announcements() -> None:
    tracker = OutputFormatTracker(ops.PCMU)
    for event in (ga_session(PCM_WIRE), ga_created("r1", PCMA_WIRE), beta_session("pcm16")):
        tracker.observe(event)
    assert tracker.format_for("r1") == tracker.format_for(None) == ops.PCMU
    assert tracker.open_responses == 0


# -- audio_chunks ------------------------------------------------------------------------------


def test_audio_chunks_follow_a_ga_session_update_to_pcmu() -> None:
    events = [
        audio_delta("i0", MS20_G711, response="r0"),  # before any announcement: PCM16
        done("r0"),
        ga_session(PCMU_WIRE),
        ga_created("r1", PCMU_WIRE),
        audio_delta("i1", MS20_G711),
        audio_delta("i1", MS20_G711[:80]),
        done("r1"),
    ]
    pcm16_ms = 160 / 48  # 3.33 ms: what a PCM16 reading of 160 bytes says
    assert shape(run(events, ops.audio_chunks())) == [
        ("i0", "audio/pcm", 24000, 0.0, pcm16_ms),
        ("i1", "audio/pcmu", 8000, 0.0, 20.0),
        ("i1", "audio/pcmu", 8000, 20.0, 10.0),
    ]


def test_audio_chunks_follow_a_beta_session_in_g711_alaw() -> None:
    events = [
        beta_session("g711_alaw"),
        audio_delta("i1", MS20_G711, beta=True),  # no response.created seen: the session's
        audio_delta("i1", MS20_G711, beta=True),
    ]
    [first, second] = run(events, ops.audio_chunks())
    assert first.audio_format == ops.PCMA
    assert (second.offset_ms, second.end_ms) == (20.0, 40.0)


def test_audio_chunks_honour_a_per_response_override() -> None:
    events = [
        ga_session(PCM_WIRE),
        beta_created("r1", "g711_ulaw"),  # this response only
        audio_delta("i1", MS20_G711, response="r1"),
        done("r1"),
        created("r2"),
        audio_delta("i2", MS20_G711, response="r2"),
    ]
    [override, after] = run(events, ops.audio_chunks())
    assert (override.format, override.duration_ms) == ("audio/pcmu", 20.0)
    assert (after.format, after.sample_rate) == ("audio/pcm", 24000)


def test_a_response_and_a_part_keep_their_format_when_the_session_changes() -> None:
    events = [
        created("r1"),  # created under PCM16
        audio_delta("i1", MS20_G711),
        ga_session(PCMU_WIRE),  # mid-response: applies to later responses
        audio_delta("i1", MS20_G711),
        audio_delta("x", MS20_G711, response="unseen"),  # a response not seen created
        ga_session(PCMA_WIRE),
        audio_delta("x", MS20_G711, response="unseen"),  # the part keeps its first format
        audio_done("x", response="unseen"),
        audio_delta("x", MS20_G711, response="unseen"),  # a new part: the new format
    ]
    assert [(c.item_id, c.format, c.offset_ms) for c in run(events, ops.audio_chunks())] == [
        ("i1", "audio/pcm", 0.0),
        ("i1", "audio/pcm", 160 / 48),
        ("x", "audio/pcmu", 0.0),
        ("x", "audio/pcmu", 20.0),
        ("x", "audio/pcma", 0.0),
    ]


def test_a_pinned_format_ignores_announcements() -> None:
    events = [ga_session(PCMU_WIRE), ga_created("r1", PCMA_WIRE), audio_delta("i1", MS20_G711)]
    [pinned] = run(events, ops.audio_chunks(ops.PCM16))
    assert pinned.audio_format == ops.PCM16
    [pinned] = run(events, ops.audio_chunks(format=ops.PCMU))
    assert pinned.audio_format == ops.PCMU


def test_unknown_format_values_keep_the_current_format(caplog: pytest.LogCaptureFixture) -> None:
    events = [
        ga_session(PCMU_WIRE),
        ga_session({"type": "audio/mp3"}),
        beta_session("opus", type="session.updated"),
        beta_created("r1", 42),
        audio_delta("i1", MS20_G711),
    ]
    with caplog.at_level(logging.WARNING, logger="rxrealtime.operators"):
        [chunk] = run(events, ops.audio_chunks())
    assert chunk.audio_format == ops.PCMU
    assert caplog.text.count("unknown output audio format") == 3


def test_decoder_releases_response_formats() -> None:
    decoder = AudioDecoder()
    sink: list[ops.AudioChunk] = []
    for event in (ga_created("r1", PCMU_WIRE), audio_delta("i1", MS20_G711), created("r2")):
        decoder.step(event, sink.append)
    assert (decoder.formats.open_responses, decoder.open_parts) == (2, 1)
    decoder.step(done("r1"), sink.append)
    assert (decoder.formats.open_responses, decoder.open_parts) == (1, 0)
    decoder.finish(sink.append)
    assert decoder.formats.open_responses == 0


# -- rechunk -----------------------------------------------------------------------------------


def test_rechunk_frames_in_each_parts_format() -> None:
    events = [
        ga_session(PCMU_WIRE),
        audio_delta("u", b"\x10" * 200),  # 160 + 40 of µ-law
        audio_done("u"),
        beta_session("g711_alaw", type="session.updated"),
        audio_delta("a", b"\x20" * 170),
        audio_done("a"),
        beta_session("pcm16", type="session.updated"),
        audio_delta("p", b"\x30" * 1000),  # 960 + 40 of PCM16
        audio_done("p"),
    ]
    frames = run(events, ops.rechunk(20, pad=True))
    assert [(f.item_id, f.format, len(f.data), f.offset_ms) for f in frames] == [
        ("u", "audio/pcmu", 160, 0.0),
        ("u", "audio/pcmu", 160, 20.0),
        ("a", "audio/pcma", 160, 0.0),
        ("a", "audio/pcma", 160, 20.0),
        ("p", "audio/pcm", 960, 0.0),
        ("p", "audio/pcm", 960, 20.0),
    ]
    assert frames[1].data == b"\x10" * 40 + b"\xff" * 120  # padded with µ-law silence
    assert frames[3].data == b"\x20" * 10 + b"\xd5" * 150  # with A-law silence
    assert frames[5].data == b"\x30" * 40 + b"\x00" * 920
    assert all(f.duration_ms == 20.0 for f in frames)


def test_rechunk_honours_a_per_response_override_and_a_pin() -> None:
    events = [
        ga_session(PCMU_WIRE),
        ga_created("r1", PCM_WIRE),
        audio_delta("i1", b"\x01" * 1000),
        done("r1"),
    ]
    assert [len(f.data) for f in run(events, ops.rechunk(20))] == [960, 40]
    assert [len(f.data) for f in run(events, ops.rechunk(20, format=ops.PCMU))] == [160] * 6 + [40]


def test_rechunk_validates_frame_ms_against_the_formats_it_may_meet() -> None:
    with pytest.raises(ValueError, match=r"audio/pcmu at 8000 Hz"):
        ops.rechunk(0.1)  # under one 8 kHz sample (0.125 ms)
    assert Rechunker(ops.PCM16, 0.1).frame_bytes(ops.PCM16) == 4  # 2 samples of 24 kHz
    with pytest.raises(ValueError, match=r"audio/pcm at 24000 Hz"):
        ops.rechunk(0.01, format=ops.PCM16)


def test_rechunk_frames_hold_at_least_one_sample_at_an_unusual_announced_rate() -> None:
    machine = Rechunker(None, 0.5)
    out: list[ops.AudioChunk] = []
    machine.step(ga_session({"type": "audio/pcm", "rate": 1000}), out.append)  # 1 ms samples
    machine.step(audio_delta("i1", b"\x00\x01" * 3), out.append)
    assert [(len(f.data), f.sample_rate, f.offset_ms) for f in out] == [
        (2, 1000, 0.0),
        (2, 1000, 1.0),
        (2, 1000, 2.0),
    ]
    assert machine.frame_bytes(ops.PCMU) == 4  # 0.5 ms of 8 kHz


# -- barge_in ----------------------------------------------------------------------------------

HALF_SECOND_G711 = b"\xff" * 4000  # 500 ms at 8 kHz (83 ms if read as PCM16)


def run_timed(timed: list[tuple[float, ev.ServerEvent]], operator: Any) -> list[Any]:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(*[on_next(t, e) for t, e in timed], on_completed(900))
    return [
        m.value.value
        for m in scheduler.start(lambda: source.pipe(operator)).messages
        if m.value.kind == "N"
    ]


def truncate(item: str, ms: int) -> ev.ConversationItemTruncate:
    return ev.ConversationItemTruncate(item_id=item, content_index=0, audio_end_ms=ms)


def test_barge_in_truncates_in_pcmu_milliseconds() -> None:
    timed = [
        (205.0, ga_session(PCMU_WIRE)),
        (209.0, ga_created("r1", PCMU_WIRE)),
        (210.0, audio_delta("i1", HALF_SECOND_G711)),
        (210.3, speech_started()),
    ]
    assert run_timed(timed, ops.barge_in()) == [truncate("i1", 300)]
    # Reading the same bytes as PCM16 (the old default) clamps to 83 ms of "received" audio.
    assert run_timed(timed, ops.barge_in(format=ops.PCM16)) == [truncate("i1", 83)]


def test_barge_in_clamps_to_audio_received_in_the_beta_alaw_format() -> None:
    timed = [
        (205.0, beta_session("g711_alaw")),
        (210.0, audio_delta("i1", b"\xd5" * 800, beta=True)),  # 100 ms of A-law
        (212.0, speech_started()),
    ]
    assert run_timed(timed, ops.barge_in()) == [truncate("i1", 100)]


def test_barge_in_honours_a_per_response_override_and_a_pin() -> None:
    timed = [
        (205.0, ga_session(PCM_WIRE)),
        (209.0, beta_created("r1", "g711_ulaw")),
        (210.0, audio_delta("i1", HALF_SECOND_G711)),
        (213.0, speech_started()),
    ]
    assert run_timed(timed, ops.barge_in()) == [truncate("i1", 500)]
    assert run_timed(timed, ops.barge_in(format=ops.PCM16)) == [truncate("i1", 83)]


def test_barge_in_tolerates_unknown_formats_and_releases_state() -> None:
    detector = BargeInDetector(lambda: TestScheduler().now)
    sink: list[ev.ClientEvent] = []
    for event in (
        ga_session(PCMU_WIRE),
        ga_session({"type": "audio/flac"}),
        ga_created("r1", {"type": "audio/flac"}),
        audio_delta("i1", HALF_SECOND_G711),
    ):
        detector.step(event, sink.append)
    assert detector.playback is not None and detector.playback.format == ops.PCMU
    assert detector.played_ms(detector.playback) == 0.0  # the clock did not move
    detector.step(done("r1"), sink.append)
    assert detector.formats.open_responses == 0
