"""``rr.sinks.run_tools`` against the embedded server: declaring, answering, parallel and slow
calls with no dead air, timeouts, bad arguments, barge-in, follow-up options, progress and
reconnects. Every test waits on events (or on a tool's own signal), never on luck."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Sequence
from typing import Any, Literal

import pytest
from conftest import Open, collect, nth
from reactivex import operators as rx_ops

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.server import DefaultModel, Faults, Message, PlannedOutput, ResponseRequest
from rxrealtime.server import ToolCall as PlannedCall
from rxrealtime.server.audio import encode_text, silence

pytestmark = pytest.mark.timeout(60)


@rr.tool
def calculate(expression: str) -> str:
    """Evaluate arithmetic.

    Args:
        expression: Numbers and + - * /, e.g. "3 * 4".
    """
    left, op, right = expression.split()
    a, b = float(left), float(right)
    return f"{ {'+': a + b, '-': a - b, '*': a * b, '/': a / b}[op]:g}"


def user_text(text: str) -> ev.ConversationItemCreate:
    return ev.ConversationItemCreate.user_text(text)


async def test_tools_are_declared_and_their_calls_answered(open_session: Open) -> None:
    session = await open_session()
    updated = nth(session.events.pipe(ops.of_type(ev.SessionUpdated)))

    @rr.tool
    def get_weather(city: str, unit: Literal["c", "f"] = "c") -> dict[str, Any]:
        """Current weather for a city."""
        return {"city": city, "sky": "clear", "unit": unit}

    runner = rr.sinks.run_tools(session, [get_weather, calculate])
    declared = (await updated).session
    assert isinstance(declared, ev.RealtimeSessionConfig)
    assert [ev.to_dict(t) for t in declared.tools or ()] == [
        get_weather.definition,
        calculate.definition,
    ]

    answer = await session.ask("What is 3 times 4?", output="text")
    assert answer.text == "Here is the result from calculate: 12"
    [call] = answer.tool_calls
    assert (call.name, call.arguments) == ("calculate", {"expression": "3 * 4"})
    assert len(answer.previous) == 1 and answer.previous[0].status == "completed"

    answer = await session.ask("What's the weather in Oslo?", output="text")
    assert json.loads(answer.text.split(": ", 1)[1]) == {"city": "Oslo", "sky": "clear",
                                                          "unit": "c"}  # fmt: skip
    stats = runner.statistics()
    assert (stats.declarations, stats.calls_received, stats.calls_answered) == (1, 2, 2)
    assert (stats.responses_requested, stats.tool_errors, stats.calls_running) == (2, 0, 0)
    assert session.problems == []  # type: ignore[attr-defined]
    await runner.aclose()


async def test_parallel_slow_calls_run_concurrently_and_leave_no_dead_air(
    open_session: Open,
) -> None:
    session = await open_session()
    started: list[str] = []
    both_started, release = asyncio.Event(), asyncio.Event()

    @rr.tool
    async def get_weather(city: str) -> dict[str, str]:
        """Current weather for a city."""
        started.append(city)
        if len(started) == 2:
            both_started.set()
        await release.wait()
        return {"city": city, "sky": "clear"}

    timeline = collect(session.events.pipe(ops.of_type(ev.ConversationItemAdded,
                                                        ev.ResponseCreated)))  # fmt: skip
    runner = rr.sinks.run_tools(session, [get_weather])
    asking = asyncio.ensure_future(
        session.ask("What is the weather in Paris and in Rome?", output="text")
    )
    await both_started.wait()  # two calls of one response, running at the same time
    assert sorted(started) == ["Paris", "Rome"]

    # While both tools wait, the session lives on: another response streams audio to the end.
    spoken = await session.ask("hello", output="audio")
    assert spoken.transcript == "Hello! How can I help you today?" and spoken.audio
    assert not release.is_set() and runner.statistics().calls_running == 2
    assert runner.statistics().responses_requested == 0  # nothing asked while tools run

    release.set()
    answer = await asking
    assert answer.text.startswith("Here is the result from get_weather")
    assert [c.arguments for c in answer.tool_calls] == [{"city": "Paris"}, {"city": "Rome"}]
    # both outputs are in the conversation before the one follow-up starts
    outputs = [
        i
        for i, e in enumerate(timeline)
        if isinstance(e, ev.ConversationItemAdded) and isinstance(e.item, ev.FunctionCallOutput)
    ]
    [follow_up] = [
        i
        for i, e in enumerate(timeline)
        if isinstance(e, ev.ResponseCreated) and e.response and e.response.id == answer.id
    ]
    assert len(outputs) == 2 and max(outputs) < follow_up
    metadata = timeline[follow_up].response.metadata  # type: ignore[union-attr]
    assert metadata == {"rxrealtime_follows": answer.previous[0].id}
    assert runner.statistics().responses_requested == 1
    assert session.problems == []  # type: ignore[attr-defined]
    await runner.aclose()


async def test_a_blocking_sync_tool_holds_a_thread_not_the_loop(open_session: Open) -> None:
    session = await open_session()
    entered, release = threading.Event(), threading.Event()
    threads: list[str] = []

    @rr.tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        threads.append(threading.current_thread().name)
        entered.set()
        release.wait(30)
        return f"sunny in {city}"

    runner = rr.sinks.run_tools(session, [get_weather, calculate])
    asking = asyncio.ensure_future(session.ask("weather in Oslo and 2 + 2", output="text"))
    await asyncio.to_thread(entered.wait, 30)
    assert threads[0] != threading.main_thread().name
    # the loop is free: a whole text answer arrives while the sync tool blocks its thread
    assert (await session.ask("hi")).text == "Hello! How can I help you today?"
    assert not asking.done()
    release.set()
    answer = await asking
    assert [c.name for c in answer.tool_calls] == ["get_weather", "calculate"]
    assert answer.text == "Here is the result from calculate: 4"
    await runner.aclose()


async def test_a_tool_that_overruns_is_answered_with_a_timeout_error(open_session: Open) -> None:
    session = await open_session()
    cancelled = asyncio.Event()

    @rr.tool(timeout=0.2)
    async def get_weather(city: str) -> str:
        """Current weather for a city."""
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return "never"

    runner = rr.sinks.run_tools(session, [get_weather])
    answer = await session.ask("What's the weather in Oslo?", output="text")
    assert answer.text == (
        'Here is the result from get_weather: {"error": "get_weather did not finish within 0.2 '
        'seconds"}'
    )
    assert cancelled.is_set()  # the async tool was cancelled at its deadline
    stats = runner.statistics()
    assert (stats.calls_timed_out, stats.tool_errors, stats.calls_answered) == (1, 1, 1)
    await runner.aclose()


async def test_bad_arguments_become_an_error_output_the_model_reads(open_session: Open) -> None:
    session = await open_session()
    ran: list[int] = []

    @rr.tool(name="calculate")
    def strict_calculate(expression: int) -> int:
        """Takes a number, while the model sends a string."""
        ran.append(expression)
        return expression

    runner = rr.sinks.run_tools(session, [strict_calculate])
    answer = await session.ask("What is 3 * 4?", output="text")
    assert json.loads(answer.text.split(": ", 1)[1]) == {
        "error": 'invalid arguments for calculate: expression: expected an integer, got "3 * 4"'
    }
    assert ran == [] and runner.statistics().tool_errors == 1
    assert session.problems == []  # type: ignore[attr-defined]
    await runner.aclose()


class CallThenTalk(DefaultModel):
    """First response: a call of ``slow_lookup`` and then a long spoken message (so the user
    can barge in while it plays); later responses: the default model's."""

    def __init__(self) -> None:
        self.responses = 0

    async def respond(self, request: ResponseRequest) -> Sequence[PlannedOutput]:
        self.responses += 1
        if self.responses == 1:
            return [PlannedCall("slow_lookup", "{}"), Message("Let me look that up. " * 40)]
        return [Message("Okay.")]


