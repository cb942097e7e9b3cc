"""Marble tests for of_type, text_only, accumulate_deltas and transcripts."""

from __future__ import annotations

import pytest
from ops_helpers import (
    args_delta,
    args_done,
    audio_delta,
    created,
    done,
    input_completed,
    input_delta,
    input_failed,
    text_delta,
    text_done,
    transcript_delta,
    transcript_done,
    wire,
)
from reactivex.testing import ReactiveTest, TestScheduler

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.operators import Accumulator

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed
on_error = ReactiveTest.on_error


def run(events: list[ev.ServerEvent], operator, *, complete_at: int = 900):  # type: ignore[no-untyped-def]
    scheduler = TestScheduler()
    messages = [on_next(210 + 10 * i, e) for i, e in enumerate(events)]
    source = scheduler.create_hot_observable(*messages, on_completed(complete_at))
    return scheduler.start(lambda: source.pipe(operator)).messages


def test_of_type_keeps_instances_and_beta_aliases() -> None:
    ga, beta, other = text_delta("i1", "a"), text_delta("i1", "b", beta=True), created()
    assert run([ga, other, beta], ops.of_type(ev.ResponseOutputTextDelta)) == [
        on_next(210, ga),
        on_next(230, beta),
        on_completed(900),
    ]
    assert run([ga, other], ops.of_type(ev.ResponseCreated, ev.ResponseOutputTextDelta)) == [
        on_next(210, ga),
        on_next(220, other),
        on_completed(900),
    ]


def test_of_type_rejects_nonsense() -> None:
    with pytest.raises(TypeError):
        ops.of_type()
    with pytest.raises(TypeError):
        ops.of_type("response.done")  # type: ignore[call-overload]


def test_text_only_selects_text_and_transcripts() -> None:
    events = [
        text_delta("i1", "Hel"),
        audio_delta("i2", b"\x00\x00"),
        transcript_delta("i2", "lo", beta=True),
        text_delta("i1", ""),
        text_delta("i1", "!", beta=True),
        input_delta("u1", "user words"),
    ]
    assert run(events, ops.text_only()) == [
        on_next(210, "Hel"),
        on_next(230, "lo"),
        on_next(250, "!"),
        on_completed(900),
    ]
    assert run(events, ops.text_only(transcripts=False)) == [
        on_next(210, "Hel"),
        on_next(250, "!"),
        on_completed(900),
    ]
    assert run(events, ops.text_only(transcripts="only")) == [on_next(230, "lo"), on_completed(900)]
    with pytest.raises(ValueError):
        ops.text_only(transcripts="sometimes")  # type: ignore[arg-type]


def acc(kind, item, delta, text, done, *, ci=0, response="r1", call_id=None):  # type: ignore[no-untyped-def]
    return ops.Accumulated(kind, item, ci, delta, text, done, response, call_id)


def test_accumulate_keeps_interleaved_parts_apart_and_uses_server_final() -> None:
    events = [
        text_delta("a", "He"),
        transcript_delta("b", "Yo", response="r2"),
        text_delta("a", "y", beta=True),
        text_delta("a", "x", ci=1),
        text_done("a", "Hey there"),
        transcript_done("b", "Yo", response="r2", beta=True),
        text_done("a", "x", ci=1),
    ]
    assert run(events, ops.accumulate_deltas()) == [
        on_next(210, acc("output_text", "a", "He", "He", False)),
        on_next(220, acc("output_audio_transcript", "b", "Yo", "Yo", False, response="r2")),
        on_next(230, acc("output_text", "a", "y", "Hey", False)),
        on_next(240, acc("output_text", "a", "x", "x", False, ci=1)),
        on_next(250, acc("output_text", "a", " there", "Hey there", True)),
        on_next(260, acc("output_audio_transcript", "b", "", "Yo", True, response="r2")),
        on_next(270, acc("output_text", "a", "", "x", True, ci=1)),
        on_completed(900),
    ]


def test_accumulate_server_final_wins_even_when_it_disagrees() -> None:
    events = [text_delta("a", "abc"), text_done("a", "xyz")]
    assert run(events, ops.accumulate_deltas()) == [
        on_next(210, acc("output_text", "a", "abc", "abc", False)),
        on_next(220, acc("output_text", "a", "", "xyz", True)),
        on_completed(900),
    ]


def test_accumulate_function_arguments_and_input_transcription() -> None:
    events = [
        args_delta("c1", '{"a"'),
        input_delta("u1", "hel"),
        args_delta("c1", ": 1}"),
        args_done("c1", '{"a": 1}', name="f"),
        input_completed("u1", "hello"),
    ]
    assert run(events, ops.accumulate_deltas()) == [
        on_next(210, acc("function_call_arguments", "fc1", '{"a"', '{"a"', False, call_id="c1")),
        on_next(220, acc("input_audio_transcription", "u1", "hel", "hel", False, response=None)),
        on_next(
            230, acc("function_call_arguments", "fc1", ": 1}", '{"a": 1}', False, call_id="c1")
        ),
        on_next(240, acc("function_call_arguments", "fc1", "", '{"a": 1}', True, call_id="c1")),
        on_next(250, acc("input_audio_transcription", "u1", "lo", "hello", True, response=None)),
        on_completed(900),
    ]
    only_args = run(events, ops.tool_call_arguments_partial())
    assert [m.value.value.kind for m in only_args[:-1]] == ["function_call_arguments"] * 3


def test_accumulate_releases_state() -> None:
    machine = Accumulator()
    out: list[ops.Accumulated] = []
    machine.step(text_delta("a", "x"), out.append)
    machine.step(text_delta("b", "y", response="r2"), out.append)
    machine.step(input_delta("u1", "z"), out.append)
    machine.step(input_delta("u2", "w"), out.append)
    assert machine.open_parts == 4
    machine.step(done("r1", status="cancelled"), out.append)  # a's .done never came
    assert machine.open_parts == 3
    machine.step(text_done("b", "y", response="r2"), out.append)
    machine.step(input_failed("u1"), out.append)
    machine.step(wire("conversation.item.deleted", item_id="u2"), out.append)
    assert machine.open_parts == 0
    assert len(out) == 5  # 4 deltas + b's done; the released parts emitted nothing more


def test_accumulate_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError):
        ops.accumulate_deltas(kinds=("output_text", "telepathy"))  # type: ignore[arg-type]


def test_transcripts_completed_only_or_with_deltas() -> None:
    events = [
        input_delta("u1", "Hel"),
        input_delta("u1", "lo"),
        input_completed("u1", "Hello"),
        input_failed("u2"),
        text_delta("a", "not the user"),
    ]
    final = acc("input_audio_transcription", "u1", "", "Hello", True, response=None)
    assert run(events, ops.transcripts()) == [on_next(230, final), on_completed(900)]
    with_deltas = run(events, ops.transcripts(deltas=True))
    assert [m.value.value.text for m in with_deltas[:-1]] == ["Hel", "Hello", "Hello"]


def test_errors_propagate_and_completion_follows_source() -> None:
    scheduler = TestScheduler()
    boom = RuntimeError("socket died")
    source = scheduler.create_hot_observable(
        on_next(210, text_delta("a", "x")), on_error(220, boom)
    )
    messages = scheduler.start(lambda: source.pipe(ops.accumulate_deltas())).messages
    assert messages == [on_next(210, acc("output_text", "a", "x", "x", False)), on_error(220, boom)]
    assert run([created(), done()], ops.text_only()) == [on_completed(900)]
