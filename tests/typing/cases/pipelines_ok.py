"""Pipelines whose types a checker must carry through (checked, never run: see test_typing.py)."""

from __future__ import annotations

from typing import Any, Literal, assert_type

from reactivex import Observable
from reactivex import operators as rx_ops

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.session import Answer
from rxrealtime.sinks import ToolRunner


@rr.tool
def get_weather(city: str, unit: Literal["c", "f"] = "c") -> dict[str, Any]:
    """Current weather."""
    return {"city": city, "unit": unit}


def response_of(done: ev.ResponseDone) -> ev.Response | None:
    return done.response


async def pipelines(session: rr.RealtimeSession) -> None:
    assert_type(session.events.pipe(ops.of_type(ev.ResponseDone)), Observable[ev.ResponseDone])
    assert_type(
        session.events.pipe(ops.of_type(ev.ResponseCreated, ev.ResponseDone)),
        Observable[ev.ResponseCreated | ev.ResponseDone],
    )
    assert_type(session.events.pipe(ops.text_only()), Observable[str])
    assert_type(
        session.events.pipe(ops.of_type(ev.ResponseDone), ops.responses()),
        Observable[ops.ResponseSummary],
    )
    statuses = session.events.pipe(ops.of_type(ev.ResponseDone), rx_ops.map(response_of))
    assert_type(statuses, Observable[ev.Response | None])
    assert_type(session.events.pipe(ops.tool_calls()), Observable[ops.ToolCall])


async def answers(session: rr.RealtimeSession, replay: rr.ReplaySession) -> None:
    answer = await session.ask("What is 6 * 7?", output="text")
    assert_type(answer, Answer)
    assert_type(answer.text, str)
    assert_type(answer.audio, bytes)
    assert_type(await replay.ask("hi"), Answer)
    async for words in session.ask("Tell me a story", output="audio"):
        assert_type(words, str)


def tools(session: rr.RealtimeSession) -> None:
    assert_type(get_weather("Paris"), dict[str, Any])
    assert_type(get_weather.name, str)
    assert_type(get_weather.parameters, dict[str, Any])
    runner = rr.sinks.run_tools(session, [get_weather], response={"output_modalities": ["text"]})
    assert_type(runner, ToolRunner)