async def test_barge_in_cancels_the_calls_of_the_interrupted_response(open_session: Open) -> None:
    session = await open_session(realtime_audio=True, model=CallThenTalk())
    started, cancelled = asyncio.Event(), asyncio.Event()

    @rr.tool
    async def slow_lookup() -> str:
        """Look something up (slowly)."""
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    items = collect(session.events.pipe(ops.of_type(ev.ConversationItemAdded)))
    summaries = session.events.pipe(ops.responses())
    first, second = nth(summaries, 1), nth(summaries, 2)
    first_audio = nth(session.events.pipe(ops.audio_chunks()), 3)
    runner = rr.sinks.run_tools(session, [slow_lookup])
    await runner.declared()
    await session.send(user_text("look it up"))
    await session.send(ev.ResponseCreate())
    await started.wait()
    await first_audio  # the long message is playing
    speech = encode_text("stop") + silence(800)  # the user talks over it: server VAD
    await session.send(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(speech).decode()}
    )
    interrupted = await first
    assert interrupted.status == "cancelled"
    assert interrupted.status_details.reason == "turn_detected"
    async with asyncio.timeout(10):
        await cancelled.wait()
    assert (await second).transcript == "Okay."  # the user's new turn is answered
    assert not any(isinstance(e.item, ev.FunctionCallOutput) for e in items)
    stats = runner.statistics()
    assert (stats.calls_cancelled, stats.calls_answered, stats.responses_requested) == (1, 0, 0)
    await runner.aclose()


