"""The official SDK as oracle and as a transport: same wire frames, same Observable."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from reactivex import operators as rops
from session_helpers import GREETING, server_mod, text_turn
from websockets.asyncio.server import ServerConnection, serve

import rxrealtime.session as rs
from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosedOK
from rxrealtime.scheduling import first

openai = pytest.importorskip("openai")

ITEM = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
CALLS: list[tuple[str, dict[str, Any]]] = [
    (
        "session.update",
        {"session": {"type": "realtime", "instructions": "be brief"}, "event_id": "e1"},
    ),
    ("response.create", {}),
    ("response.create", {"response": {"output_modalities": ["text"]}}),
    ("response.cancel", {"response_id": "resp_1"}),
    ("input_audio_buffer.append", {"audio": "AAAA"}),
    ("input_audio_buffer.commit", {}),
    ("input_audio_buffer.clear", {"event_id": "e2"}),
    ("conversation.item.create", {"item": ITEM, "previous_item_id": "root"}),
    ("conversation.item.delete", {"item_id": "it_1"}),
    ("conversation.item.retrieve", {"item_id": "it_1"}),
    ("conversation.item.truncate", {"item_id": "it_1", "content_index": 0, "audio_end_ms": 1500}),
    ("output_audio_buffer.clear", {}),
]


def _helper(root: Any, dotted: str) -> Any:
    target = root
    for part in dotted.split("."):
        target = getattr(target, "item" if part == "item" else part)
    return target


async def _record(send_all: Any) -> list[dict[str, Any]]:
    """Run ``send_all(url)`` against a recorder that keeps every frame the client sends."""
    frames: list[dict[str, Any]] = []

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            frames.append(json.loads(message))

    async with serve(handler, "127.0.0.1", 0) as recorder:
        port = recorder.sockets[0].getsockname()[1]
        await send_all(f"ws://127.0.0.1:{port}/v1")
    return frames


async def test_every_typed_helper_sends_what_the_sdk_sends() -> None:
    async def with_sdk(url: str) -> None:
        client = openai.AsyncOpenAI(api_key="test", websocket_base_url=url)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            for dotted, kwargs in CALLS:
                await _helper(conn, dotted)(**kwargs)

    async def with_ours(url: str) -> None:
        async with rs.connect(base_url=url) as session:
            for dotted, kwargs in CALLS:
                await _helper(session, dotted)(**kwargs)
            assert session.statistics().frames_out == len(CALLS)

    sdk_frames = await _record(with_sdk)
    our_frames = await _record(with_ours)
    assert len(sdk_frames) == len(CALLS)
    assert our_frames == sdk_frames
    assert {f["type"] for f in our_frames} == {c for c, _ in CALLS}  # all 11 client events


async def test_audio_bytes_are_base64_encoded() -> None:
    async def send(url: str) -> None:
        async with rs.connect(base_url=url) as session:
            await session.input_audio_buffer.append(b"\x00\x01\x02\x03")
            await session.input_audio_buffer.append(memoryview(b"\xff\xfe"))

    frames = await _record(send)
    assert [f["audio"] for f in frames] == ["AAECAw==", "//4="]


async def test_an_open_sdk_connection_as_an_observable() -> None:
    async with server_mod.serve(realtime_audio=False) as server:
        client = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            async with rs.from_sdk_connection(conn) as session:
                words: list[str] = []
                session.events.pipe(
                    rops.filter(lambda e: isinstance(e, ev.ResponseOutputTextDelta)),
                    rops.map(lambda e: e.delta),
                ).subscribe(words.append)
                events: list[Any] = []
                completed = asyncio.Event()
                session.events.subscribe(events.append, on_completed=completed.set)
                await text_turn(session)
                await first(
                    session.events.pipe(rops.filter(lambda e: isinstance(e, ev.ResponseDone)))
                )
                assert "".join(words) == GREETING
                assert "sdk:" in repr(session)
            # closing the session closed the SDK connection, and completed the stream
            assert completed.is_set()
            assert isinstance(events[0], ev.SessionCreated)
            assert session.close_code == 1000
            with pytest.raises(ConnectionClosedOK):
                await session.recv()


def test_from_sdk_connection_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="recv_bytes"):
        asyncio.run(_adapt(object()))


async def _adapt(thing: Any) -> Any:
    return rs.from_sdk_connection(thing)
