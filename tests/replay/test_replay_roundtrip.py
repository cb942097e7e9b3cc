"""Record a session against the embedded server, replay it, and get the same pipeline results."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

import attrs
import pytest
import reactivex
from reactivex import operators as rx_ops

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.replay import ReplaySession, replay, replay_records
from rxrealtime.server import serve
from rxrealtime.session import RealtimeSession
from rxrealtime.sinks import Recorder
from rxrealtime.transport import open_websocket, prepare

KEY = "sk-roundtrip-SECRET-never-in-a-file-42"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


class SessionLike(Protocol):
    events: reactivex.Observable[ev.ServerEvent]

    async def send(self, event: Any) -> None: ...

    def __aiter__(self) -> AsyncIterator[ev.ServerEvent]: ...


@attrs.frozen
class Summary:
    """What the pipeline under test computes from a stream of events."""

    text: str
    tool_calls: tuple[tuple[str, str], ...]
    audio_bytes: int
    audio_transcript: str
    response_statuses: tuple[str, ...]
    event_types: tuple[str, ...]


def pipeline(events: reactivex.Observable[ev.ServerEvent]) -> reactivex.Observable[Summary]:
    """Several operators over one stream, combined into one Summary at completion."""
    text = events.pipe(ops.text_only(transcripts=False), rx_ops.to_list())
    calls = events.pipe(
        ops.tool_calls(), rx_ops.map(lambda c: (c.name, c.arguments_json)), rx_ops.to_list()
    )
    audio = events.pipe(ops.audio_chunks(), rx_ops.map(lambda c: len(c.data)), rx_ops.sum())
    transcript = events.pipe(ops.text_only(transcripts="only"), rx_ops.to_list())
    statuses = events.pipe(
        rx_ops.filter(lambda e: isinstance(e, ev.ResponseDone)),
        rx_ops.map(lambda e: str(e.response.status)),  # type: ignore[attr-defined]
        rx_ops.to_list(),
    )
    kinds = events.pipe(rx_ops.map(lambda e: e.type or "?"), rx_ops.to_list())
    return reactivex.zip(text, calls, audio, transcript, statuses, kinds).pipe(
        rx_ops.map(
            lambda r: Summary(
                "".join(r[0]), tuple(r[1]), r[2], "".join(r[3]), tuple(r[4]), tuple(r[5])
            )
        )
    )


def user(text: str) -> dict[str, Any]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item}


async def until_done(session: SessionLike) -> None:
    async for event in session:
        if isinstance(event, ev.ResponseDone):
            return


async def converse(session: SessionLike) -> None:
    """A text answer, a tool call round trip, then a spoken answer."""
    await session.send(
        {"type": "session.update", "session": {"type": "realtime", "tools": [WEATHER_TOOL]}}
    )
    await session.send(user("hello"))
    await session.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    await until_done(session)
    await session.send(user("What's the weather in Paris?"))
    await session.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    await until_done(session)
    await session.send(user("hello again"))
    await session.send({"type": "response.create", "response": {"output_modalities": ["audio"]}})
    await until_done(session)


async def run(session: SessionLike, script: Callable[[SessionLike], Any]) -> Summary:
    loop = asyncio.get_running_loop()
    result: asyncio.Future[Summary] = loop.create_future()
    pipeline(session.events).subscribe(result.set_result, result.set_exception)
    await script(session)
    await session.close()  # type: ignore[attr-defined]
    return await asyncio.wait_for(result, 10)


@pytest.fixture
async def recording(tmp_path: Path) -> AsyncIterator[tuple[Path, Summary]]:
    path = tmp_path / "session.jsonl"
    async with serve(realtime_audio=False, api_key=KEY, seed=7) as server:
        config = prepare("gpt-realtime", api_key=KEY, base_url=server.base_url)
        recorder = Recorder(path, secrets=config.secrets, meta={"url": server.base_url})
        transport = await open_websocket(config)
        session = RealtimeSession(recorder.wrap(transport), secrets=config.secrets)
        live = await run(session, converse)
    assert recorder.closed
    yield path, live


async def test_record_then_replay_gives_the_same_pipeline_results(
    recording: tuple[Path, Summary],
) -> None:
    path, live = recording
    assert live.text.startswith("Hello!")
    assert [name for name, _ in live.tool_calls] == ["get_weather"]
    assert json.loads(live.tool_calls[0][1]) == {"city": "Paris"}
    assert live.audio_bytes > 0
    assert live.audio_transcript
    assert live.response_statuses == ("completed", "completed", "completed")

    loop = asyncio.get_running_loop()
    done: asyncio.Future[Summary] = loop.create_future()
    pipeline(replay(path)).subscribe(done.set_result, done.set_exception)
    assert await done == live

    async with ReplaySession(path) as session:  # the same driver code, on the recording
        replayed = await run(session, converse)
    assert replayed == live


async def test_recording_has_both_directions_timestamps_and_no_secret(
    recording: tuple[Path, Summary],
) -> None:
    path, live = recording
    text = path.read_text()
    assert KEY not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["rxrealtime_recording"] == 1
    assert records[-1]["dir"] == "end"
    assert records[-1]["reason"] == "completed"
    body = records[1:-1]
    assert {r["dir"] for r in body} == {"in", "out"}
    assert [r["t"] for r in body] == sorted(r["t"] for r in body)
    sent = [r["event"]["type"] for r in body if r["dir"] == "out"]
    assert sent.count("response.create") == 3
    assert len([r for r in body if r["dir"] == "in"]) == len(live.event_types)

    loop = asyncio.get_running_loop()
    timed: asyncio.Future[list[float]] = loop.create_future()
    subscribed = loop.time()  # the last record is due span / 50 after this, never sooner
    replay_records(path, speed=50.0).pipe(
        rx_ops.map(lambda r: loop.time()), rx_ops.to_list()
    ).subscribe(timed.set_result, timed.set_exception)
    times = await timed
    span = body[-1]["t"] - body[0]["t"]
    assert times[-1] - subscribed >= span / 50 - 0.01
