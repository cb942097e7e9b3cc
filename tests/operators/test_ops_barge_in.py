"""barge_in and stop_audio_on_speech in virtual time."""

from __future__ import annotations

from ops_helpers import audio_delta, audio_done, created, done, speech_started, text_delta
from reactivex.testing import ReactiveTest, TestScheduler

from rxrealtime import events as ev
from rxrealtime import operators as ops

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed

HALF_SECOND = b"\x00\x01" * 12000  # 500 ms of PCM16 at 24 kHz


def run(timed, operator):  # type: ignore[no-untyped-def]
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(*[on_next(t, e) for t, e in timed], on_completed(900))
    return [
        m.value.value
        for m in scheduler.start(lambda: source.pipe(operator)).messages
        if m.value.kind == "N"
    ]


def truncate(item: str, ms: int, ci: int = 0) -> ev.ConversationItemTruncate:
    return ev.ConversationItemTruncate(item_id=item, content_index=ci, audio_end_ms=ms)


def test_truncates_at_the_audio_played_by_the_clock() -> None:
    timed = [
        (209.0, created()),
        (210.0, audio_delta("i1", HALF_SECOND)),
        (210.2, audio_delta("i1", HALF_SECOND)),
        (210.3, speech_started()),
        (210.4, audio_delta("i1", HALF_SECOND)),
        (211.0, speech_started()),  # the part was interrupted already: nothing more
    ]
    assert run(timed, ops.barge_in()) == [truncate("i1", 300)]


def test_clamps_to_audio_received() -> None:
    timed = [(210.0, audio_delta("i1", HALF_SECOND)), (212.0, speech_started())]
    assert run(timed, ops.barge_in()) == [truncate("i1", 500)]  # still streaming: 2 s > 500 ms


def test_finished_playback_is_not_interrupted_but_unplayed_tail_is() -> None:
    base = [
        (210.0, created()),
        (210.0, audio_delta("i1", HALF_SECOND)),
        (210.1, audio_delta("i1", HALF_SECOND)),
        (210.2, audio_done("i1")),
        (210.3, done()),
    ]
    assert run([*base, (215.0, speech_started())], ops.barge_in()) == []
    assert run([*base, (210.75, speech_started())], ops.barge_in()) == [truncate("i1", 750)]


def test_playback_position_callback_wins_and_is_clamped() -> None:
    timed = [(210.0, audio_delta("i7", HALF_SECOND, ci=1)), (210.4, speech_started())]
    positions: dict[tuple[str, int], float | None] = {("i7", 1): 120.6}
    operator = ops.barge_in(playback_position=lambda item, ci: positions[(item, ci)])
    assert run(timed, operator) == [truncate("i7", 120, ci=1)]
    positions[("i7", 1)] = 9000.0
    assert run(timed, operator) == [truncate("i7", 500, ci=1)]
    positions[("i7", 1)] = None  # unknown: fall back to the clock
    assert run(timed, operator) == [truncate("i7", 400, ci=1)]


def test_cancel_and_clear_are_opt_in_and_only_for_active_responses() -> None:
    operator = ops.barge_in(cancel_response=True, clear_output_audio=True)
    active = [
        (210.0, created()),
        (210.0, audio_delta("i1", HALF_SECOND)),
        (210.1, speech_started()),
    ]
    assert run(active, operator) == [
        truncate("i1", 100),
        ev.ResponseCancel(response_id="r1"),
        ev.OutputAudioBufferClear(),
    ]
    finished = [*active[:2], (210.05, done()), (210.1, speech_started())]
    assert run(finished, operator) == [truncate("i1", 100), ev.OutputAudioBufferClear()]


def test_a_new_part_replaces_the_one_playing() -> None:
    timed = [
        (210.0, audio_delta("i1", HALF_SECOND)),
        (210.1, audio_delta("i2", HALF_SECOND, response="r2")),
        (210.3, speech_started()),
    ]
    assert run(timed, ops.barge_in()) == [truncate("i2", 200)]


def test_stop_audio_on_speech_drops_the_rest_of_interrupted_parts() -> None:
    a1, a2 = audio_delta("i1", b"\x00\x01"), audio_delta("i1", b"\x00\x02")
    later = audio_delta("i2", b"\x00\x03", response="r2")
    timed = [
        (210.0, a1),
        (211.0, speech_started()),
        (212.0, a2),
        (212.5, text_delta("t", "words still flow")),
        (213.0, audio_done("i1")),
        (214.0, later),  # a part that starts after the speech plays
    ]
    out = run(timed, ops.stop_audio_on_speech())
    assert a2 not in out and a1 in out and later in out and len(out) == 5
    chunks = run(timed, lambda s: s.pipe(ops.stop_audio_on_speech(), ops.audio_chunks()))
    assert [c.item_id for c in chunks] == ["i1", "i2"]
