"""tool_calls, responses, per_response, usage, latency, errors and raise_on_error."""

from __future__ import annotations

from datetime import timedelta

import pytest
import reactivex
from ops_helpers import (
    args_delta,
    args_done,
    audio_delta,
    created,
    done,
    error,
    function_call_item,
    item_added,
    speech_stopped,
    text_delta,
    text_done,
    transcript_delta,
    transcript_done,
    wire,
)
from reactivex import operators as rx_ops
from reactivex.testing import ReactiveTest, TestScheduler

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.operators import ToolCallAssembler

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed
on_error = ReactiveTest.on_error


def run(events, operator, *, complete_at=900, times=None):  # type: ignore[no-untyped-def]
    scheduler = TestScheduler()
    times = times or [210 + 10 * i for i in range(len(events))]
    source = scheduler.create_hot_observable(
        *[on_next(t, e) for t, e in zip(times, events, strict=True)], on_completed(complete_at)
    )
    return scheduler.start(lambda: source.pipe(operator)).messages


def values(messages):  # type: ignore[no-untyped-def]
    return [m.value.value for m in messages if m.value.kind == "N"]


# -- tool_calls ---------------------------------------------------------------------------------


def test_tool_calls_assembled_with_names_from_item_added() -> None:
    events = [
        item_added(function_call_item("fc1", "c1", "get_weather")),
        args_delta("c1", '{"city": '),
        args_delta("c1", '"Oslo"}'),
        args_done("c1", '{"city": "Oslo"}'),  # beta shape: no name on .done
    ]
    call = ops.ToolCall("c1", "get_weather", "fc1", "r1", '{"city": "Oslo"}', {"city": "Oslo"})
    assert run(events, ops.tool_calls()) == [on_next(240, call), on_completed(900)]


def test_tool_calls_report_invalid_json_instead_of_failing() -> None:
    events = [
        args_done("c1", '{"city": ', name="get_weather"),
        args_done("c2", "[1, 2]", name="f", item="fc2"),
        args_done("c3", "", name="noargs", item="fc3"),
    ]
    bad, not_object, empty = values(run(events, ops.tool_calls()))
    assert bad.arguments == {} and bad.error is not None and "not valid JSON" in bad.error
    assert bad.arguments_json == '{"city": ' and bad.name == "get_weather"
    assert not_object.error == "arguments are JSON list, not an object"
    assert (empty.arguments, empty.error) == ({}, None)


def test_tool_calls_from_response_done_when_done_event_missing() -> None:
    item = function_call_item("fc9", "c9", "calculate", '{"expression": "2+2"}', "completed")
    events = [
        args_done("c1", "{}", name="get_weather"),
        done(
            "r1", output=[function_call_item("fc1", "c1", "get_weather", "{}", "completed"), item]
        ),
    ]
    first, second = values(run(events, ops.tool_calls()))
    assert first.call_id == "c1"  # not repeated at response.done
    assert (second.call_id, second.name, second.item_id, second.arguments) == (
        "c9",
        "calculate",
        "fc9",
        {"expression": "2+2"},
    )


def test_tool_call_state_released() -> None:
    machine = ToolCallAssembler()
    out: list[ops.ToolCall] = []
    machine.step(item_added(function_call_item("fc1", "c1", "f")), out.append)
    machine.step(item_added(function_call_item("fc2", "c2", "g"), response="r2"), out.append)
    machine.step(args_done("c1", "{}"), out.append)
    assert machine.open_state == 2  # c2's name + r1's emitted set
    machine.step(done("r1"), out.append)
    machine.step(
        done(
            "r2",
            status="cancelled",
            output=[function_call_item("fc2", "c2", "g", "", "incomplete")],
        ),
        out.append,
    )
    assert machine.open_state == 0
    assert [c.call_id for c in out] == ["c1", "c2"]


# -- responses / per_response -----------------------------------------------------------------


def test_responses_summarise_text_transcript_and_timing() -> None:
    usage = {"total_tokens": 9, "input_tokens": 4, "output_tokens": 5}
    events = [
        created("r1"),
        text_delta("a", "Hi", response="r1"),
        text_delta("b", "second", response="r1"),
        text_done("a", "Hi!", response="r1"),
        transcript_delta("c", "spoken", response="r1"),
        transcript_done("c", "spoken words", response="r1"),
        done("r1", usage=usage),
    ]
    times = [210, 250, 260, 270, 280, 290, 400]
    [summary] = values(run(events, ops.responses(), times=times))
    assert (summary.id, summary.status, summary.text, summary.transcript) == (
        "r1",
        "completed",
        "Hi!second",
        "spoken words",
    )
    assert summary.usage.total_tokens == 9
    assert summary.first_delta_at - summary.created_at == timedelta(seconds=40)
    assert summary.done_at - summary.created_at == timedelta(seconds=190)


def test_responses_done_without_created() -> None:
    [summary] = values(run([done("r7", status="failed")], ops.responses()))
    assert (summary.id, summary.status, summary.created_at, summary.text) == (
        "r7",
        "failed",
        None,
        "",
    )