async def test_the_follow_up_of_a_text_question_is_text(open_session: Open) -> None:
    session = await open_session()  # the session's default output is audio
    runner = rr.sinks.run_tools(session, [calculate])
    answer = await session.ask("What is 2 + 5?", output="text")
    assert answer.text == "Here is the result from calculate: 7"
    assert (answer.transcript, answer.audio) == ("", b"")
    assert list(answer.response.output_modalities) == ["text"]

    spoken = await session.ask("What is 2 + 6?", output="audio")
    assert spoken.transcript == "Here is the result from calculate: 8" and spoken.audio
    await runner.aclose()


async def test_follow_up_options_are_the_runners(open_session: Open) -> None:
    session = await open_session()
    summaries = session.events.pipe(ops.responses())
    calls, follow_up = nth(summaries, 1), nth(summaries, 2)
    runner = rr.sinks.run_tools(
        session,
        [calculate],
        response={
            "output_modalities": ["text"],
            "instructions": "Answer in uppercase.",
            "metadata": {"app": "demo"},
        },
    )
    await runner.declared()  # a request of our own must not overtake the declaration
    await session.send(user_text("What is 6 * 7?"))
    await session.send(ev.ResponseCreate())  # the session default: audio
    first = await calls
    answer = await follow_up
    assert answer.text == "HERE IS THE RESULT FROM CALCULATE: 42"
    assert list(answer.response.output_modalities) == ["text"]
    assert answer.response.metadata == {"app": "demo", "rxrealtime_follows": first.id}
    await runner.aclose()


async def test_without_a_response_the_outputs_go_out_alone(open_session: Open) -> None:
    session = await open_session()
    output_added = nth(
        session.events.pipe(
            ops.of_type(ev.ConversationItemAdded),
            rx_ops.filter(lambda e: isinstance(e.item, ev.FunctionCallOutput)),
        )
    )
    created = collect(session.events.pipe(ops.of_type(ev.ResponseCreated)))
    runner = rr.sinks.run_tools(session, [calculate], response=None)
    answer = await session.ask("What is 9 - 4?", output="text")  # ends with the call
    [call] = answer.tool_calls
    assert answer.previous == () and answer.text == ""
    output = (await output_added).item
    assert isinstance(output, ev.FunctionCallOutput)
    assert (output.call_id, output.output) == (call.call_id, "5")
    later = await session.ask("hello", output="text")
    assert later.text == "Hello! How can I help you today?"
    assert len(created) == 2  # the call's response and "hello": no follow-up in between
    assert runner.statistics().responses_requested == 0
    await runner.aclose()


async def test_a_progress_response_while_a_tool_runs(open_session: Open) -> None:
    session = await open_session()
    release = asyncio.Event()

    @rr.tool
    async def get_weather(city: str) -> str:
        """Current weather for a city."""
        await release.wait()
        return f"sunny in {city}"

    created = collect(session.events.pipe(ops.of_type(ev.ResponseCreated)))
    progress_done = nth(
        session.events.pipe(ops.responses()), 2
    )  # the call's response, then the progress response
    runner = rr.sinks.run_tools(
        session, [get_weather], progress="Tell the user you are still working.", progress_after=0
    )
    asking = asyncio.ensure_future(session.ask("weather in Oslo", output="text"))
    progress = await progress_done
    assert progress.response.metadata == {"rxrealtime_progress": created[0].response.id}
    assert progress.text  # the model said something while the tool runs
    assert not asking.done() and runner.statistics().responses_requested == 0
    release.set()
    answer = await asking
    assert answer.text == "Here is the result from get_weather: sunny in Oslo"
    assert [e.response.metadata for e in created][1:] == [
        {"rxrealtime_progress": created[0].response.id},
        {"rxrealtime_follows": created[0].response.id},
    ]
    assert runner.statistics().progress_responses == 1
    await runner.aclose()


async def test_tools_are_declared_again_after_a_reconnect(open_session: Open) -> None:
    # session.created is event 1 and the runner's session.updated event 2: then the drop
    session = await open_session(
        faults=Faults(drop_after=2, connections=1),
        reconnect=rr.ReconnectPolicy(initial_delay=0.01, max_delay=0.01),
    )
    reconnected = nth(session.events.pipe(ops.of_type(rr.Reconnected)))
    runner = rr.sinks.run_tools(session, [calculate])
    marker = await reconnected
    assert marker.close_code == 1006
    assert runner.statistics().declarations == 2  # at the marker, synchronously
    answer = await session.ask("What is 1 + 2?", output="text")
    assert answer.text == "Here is the result from calculate: 3"
    await runner.aclose()
