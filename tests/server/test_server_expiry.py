"""The session limit: ``session_expired`` then close 1001, like the live service."""

from __future__ import annotations

import asyncio
import time

import openai
import orjson
import pytest
from _server_support import validate_strictly
from openai.types.realtime import RealtimeErrorEvent
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from rxrealtime.server import serve
from rxrealtime.server.connection import expires_at, expiry_message

REASON = "Your session hit the maximum duration of 0.3 seconds."


def test_expiry_message_says_minutes_or_seconds() -> None:
    assert expiry_message(3600) == "Your session hit the maximum duration of 60 minutes."
    assert expiry_message(900.0) == "Your session hit the maximum duration of 15 minutes."
    assert expiry_message(60) == "Your session hit the maximum duration of 1 minute."
    assert expiry_message(2) == "Your session hit the maximum duration of 2 seconds."
    assert expiry_message(0.3) == REASON


def test_expires_at_is_connect_time_plus_limit() -> None:
    assert expires_at(0.3, 1000.4) == 1001
    assert expires_at(3600.0, 1000.0) == 4600
    assert expires_at(None, 1000.9) == 4600  # the former behaviour: one hour


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_serve_rejects_a_nonsense_limit(bad: float) -> None:
    with pytest.raises(ValueError):
        serve(session_limit=bad)


async def test_raw_client_gets_session_expired_then_close_1001() -> None:
    async with serve(realtime_audio=False, session_limit=0.3) as server:
        before, started = time.time(), time.monotonic()  # the server's clock starts after this
        async with ws_connect(server.url()) as ws:
            created = validate_strictly(await ws.recv())
            assert created["type"] == "session.created"
            assert before - 1 <= created["session"]["expires_at"] <= time.time() + 1.3
            raw = await asyncio.wait_for(ws.recv(), 10.0)
            elapsed = time.monotonic() - started
            assert 0.3 <= elapsed < 5.0  # never early; generous above (not the 60 min default)
            validate_strictly(raw)
            error = RealtimeErrorEvent.model_validate(orjson.loads(raw), strict=True)
            assert error.error.code == "session_expired"
            assert error.error.type == "invalid_request_error"
            assert error.error.message == REASON
            assert error.error.param is None and error.error.event_id is None
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10.0)
        assert ws.close_code == 1001
        assert ws.close_reason == REASON


async def test_sdk_client_sees_the_same() -> None:
    async with serve(realtime_audio=False, session_limit=0.3) as server:
        sdk = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
        async with sdk.realtime.connect(model="gpt-realtime") as connection:
            created = validate_strictly(await connection.recv_bytes())
            assert created["type"] == "session.created"
            raw = await asyncio.wait_for(connection.recv_bytes(), 10.0)
            error = RealtimeErrorEvent.model_validate(orjson.loads(raw), strict=True)
            assert error.error.code == "session_expired"
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(connection.recv_bytes(), 10.0)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, REASON)
        await sdk.close()


async def test_no_event_after_the_error_while_a_response_streams() -> None:
    # the limit leaves a second to send the request; the answer (8 deltas) would take 4 s
    async with serve(realtime_audio=False, text_delta_interval=0.5, session_limit=1.0) as server:
        async with ws_connect(server.url()) as ws:
            await ws.recv()
            content = [{"type": "input_text", "text": "hello"}]
            item = {"type": "message", "role": "user", "content": content}
            await ws.send(orjson.dumps({"type": "conversation.item.create", "item": item}).decode())
            create = {"type": "response.create", "response": {"output_modalities": ["text"]}}
            await ws.send(orjson.dumps(create).decode())
            frames = [orjson.loads(frame) async for frame in ws]
        assert ws.close_code == 1001
        assert frames[-1]["type"] == "error"
        assert frames[-1]["error"]["code"] == "session_expired"
        assert sum(f["type"] == "error" for f in frames) == 1
        assert "response.created" in {f["type"] for f in frames}
        assert "response.done" not in {f["type"] for f in frames}  # cut off by the expiry


async def test_client_close_before_the_limit_leaks_no_task() -> None:
    before = asyncio.all_tasks()
    async with serve(realtime_audio=False, session_limit=30.0) as server:
        async with ws_connect(server.url()) as ws:
            created = orjson.loads(await ws.recv())
            assert created["session"]["expires_at"] >= int(time.time()) + 28
        # the client has closed: the server's handler and its expiry timer end now, long
        # before the limit and without the server stopping
        async with asyncio.timeout(10):
            while pending := asyncio.all_tasks() - before:
                await asyncio.wait(pending)
    await asyncio.sleep(0)
    leaked = asyncio.all_tasks() - before
    assert not leaked, leaked


async def test_no_limit_never_expires() -> None:
    async with (
        serve(realtime_audio=False, session_limit=None) as server,
        ws_connect(server.url()) as ws,
    ):
        created = orjson.loads(await ws.recv())
        assert created["session"]["expires_at"] >= int(time.time()) + 3590
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)
        assert ws.close_code is None