def test_per_response_windows() -> None:
    events = [
        created("r1"),
        text_delta("a", "x", response="r1"),
        wire("rate_limits.updated", rate_limits=[]),
        done("r1"),
        text_delta("z", "stray", response="r1"),  # after done: no window
        created("r2"),
        done("r2"),
    ]
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(
        *[on_next(210 + 10 * i, e) for i, e in enumerate(events)], on_completed(900)
    )

    def create():  # type: ignore[no-untyped-def]
        return source.pipe(
            ops.per_response(),
            rx_ops.flat_map(lambda w: w.pipe(rx_ops.to_list(), rx_ops.map(lambda xs: (w.key, xs)))),
        )

    results = values(scheduler.start(create).messages)
    assert [key for key, _ in results] == ["r1", "r2"]
    assert [type(e).__name__ for e in results[0][1]] == [
        "ResponseCreated",
        "ResponseOutputTextDelta",
        "RateLimitsUpdated",
        "ResponseDone",
    ]
    assert len(results[1][1]) == 2


def test_per_response_completes_open_windows_with_source() -> None:
    got: list[object] = []
    reactivex.of(created("r1"), text_delta("a", "x")).pipe(
        ops.per_response(), rx_ops.merge_all(), rx_ops.to_list()
    ).subscribe(got.append)
    assert len(got[0]) == 2  # type: ignore[arg-type]


def test_per_response_keeps_a_duplicated_created_in_its_window() -> None:
    # a repeated frame (proxies and the fault injector duplicate events) opens no second window,
    # so every window still ends and a flattened pipeline completes
    got: list[object] = []
    completed: list[bool] = []
    reactivex.of(created("r1"), created("r1"), text_delta("a", "x", response="r1")).pipe(
        ops.per_response(), rx_ops.map(lambda w: w.key), rx_ops.to_list()
    ).subscribe(got.append)
    reactivex.of(created("r1"), created("r1"), done("r1")).pipe(
        ops.per_response(), rx_ops.merge_all()
    ).subscribe(on_completed=lambda: completed.append(True))
    assert got == [["r1"]]
    assert completed == [True]


# -- usage ------------------------------------------------------------------------------------


def test_usage_running_totals_and_cost() -> None:
    first = {
        "total_tokens": 300,
        "input_tokens": 200,
        "output_tokens": 100,
        "input_token_details": {
            "text_tokens": 120,
            "audio_tokens": 70,
            "image_tokens": 10,
            "cached_tokens": 50,
            "cached_tokens_details": {"text_tokens": 40, "audio_tokens": 10, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": 30, "audio_tokens": 70},
    }
    second = {
        "total_tokens": 10,
        "input_tokens": 6,
        "output_tokens": 4,
        "input_token_details": "[Object]",
        "output_token_details": "[Object]",
    }
    prices = ops.Prices(
        input_text=4,
        output_text=16,
        input_audio=32,
        output_audio=64,
        input_image=5,
        cached_input_text=0.4,
        cached_input_audio=0.4,
    )
    events = [done("r1", usage=first), done("r0"), done("r2", usage=second)]
    a, b = values(run(events, ops.usage(prices)))
    assert (a.responses, a.input_text, a.input_audio, a.input_image, a.cached_tokens) == (
        1,
        120,
        70,
        10,
        50,
    )
    assert (a.output_text, a.output_audio) == (30, 70)
    expected = (80 * 4 + 40 * 0.4 + 60 * 32 + 10 * 0.4 + 10 * 5 + 30 * 16 + 70 * 64) / 1e6
    assert a.cost == pytest.approx(expected)
    assert (b.responses, b.total_tokens, b.input_text) == (2, 310, 120)
    assert values(run(events, ops.usage()))[0].cost is None


# -- latency ----------------------------------------------------------------------------------


def test_latency_in_virtual_time() -> None:
    events = [
        speech_stopped(),
        created("r1"),
        transcript_delta("a", "hi", response="r1"),
        audio_delta("a", b"\x00\x00", response="r1"),
        done("r1"),
        created("r2"),
        done("r2"),
    ]
    times = [210, 211, 213, 214, 219, 230, 235]
    first, second = values(run(events, ops.latency(), times=times))
    assert first == ops.Latency("r1", 4000.0, 2000.0, 8000.0)
    assert second == ops.Latency("r2", None, None, 5000.0)


# -- errors / raise_on_error ------------------------------------------------------------------


def test_errors_as_data() -> None:
    bad = ev.decode("{not json")
    unknown = ev.decode('{"type": "brand.new.event"}')
    err = error("invalid_value")
    events = [created(), err, bad, unknown]
    assert values(run(events, ops.errors())) == [err, bad]
    assert values(run(events, ops.errors(unknown=True))) == [err, bad, unknown]


def test_raise_on_error_turns_error_event_into_typed_exception() -> None:
    err = error("invalid_value", "Invalid value: 'nope'")
    messages = run([created(), err, done()], ops.raise_on_error())
    assert messages[0] == on_next(210, created())
    assert messages[1].value.kind == "E" and len(messages) == 2
    exc = messages[1].value.exception
    assert isinstance(exc, ops.RealtimeServerError)
    assert (exc.code, exc.type, exc.message) == (
        "invalid_value",
        "invalid_request_error",
        "Invalid value: 'nope'",
    )
    assert "invalid_value" in str(exc)


def test_raise_on_error_filters_codes() -> None:
    err = error("conversation_already_has_active_response")
    assert values(run([err, done()], ops.raise_on_error(ignore=[err.error.code]))) == [err, done()]
    assert len(values(run([err], ops.raise_on_error(codes=["invalid_api_key"])))) == 1
