"""The operators and the tool runner against the embedded server, through a real session."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest
from reactivex import Observable
from reactivex import operators as rx_ops

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.server import decode_tones, encode_text, serve
from rxrealtime.server.audio import silence
from rxrealtime.session import connect
from rxrealtime.sinks.tool_runner import handle_barge_in, run_tools

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
    {
        "type": "function",
        "name": "calculate",
        "description": "Evaluate arithmetic",
        "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}},
    },
]


def user_text(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def nth(source: Observable[T], n: int = 1) -> asyncio.Future[T]:
    """A future for the n-th value of ``source``, subscribed *now* (no event can slip by)."""
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    def resolve(value: T) -> None:
        if not future.done():
            future.set_result(value)

    source.pipe(rx_ops.skip(n - 1), rx_ops.take(1)).subscribe(resolve)
    return future


@pytest.fixture
async def session_factory() -> AsyncIterator[Any]:
    async def open_session(realtime_audio: bool = False) -> Any:
        server = await stack.enter_async_context(serve(realtime_audio=realtime_audio))
        return await stack.enter_async_context(
            connect(model="gpt-realtime", base_url=server.base_url, api_key="test-key")
        )

    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        yield open_session


async def test_text_turn(session_factory: Any) -> None:
    session = await session_factory()
    words: list[str] = []
    session.events.pipe(ops.text_only()).subscribe(words.append)
    parts: list[ops.Accumulated] = []
    session.events.pipe(ops.accumulate_deltas()).subscribe(parts.append)
    summary = nth(session.events.pipe(ops.responses()))
    problems: list[Any] = []
    session.events.pipe(ops.errors()).subscribe(problems.append)

    await session.send(
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}}
    )
    await session.send(user_text("hello"))
    await session.send(ev.ResponseCreate())
    result = await summary

    assert "".join(words) == "Hello! How can I help you today?" == result.text
    assert result.status == "completed" and result.usage.total_tokens > 0
    assert parts[-1].done and parts[-1].text == result.text and parts[-1].kind == "output_text"
    assert result.created_at is not None and result.first_delta_at is not None
    assert problems == []


async def test_voice_turn_audio_decodes_to_the_spoken_transcript(session_factory: Any) -> None:
    session = await session_factory()
    chunks: list[ops.AudioChunk] = []
    session.events.pipe(ops.audio_chunks()).subscribe(chunks.append)
    frames: list[ops.AudioChunk] = []
    session.events.pipe(ops.rechunk(20)).subscribe(frames.append)
    transcript: list[str] = []
    session.events.pipe(ops.text_only(transcripts="only")).subscribe(transcript.append)
    timing = nth(session.events.pipe(ops.latency()))
    summary = nth(session.events.pipe(ops.responses()))

    await session.send(user_text("hello"))
    await session.send(ev.ResponseCreate())
    result, latency = await summary, await timing

    spoken = "".join(transcript)
    assert spoken == result.transcript == "Hello! How can I help you today?"
    pcm = b"".join(c.data for c in chunks)
    assert decode_tones(pcm) == spoken.lower()
    total_ms = sum(c.duration_ms for c in chunks)
    assert total_ms == pytest.approx(len(pcm) / 48)
    assert total_ms == pytest.approx(len(encode_text(spoken)) / 48, rel=0.1)
    assert chunks[-1].offset_ms + chunks[-1].duration_ms == pytest.approx(total_ms)
    assert {c.response_id for c in chunks} == {result.id}
    assert b"".join(f.data for f in frames) == pcm
    assert all(len(f.data) == 960 for f in frames[:-1])
    assert latency.response_id == result.id and latency.created_to_done_ms is not None


async def test_tool_round_trip_with_the_runner(session_factory: Any) -> None:
    session = await session_factory()
    seen: list[ops.ToolCall] = []
    session.events.pipe(ops.tool_calls()).subscribe(seen.append)
    summaries = session.events.pipe(ops.responses())
    first, second = nth(summaries, 1), nth(summaries, 2)
    problems: list[Any] = []
    session.events.pipe(ops.errors()).subscribe(problems.append)

    async def get_weather(city: str) -> dict[str, Any]:
        return {"city": city, "forecast": "sunny", "celsius": 21}

    runner = run_tools(session, {"get_weather": get_weather})
    await session.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "output_modalities": ["text"], "tools": TOOLS},
        }
    )
    await session.send(user_text("What is the weather in Paris today?"))
    await session.send(ev.ResponseCreate())

    call_response, answer = await first, await second
    [call] = seen
    assert (call.name, call.arguments, call.error) == ("get_weather", {"city": "Paris"}, None)
    assert call.response_id == call_response.id
    assert json.loads(answer.text.split(": ", 1)[1]) == {
        "city": "Paris",
        "forecast": "sunny",
        "celsius": 21,
    }
    assert answer.text.startswith("Here is the result from get_weather")
    assert runner.statistics().responses_requested == 1

    # ``calculate`` is configured on the server but not given to the runner: an error output.
    third = nth(summaries, 1)
    await session.send(user_text("what is 2 + 3"))
    await session.send(ev.ResponseCreate())
    fourth = nth(summaries, 2)
    await third
    reply = await fourth
    assert (
        reply.text == 'Here is the result from calculate: {"error": "unknown tool \'calculate\'"}'
    )
    assert problems == []
    await runner.aclose()


async def test_barge_in_truncates_to_the_audio_played(session_factory: Any) -> None:
    session = await session_factory(realtime_audio=True)
    problems: list[Any] = []
    session.events.pipe(ops.errors()).subscribe(problems.append)
    received: list[ops.AudioChunk] = []
    session.events.pipe(ops.audio_chunks()).subscribe(received.append)
    first_audio = nth(session.events.pipe(ops.audio_chunks()), 5)
    truncated = nth(session.events.pipe(ops.of_type(ev.ConversationItemTruncated)))
    done = nth(session.events.pipe(ops.responses()))
    barge = handle_barge_in(session)

    await session.send(user_text("please tell me a long story about the sea and the ships"))
    await session.send(ev.ResponseCreate())
    await first_audio  # the answer is playing (paced in real time by the server)
    speech = encode_text("stop") + silence(800)
    await session.send(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(speech).decode()}
    )
    event = await truncated
    summary = await done

    played_by_server = sum(c.duration_ms for c in received if c.item_id == event.item_id)
    assert 0 < event.audio_end_ms <= played_by_server
    assert summary.status == "cancelled"  # server VAD interrupted the response
    assert problems == []
    await barge.aclose()
