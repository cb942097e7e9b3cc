"""Conformance: every server event the embedded server can produce, held to the SDK's GA models.

Scenarios drive the server over loopback with raw frames (text, audio, tools, parallel calls,
VAD, transcription with logprobs, truncate mid-stream, cancel, out-of-band responses, errors,
refused connections, session expiry, a failing transcription model, transcription sessions).
Every frame received is validated with pydantic ``strict=True`` against the SDK's
``RealtimeServerEvent`` union, and every key the models do not declare, at any depth, is a
failure unless it is one the live service sends too (listed in ``LIVE_EXTRAS``). A last test
reads the server's source for every event type it can emit and checks each one was produced
and validated here, so a new event type cannot skip conformance.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from _server_support import CALCULATE_TOOL, SERVER_EVENTS, WEATHER_TOOL
from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import rxrealtime.server
from rxrealtime.server import encode_text, serve
from rxrealtime.server.audio import silence

LIVE_EXTRAS = frozenset({"session.id", "session.object", "session.expires_at"})
"""Undeclared keys the live service sends too (the session resource's own fields)."""

SERVER_SOURCE = Path(rxrealtime.server.__file__).parent
EMITTED = re.compile(r'(?<![A-Za-z0-9_])_?emit\(\s*"([a-z_.]+)"')


class Recording:
    """A raw client keeping every frame it receives."""

    def __init__(self, ws: ClientConnection, frames: list[str]) -> None:
        self.ws = ws
        self.frames = frames

    async def recv(self) -> dict[str, Any]:
        frame = await self.ws.recv()
        assert isinstance(frame, str)
        self.frames.append(frame)
        data: dict[str, Any] = orjson.loads(frame)
        return data

    async def until(self, kind: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        while not events or events[-1]["type"] != kind:
            events.append(await self.recv())
        return events

    async def send(self, event: dict[str, Any] | str) -> None:
        await self.ws.send(event if isinstance(event, str) else orjson.dumps(event).decode())

    async def session(self, **fields: Any) -> None:
        await self.send({"type": "session.update", "session": {"type": "realtime", **fields}})
        await self.until("session.updated")

    async def user(self, text: str) -> None:
        part = {"type": "input_text", "text": text}
        item = {"type": "message", "role": "user", "content": [part]}
        await self.send({"type": "conversation.item.create", "item": item})
        await self.until("conversation.item.done")

    async def respond(self, **response: Any) -> list[dict[str, Any]]:
        await self.send({"type": "response.create", "response": response})
        events = await self.until("response.done")
        return events + await self.until("rate_limits.updated")


Scenario = Callable[[Recording], Awaitable[None]]


def _append(pcm: bytes) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}


async def _text(client: Recording) -> None:
    await client.session(output_modalities=["text"], instructions="Be brief.")
    await client.user("hello")
    done = (await client.respond())[-2]["response"]
    item_id = done["output"][0]["id"]
    await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    await client.until("conversation.item.retrieved")
    await client.send({"type": "conversation.item.delete", "item_id": item_id})
    await client.until("conversation.item.deleted")
    await client.respond(conversation="none", metadata={"kind": "summary"})  # out of band


async def _audio(client: Recording) -> None:
    await client.session(audio={"output": {"format": {"type": "audio/pcmu"}, "voice": "cedar"}})
    await client.user("hello")
    await client.respond()
    await client.respond(audio={"output": {"format": {"type": "audio/pcm", "rate": 24000}}})


async def _parallel_tools(client: Recording) -> None:
    await client.session(tools=[WEATHER_TOOL, CALCULATE_TOOL], parallel_tool_calls=True)
    await client.user("What is the weather in Paris and what is 2 + 2?")
    done = (await client.respond(output_modalities=["text"]))[-2]["response"]
    for call in done["output"]:
        item = {"type": "function_call_output", "call_id": call["call_id"], "output": "ok"}
        await client.send({"type": "conversation.item.create", "item": item})
        await client.until("conversation.item.done")
    await client.respond()


async def _vad(client: Recording) -> None:
    await client.session(
        include=["item.input_audio_transcription.logprobs"],
        audio={"input": {"transcription": {"model": "gpt-4o-transcribe", "language": "en"}}},
    )
    speech = silence(200) + encode_text("what is 2 plus 2") + silence(400)
    await client.send(_append(speech))
    await client.until("response.done")
    await client.until("rate_limits.updated")
    await client.session(audio={"input": {"turn_detection": None}})
    await client.send(_append(silence(300)))
    await client.send({"type": "input_audio_buffer.commit"})
    await client.until("conversation.item.input_audio_transcription.completed")
    await client.send({"type": "input_audio_buffer.clear"})
    await client.until("input_audio_buffer.cleared")


async def _truncate_and_cancel(client: Recording) -> None:
    await client.user("hello")
    await client.send({"type": "response.create"})
    deltas = 0
    item_id = ""
    while deltas < 2:
        event = await client.recv()
        if event["type"] == "response.output_audio.delta":
            deltas, item_id = deltas + 1, event["item_id"]
    truncate = {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0}
    await client.send({**truncate, "audio_end_ms": 100})  # mid-stream
    await client.send({"type": "response.cancel"})
    await client.until("response.done")
    await client.until("rate_limits.updated")
    await client.send({**truncate, "audio_end_ms": 50})  # after the cancel
    await client.until("conversation.item.truncated")


async def _errors(client: Recording) -> None:
    bad: list[dict[str, Any] | str] = [
        "{not json",
        "[1]",
        {"type": "nope"},
        {"type": "session.update", "session": {"type": "realtime", "temperature": 1}},
        {"type": "conversation.item.create", "item": {"type": ["message"]}},
        {"type": "conversation.item.delete", "item_id": "item_missing"},
        {"type": "response.cancel"},
        {"type": "input_audio_buffer.commit"},
        {"type": "output_audio_buffer.clear"},
    ]
    for frame in bad:
        await client.send(frame)
        await client.until("error")
    await client.ws.send(b"\x00binary")
    await client.until("error")


async def _transcription_session(client: Recording) -> None:
    await client.send(
        {
            "type": "session.update",
            "session": {
                "type": "transcription",
                "audio": {"input": {"noise_reduction": {"type": "near_field", "strength": 0.5}}},
            },
        }
    )
    await client.until("session.updated")
    await client.send(_append(encode_text("hi") + silence(400)))
    await client.until("conversation.item.input_audio_transcription.completed")


class _DeafModel(rxrealtime.server.DefaultModel):
    async def transcribe(self, pcm: bytes) -> str:
        raise RuntimeError("no ears")


async def _failed_transcription(client: Recording) -> None:
    await client.session(audio={"input": {"transcription": {"model": "whisper-1"}}})
    await client.send(_append(encode_text("hi") + silence(400)))
    await client.until("conversation.item.input_audio_transcription.failed")


SCENARIOS: dict[str, tuple[Scenario, dict[str, Any], str]] = {
    # name: (scenario, serve() options, connection query)
    "text and out-of-band": (_text, {}, "model=gpt-realtime"),
    "audio in G.711 and PCM": (_audio, {}, "model=gpt-realtime-2"),
    "parallel tool calls": (_parallel_tools, {}, "model=gpt-realtime-2.1"),
    "VAD, transcription, logprobs": (_vad, {}, "model=gpt-realtime-mini"),
    "truncate mid-stream and cancel": (
        _truncate_and_cancel,
        {"realtime_audio": True},
        "model=gpt-realtime-1.5",
    ),
    "client errors": (_errors, {}, "model=gpt-realtime"),
    "transcription session": (_transcription_session, {}, "intent=transcription"),
    "failing transcription model": (
        _failed_transcription,
        {"model": _DeafModel()},
        "model=gpt-realtime",
    ),
}

_RUNS: dict[str, list[str]] = {}


async def _frames(name: str) -> list[str]:
    """Every frame received while running scenario ``name`` (run once per test session)."""
    if name not in _RUNS:
        scenario, options, query = SCENARIOS[name]
        frames: list[str] = []
        async with (
            serve(**{"realtime_audio": False, **options}) as server,
            connect(f"{server.base_url}/realtime?{query}", max_size=None) as ws,
        ):
            client = Recording(ws, frames)
            await client.until("session.created")
            await asyncio.wait_for(scenario(client), 60)
        _RUNS[name] = frames
    return _RUNS[name]


async def _edge_frames() -> list[str]:
    """Frames of the connection-level edges: a refused connection and an expired session."""
    if "edges" not in _RUNS:
        frames: list[str] = []
        for options, model in (
            ({"models": {"gpt-realtime"}}, "gpt-4"),
            ({"session_limit": 0.2}, "gpt-realtime"),
        ):
            async with (
                serve(realtime_audio=False, **options) as server,
                connect(server.url(model)) as ws,
            ):
                with pytest.raises(ConnectionClosed):
                    while True:
                        frames.append(str(await ws.recv()))
        _RUNS["edges"] = frames
    return _RUNS["edges"]


def _undeclared(value: Any, path: str) -> list[str]:
    """Paths of keys no SDK model declares, anywhere in a validated event."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            found.append(f"{path}.{key}" if path else key)
        for name in type(value).model_fields:
            found.extend(_undeclared(getattr(value, name), f"{path}.{name}" if path else name))
    elif isinstance(value, list):
        for item in value:
            found.extend(_undeclared(item, path))
    elif isinstance(value, dict):
        for key, item in value.items():
            found.extend(_undeclared(item, f"{path}.{key}"))
    return found


def _failures(frames: list[str]) -> list[str]:
    failures: list[str] = []
    for frame in frames:
        kind = orjson.loads(frame).get("type")
        try:
            event = SERVER_EVENTS.validate_json(frame, strict=True)
        except Exception as exc:
            failures.append(f"{kind}: {str(exc)[:300]}")
            continue
        if event.type != kind:
            failures.append(f"{kind}: validated as {type(event).__name__}")
        extras = sorted(set(_undeclared(event, "")) - LIVE_EXTRAS)
        if extras:
            failures.append(f"{kind}: undeclared keys {extras}")
    return failures


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_every_event_validates_strictly_with_no_undeclared_keys(name: str) -> None:
    frames = await _frames(name)
    assert frames
    assert _failures(frames) == []


async def test_refusals_and_expiry_validate_strictly() -> None:
    frames = await _edge_frames()
    codes = [orjson.loads(frame)["error"]["code"] for frame in frames if '"error"' in frame]
    assert codes == ["invalid_model", "session_expired"]
    assert _failures(frames) == []


def emitted_types() -> set[str]:
    """Every server event type the embedded server's source can emit."""
    found: set[str] = set()
    for path in SERVER_SOURCE.glob("*.py"):
        found |= set(EMITTED.findall(path.read_text(encoding="utf-8")))
    return found


async def test_every_event_type_the_server_can_emit_is_covered() -> None:
    emitted = emitted_types()
    assert len(emitted) >= 30 and "conversation.item.truncated" in emitted
    seen: set[str] = set()
    for name in SCENARIOS:
        seen |= {orjson.loads(frame)["type"] for frame in await _frames(name)}
    seen |= {orjson.loads(frame)["type"] for frame in await _edge_frames()}
    assert emitted - seen == set()
