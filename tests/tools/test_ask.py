"""``session.ask``: one-call answers in text and audio against the embedded server, as an
iterator of deltas, beside other subscribers and requests, with tools, and on replay sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import Open, collect, nth

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.errors import ConnectionClosedOK
from rxrealtime.server import DefaultModel, PlannedOutput, ResponseRequest, decode_tones
from rxrealtime.session import Answer

pytestmark = pytest.mark.timeout(60)


@rr.tool
def calculate(expression: str) -> str:
    """Evaluate arithmetic."""
    left, _, right = expression.split()
    return str(int(left) * int(right))


async def test_a_text_answer(open_session: Open) -> None:
    session = await open_session()
    answer = await session.ask("What is 6 * 7?", output="text")
    assert isinstance(answer, Answer) and isinstance(answer, ops.ResponseSummary)
    assert answer.text == "6 * 7 = 42."
    assert (answer.status, answer.transcript, answer.audio, answer.tool_calls) == (
        "completed", "", b"", ()
    )  # fmt: skip
    assert answer.usage.total_tokens > 0
    assert answer.asked_at is not None and answer.created_at is not None
    assert answer.first_delta_at is not None
    assert answer.asked_at <= answer.created_at <= answer.first_delta_at <= answer.done_at
    assert list(answer.response.output_modalities) == ["text"]
    assert session.problems == []  # type: ignore[attr-defined]


async def test_a_spoken_answer_with_its_audio(open_session: Open) -> None:
    session = await open_session()
    answer = await session.ask("hello", output="audio", instructions="Be nice.")
    assert answer.transcript == "Hello! How can I help you today?" and answer.text == ""
    assert decode_tones(answer.audio) == answer.transcript.lower()  # the server's tone voice
    assert "bytes>" in repr(answer) and "\\x" not in repr(answer)


async def test_streaming_the_deltas(open_session: Open) -> None:
    session = await open_session(realtime_audio=True, text_delta_interval=0.001)
    asking = session.ask("hello")
    words = [delta async for delta in asking]
    assert len(words) > 1
    answer = await asking  # the same answer, at once
    assert "".join(words) == answer.text == "Hello! How can I help you today?"
    assert asking.answer is answer

    spoken = [delta async for delta in session.ask("What is 2 + 2?", output="audio")]
    assert "".join(spoken) == "2 + 2 = 4."


async def test_asking_beside_other_subscribers_and_a_running_response(open_session: Open) -> None:
    session = await open_session(realtime_audio=True)
    summaries = collect(session.events.pipe(ops.responses()))
    words = collect(session.events.pipe(ops.text_only(transcripts="only")))
    started = nth(session.events.pipe(ops.of_type(ev.ResponseCreated)))
    refused = nth(session.events.pipe(ops.errors()))
    # a long spoken response is running when the question comes
    await session.send(ev.ConversationItemCreate.user_text("tell me a long story about the sea"))
    await session.send(ev.ResponseCreate())
    await started
    answer = await session.ask("What is 3 * 3?", output="text")
    problem = await refused  # the service's race: benign, the request is sent again
    assert isinstance(problem, ev.ErrorEvent) and problem.error is not None
    assert problem.error.code == "conversation_already_has_active_response"
    assert answer.text == "3 * 3 = 9."
    assert [s.id for s in summaries] == [summaries[0].id, answer.id]  # the story ended first
    assert summaries[0].transcript == "".join(words)  # the other subscribers saw it all


async def test_an_answer_that_used_tools(open_session: Open) -> None:
    session = await open_session()
    runner = rr.sinks.run_tools(session, [calculate])
    answer = await session.ask("What is 6 * 7?")
    assert answer.text == "Here is the result from calculate: 42"
    [call] = answer.tool_calls
    assert call.arguments == {"expression": "6 * 7"}
    [calls] = answer.previous
    assert calls.output[0].call_id == call.call_id
    await runner.aclose()
    # without a runner that follows up, the answer is the response with the calls
    own = await session.ask("What is 2 * 4?", follow_tools=False)
    assert own.text == "" and [c.name for c in own.tool_calls] == ["calculate"]


class Stalled(DefaultModel):
    """A model that thinks until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def respond(self, request: ResponseRequest) -> Sequence[PlannedOutput]:
        await self.release.wait()
        return await super().respond(request)


async def test_errors_timeouts_and_the_end_of_the_session(open_session: Open) -> None:
    model = Stalled()
    session = await open_session(model=model)
    with pytest.raises(TimeoutError):
        await session.ask("hello", timeout=0.2)
    model.release.set()
    with pytest.raises(ValueError, match="output"):
        session.ask("hello", output="video")  # type: ignore[arg-type]
    other = await open_session()
    with pytest.raises(ops.RealtimeServerError, match="max_output_tokens") as raised:
        await other.ask("hello", response={"max_output_tokens": 100_000})
    assert raised.value.client_event_id is not None
    assert raised.value.client_event_id.startswith("rxrealtime_ask_")
    asking = asyncio.ensure_future(other.ask("hello", response={"conversation": "none"},
                                             timeout=30))  # fmt: skip
    await other.close()
    with pytest.raises(ConnectionClosedOK):
        await asking


async def test_asking_a_replay_session(open_session: Open, tmp_path: Path) -> None:
    tools, hello = tmp_path / "tools.jsonl", tmp_path / "hello.jsonl"
    live = await open_session(recorder=rr.sinks.Recorder(tools))
    runner = rr.sinks.run_tools(live, [calculate])
    recorded_tool_answer = await live.ask("What is 5 * 5?")
    await runner.aclose()
    await live.close()
    live = await open_session(recorder=rr.sinks.Recorder(hello))
    recorded = await live.ask("hello", output="audio")
    await live.close()

    # Nothing sent steers a replay: the answer is the next response the recording plays. The
    # first consumer starts the replay, so an ask made first sees the whole recording.
    async with rr.ReplaySession(tools) as replay:
        answer = await replay.ask("What is 5 * 5?", follow_tools=True)
        assert answer.text == recorded_tool_answer.text
        assert [c.arguments for c in answer.tool_calls] == [{"expression": "5 * 5"}]
        assert [e["type"] for e in replay.sent] == ["conversation.item.create", "response.create"]
        assert replay.sent[1]["response"]["output_modalities"] == ["text"]
        with pytest.raises(ConnectionClosedOK):  # nothing more in the recording
            await replay.ask("anyone there?")

    async with rr.ReplaySession(hello) as replay:
        again = await replay.ask("hello", output="audio")
        assert again.transcript == recorded.transcript and again.audio == recorded.audio
