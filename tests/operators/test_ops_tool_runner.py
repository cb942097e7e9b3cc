"""The tool runner against a session-shaped object (an Rx Subject and a recording send)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from ops_helpers import args_done, created, done, error, wire
from reactivex.subject import Subject

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime.sinks.tool_runner import run_tools, send_events


class FakeSession:
    def __init__(self) -> None:
        self.events: Subject[ev.ServerEvent] = Subject()
        self.sent: list[Any] = []
        self._changed = asyncio.Condition()

    async def send(self, event: Any) -> None:
        async with self._changed:
            self.sent.append(event)
            self._changed.notify_all()

    async def until_sent(self, n: int) -> list[Any]:
        async with asyncio.timeout(5):
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.sent) >= n)
        return self.sent

    def push(self, *events: ev.ServerEvent) -> None:
        for event in events:
            self.events.on_next(event)


def outputs(sent: list[Any]) -> dict[str, Any]:
    return {
        e.item.call_id: json.loads(e.item.output)
        if e.item.output.startswith(("{", "["))
        else e.item.output
        for e in sent
        if isinstance(e, ev.ConversationItemCreate)
    }


def kinds(sent: list[Any]) -> list[str]:
    return [e["type"] if isinstance(e, dict) else e.type for e in sent]


async def test_calls_are_answered_then_one_response_create() -> None:
    session = FakeSession()
    threads: list[str] = []

    def get_weather(city: str) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return {"city": city, "forecast": "sunny"}

    async def calculate(expression: str) -> str:
        return "4"

    runner = run_tools(session, {"get_weather": get_weather, "calculate": calculate})
    session.push(
        created("r1"),
        args_done("c1", '{"city": "Oslo"}', name="get_weather"),
        args_done("c2", '{"expression": "2 + 2"}', name="calculate", item="fc2"),
        done("r1"),
    )
    sent = await session.until_sent(3)
    assert kinds(sent) == ["conversation.item.create"] * 2 + ["response.create"]
    assert outputs(sent) == {"c1": {"city": "Oslo", "forecast": "sunny"}, "c2": "4"}
    assert threads and threads[0] != threading.main_thread().name  # sync tools ran off the loop
    stats = runner.statistics()
    assert (stats.calls_received, stats.calls_answered, stats.responses_requested) == (2, 2, 1)
    await runner.aclose()


async def test_unknown_raising_and_invalid_calls_get_error_outputs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = FakeSession()
    called: list[str] = []

    def broken(**kwargs: Any) -> None:
        called.append("broken")
        raise RuntimeError("disk on fire")

    runner = run_tools(session, {"broken": broken, "strict": lambda: called.append("strict")})
    session.push(
        created("r1"),
        args_done("c1", "{}", name="nope"),
        args_done("c2", "{}", name="broken", item="fc2"),
        args_done("c3", "{bad json", name="strict", item="fc3"),
        done("r1"),
    )
    sent = await session.until_sent(4)
    answers = outputs(sent)
    assert answers["c1"] == {"error": "unknown tool 'nope'"}
    assert answers["c2"] == {"error": "RuntimeError: disk on fire"}
    assert answers["c3"]["error"].startswith("invalid arguments: arguments are not valid JSON")
    assert called == ["broken"]  # the strict tool never ran with bad arguments
    assert kinds(sent)[-1] == "response.create" and kinds(sent).count("response.create") == 1
    assert runner.statistics().tool_errors == 3
    assert "disk on fire" in caplog.text
    await runner.aclose()


async def test_response_create_waits_for_slow_tools_and_other_active_responses() -> None:
    session = FakeSession()
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "done"

    runner = run_tools(session, {"slow": slow})
    session.push(created("r1"), args_done("c1", "{}", name="slow"), created("r2"), done("r1"))
    assert runner.statistics().responses_requested == 0
    release.set()
    await session.until_sent(1)
    assert kinds(session.sent) == ["conversation.item.create"]
    assert runner.statistics().responses_requested == 0  # r2 is still in progress
    session.push(done("r2"))
    sent = await session.until_sent(2)
    assert kinds(sent) == ["conversation.item.create", "response.create"]
    await runner.aclose()


async def test_rejected_response_create_is_retried_after_the_running_response() -> None:
    session = FakeSession()
    runner = run_tools(session, {"f": lambda: "ok"})
    session.push(created("r1"), args_done("c1", "{}", name="f"), done("r1"))
    await session.until_sent(2)
    # VAD started a response first: our response.create was refused.
    session.push(created("r2"), error("conversation_already_has_active_response"))
    assert runner.statistics().responses_requested == 1
    session.push(done("r2"))
    sent = await session.until_sent(3)
    assert kinds(sent) == ["conversation.item.create", "response.create", "response.create"]
    await runner.aclose()


async def test_a_cancelled_response_cancels_its_calls_and_sends_nothing() -> None:
    session = FakeSession()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    runner = run_tools(session, {"f": lambda: "ok", "slow": slow})
    session.push(
        created("r1"),
        args_done("c1", "{}", name="f"),
        args_done("c2", "{}", name="slow", item="fc2"),
    )
    await started.wait()
    session.push(done("r1", status="cancelled"))
    async with asyncio.timeout(5):
        await cancelled.wait()
    await runner.aclose()
    assert session.sent == []  # neither the finished call's output nor the slow one's
    stats = runner.statistics()
    assert (stats.calls_cancelled, stats.calls_answered, stats.responses_requested) == (2, 0, 0)


async def test_send_events_sends_in_order_and_stops_on_dispose() -> None:
    session = FakeSession()
    outgoing: Subject[Any] = Subject()
    handle = send_events(session, outgoing)
    for n in range(5):
        outgoing.on_next({"type": "response.cancel", "event_id": f"e{n}"})
    sent = await session.until_sent(5)
    assert [e["event_id"] for e in sent] == [f"e{n}" for n in range(5)]
    await handle.aclose()
    outgoing.on_next({"type": "response.cancel"})
    assert len(session.sent) == 5


async def test_an_abnormal_end_of_the_session_stops_the_runner_quietly() -> None:
    from rxrealtime.errors import ConnectionClosedError

    session = FakeSession()
    runner = run_tools(session, {"echo": lambda **kw: kw})
    closed = ConnectionClosedError(1011, "internal error")
    session.events.on_error(closed)  # raises out of on_error if the runner had no handler
    assert runner.session_error is closed
    assert session.events.observers == []
    await runner.aclose()


def done_with(response: str, **fields: Any) -> ev.ServerEvent:
    body = {"object": "realtime.response", "id": response, "status": "completed", "output": []}
    return wire("response.done", response={**body, **fields})


async def test_function_tools_are_declared_first_and_follow_ups_carry_the_options() -> None:
    session = FakeSession()

    @rr.tool
    def lookup(city: str) -> str:
        """Look a city up."""
        return city.upper()

    runner = run_tools(
        session, {"find": lookup, "raw": lambda: "raw"}, response={"metadata": {"app": "x"}}
    )
    await runner.declared()
    [update] = session.sent
    assert update["type"] == "session.update"
    [definition] = update["session"]["tools"]  # only FunctionTools are declared, under their key
    assert definition["name"] == "find" and definition["parameters"] == lookup.parameters
    session.push(
        created("r1"),
        args_done("c1", '{"city": "oslo"}', name="find"),
        done_with("r1", output_modalities=["text"]),
    )
    sent = await session.until_sent(3)
    assert outputs(sent) == {"c1": "OSLO"}
    request = sent[2]
    assert request["response"] == {
        "metadata": {"app": "x", "rxrealtime_follows": "r1"},
        "output_modalities": ["text"],  # the calling response's, since the options set none
    }
    await runner.aclose()


async def test_a_reconnect_redeclares_and_repeats_a_lost_request() -> None:
    session = FakeSession()

    @rr.tool
    def f() -> str:
        return "ok"

    runner = run_tools(session, [f])
    session.push(created("r1"), args_done("c1", "{}", name="f"), done("r1"))
    sent = await session.until_sent(3)
    assert kinds(sent) == ["session.update", "conversation.item.create", "response.create"]
    # the connection drops before the follow-up started: a reconnect ends the lost response
    session.push(rr.Reconnected(attempt=1, close_code=1006))
    sent = await session.until_sent(5)
    assert kinds(sent)[3:] == ["session.update", "response.create"]
    assert sent[4]["response"]["metadata"] == {"rxrealtime_follows": "r1"}
    assert runner.statistics().declarations == 2
    await runner.aclose()


async def test_calls_of_a_response_cut_off_by_a_reconnect_are_dropped() -> None:
    session = FakeSession()
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "late"

    runner = run_tools(session, {"slow": slow})
    session.push(created("r1"), args_done("c1", "{}", name="slow"))
    session.push(rr.ResponseInterrupted.for_response("r1", 1006))
    release.set()
    await runner.aclose()
    assert session.sent == [] and runner.statistics().calls_cancelled == 1


async def test_a_progress_response_never_overlaps_and_the_follow_up_waits_for_it() -> None:
    session = FakeSession()
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "done"

    runner = run_tools(session, {"slow": slow}, progress="Still working.", progress_after=0)
    session.push(created("r1"), args_done("c1", "{}", name="slow"), created("r2"), done("r1"))
    session.push(done("r2"))  # the progress request waited for r2
    [progress] = await session.until_sent(1)
    assert progress["response"] == {
        "conversation": "none",
        "instructions": "Still working.",
        "tool_choice": "none",
        "metadata": {"rxrealtime_progress": "r1"},
    }
    session.push(done_with("p1", metadata={"rxrealtime_progress": "r1"}))
    release.set()
    sent = await session.until_sent(3)
    assert kinds(sent)[1:] == ["conversation.item.create", "response.create"]
    assert runner.statistics().progress_responses == 1
    await runner.aclose()


async def test_disposing_at_once_leaves_nothing_waiting_for_the_declaration() -> None:
    session = FakeSession()

    @rr.tool
    def f() -> str:
        return "ok"

    runner = run_tools(session, [f])
    runner.dispose()  # before its sender ever ran
    async with asyncio.timeout(5):
        await runner.declared()
    assert session.sent == []
