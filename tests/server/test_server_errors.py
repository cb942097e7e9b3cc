"""Bad input gets what the live service sends: error codes, params, event ids, close codes."""

from __future__ import annotations

import base64
from typing import Any

import openai
import orjson
import pytest
from _server_support import Client, validate_strictly
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rxrealtime.server import RealtimeServer, serve


async def _error(client: Client, event: dict[str, Any] | None = None) -> dict[str, Any]:
    if event is not None:
        await client.send(event)
    received = await client.recv()
    assert received["type"] == "error", received
    error: dict[str, Any] = received["error"]
    return error


async def _raw_error_then_close(ws: ClientConnection) -> tuple[dict[str, Any], int | None]:
    error = validate_strictly(await ws.recv())
    assert error["type"] == "error"
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    rcvd = closed.value.rcvd
    return error["error"], rcvd.code if rcvd else None


async def test_unknown_type_is_invalid_value(client: Client) -> None:
    error = await _error(client, {"type": "nope", "event_id": "evt_1"})
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_value" and error["param"] == "type"
    assert error["event_id"] == "evt_1"
    assert error["message"].startswith(
        "Invalid value: 'nope'. Supported values are: 'session.update', 'input_audio_buffer.append'"
    )


async def test_non_json_binary_and_shapeless_frames(client: Client) -> None:
    await client.connection.send_raw("{not json")
    assert (await _error(client))["code"] == "invalid_json"
    await client.connection.send_raw(b"\x00\x01binary")
    assert (await _error(client))["code"] == "invalid_event"
    await client.connection.send_raw("[1, 2]")
    assert (await _error(client))["code"] == "invalid_event"
    error = await _error(client, {"event_id": "evt_x"})
    assert error == {
        "type": "invalid_request_error",
        "code": "invalid_event",
        "message": "The 'type' field is missing.",
        "param": None,
        "event_id": "evt_x",
    }
    # the session is still open and working
    await client.create_text("hello")


@pytest.mark.parametrize(
    ("event", "param"),
    [
        ({"type": "conversation.item.delete"}, "item_id"),
        ({"type": "conversation.item.retrieve"}, "item_id"),
        ({"type": "conversation.item.create"}, "item"),
        ({"type": "conversation.item.create", "item": {"role": "user"}}, "item.type"),
        (
            {"type": "conversation.item.create", "item": {"type": "message", "content": []}},
            "item.role",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "output": "x"},
            },
            "item.call_id",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
            },
            "item.content[0].text",
        ),
        (
            {"type": "conversation.item.truncate", "item_id": "item_a", "content_index": 0},
            "audio_end_ms",
        ),
        ({"type": "input_audio_buffer.append"}, "audio"),
        ({"type": "session.update"}, "session"),
        ({"type": "session.update", "session": {"instructions": "x"}}, "session.type"),
    ],
)
async def test_missing_required_parameter(
    client: Client, event: dict[str, Any], param: str
) -> None:
    error = await _error(client, {**event, "event_id": "evt_missing"})
    assert error == {
        "type": "invalid_request_error",
        "code": "missing_required_parameter",
        "message": f"Missing required parameter: '{param}'.",
        "param": param,
        "event_id": "evt_missing",
    }


async def test_wrong_types_and_values(client: Client) -> None:
    error = await _error(client, {"type": "conversation.item.delete", "item_id": 5})
    assert error["code"] == "invalid_type" and error["param"] == "item_id"
    assert error["message"] == (
        "Invalid type for 'item_id': expected a string, but got an integer instead."
    )
    error = await _error(
        client,
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "robot", "content": []},
        },
    )
    assert error["code"] == "invalid_value" and error["param"] == "item.role"
    error = await _error(
        client,
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "input_text", "text": "x"}],
            },
        },
    )
    assert error["param"] == "item.content[0].type"
    error = await _error(client, {"type": "input_audio_buffer.append", "audio": "not base64!"})
    assert error["code"] == "invalid_value" and error["param"] == "audio"
    error = await _error(client, {"type": "response.create", "response": {"conversation": "x"}})
    assert error["param"] == "response.conversation"
    error = await _error(
        client, {"type": "response.create", "response": {"output_modalities": ["video"]}}
    )
    assert error["param"] == "response.output_modalities[0]"


async def test_unknown_parameters_are_rejected_without_closing(client: Client) -> None:
    error = await _error(
        client,
        {
            "type": "session.update",
            "event_id": "evt_s",
            "session": {"type": "realtime", "temperature": 0.7},
        },
    )
    assert error == {
        "type": "invalid_request_error",
        "code": "unknown_parameter",
        "message": "Unknown parameter: 'session.temperature'.",
        "param": "session.temperature",
        "event_id": "evt_s",
    }
    error = await _error(
        client,
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "loudness": 3}}},
            },
        },
    )
    assert error["param"] == "session.audio.input.turn_detection.loudness"
    error = await _error(client, {"type": "response.create", "response": {"temperature": 1}})
    assert error["param"] == "response.temperature"
    error = await _error(client, {"type": "input_audio_buffer.clear", "extra": 1})
    assert error["code"] == "unknown_parameter" and error["param"] == "extra"
    error = await _error(client, {"type": "session.update", "session": {"type": "transcription"}})
    assert error["code"] == "invalid_value" and error["param"] == "session.type"
    # the rejected updates changed nothing, and the session still accepts good ones
    await client.send(
        {"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}}
    )
    session = (await client.recv())["session"]
    assert session["instructions"] == "Be brief."
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"


async def test_audio_buffer_commit_empty_and_clear(client: Client) -> None:
    error = await _error(client, {"type": "input_audio_buffer.commit", "event_id": "evt_c"})
    assert error["code"] == "input_audio_buffer_commit_empty" and error["event_id"] == "evt_c"
    assert error["message"] == (
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of "
        "audio, but buffer only has 0.00ms of audio."
    )
    await client.send(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(48 * 50)).decode()}
    )
    error = await _error(client, {"type": "input_audio_buffer.commit"})
    assert "only has 50.00ms of audio" in error["message"]
    await client.send({"type": "input_audio_buffer.clear"})
    assert (await client.recv())["type"] == "input_audio_buffer.cleared"
    error = await _error(client, {"type": "output_audio_buffer.clear"})
    assert error["param"] == "type"


async def test_beta_header_gets_error_then_close_4000(server: RealtimeServer) -> None:
    async with connect(server.url(), additional_headers={"OpenAI-Beta": "realtime=v1"}) as ws:
        error, code = await _raw_error_then_close(ws)
    assert error["code"] == "beta_api_shape_disabled" and code == 4000


async def test_missing_and_invalid_model_close_4000() -> None:
    async with serve(realtime_audio=False, models={"gpt-realtime"}) as server:
        async with connect(f"{server.base_url}/realtime") as ws:
            error, code = await _raw_error_then_close(ws)
        assert error["code"] == "missing_model" and error["param"] == "model" and code == 4000
        async with connect(server.url("gpt-4")) as ws:
            error, code = await _raw_error_then_close(ws)
        assert error["code"] == "invalid_model" and code == 4000
        async with connect(f"{server.base_url}/realtime?call_id=rtc_123") as ws:
            assert validate_strictly(await ws.recv())["type"] == "session.created"


async def test_wrong_path_is_http_404(server: RealtimeServer) -> None:
    with pytest.raises(InvalidStatus) as rejected:
        async with connect(f"ws://{server.host}:{server.port}/v2/realtime?model=m"):
            pass
    assert rejected.value.response.status_code == 404


async def test_api_key_is_checked() -> None:
    async with serve(realtime_audio=False, api_key="sk-right-key-123456") as server:
        async with connect(server.url()) as ws:
            error, code = await _raw_error_then_close(ws)
        assert error["code"] == "invalid_api_key" and code == 3000
        assert "didn't provide an API key" in error["message"]

        sdk = openai.AsyncOpenAI(api_key="sk-wrong-key-000000", websocket_base_url=server.base_url)
        async with sdk.realtime.connect(model="gpt-realtime") as connection:
            error = validate_strictly(await connection.recv_bytes())["error"]
            assert error["code"] == "invalid_api_key"
            assert "sk-wrong-key-000000" not in error["message"]
            with pytest.raises(ConnectionClosed) as closed:
                await connection.recv_bytes()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 3000
        await sdk.close()

        headers = {"api-key": "sk-right-key-123456"}
        async with connect(server.url(), additional_headers=headers) as ws:
            assert orjson.loads(await ws.recv())["type"] == "session.created"
        right = openai.AsyncOpenAI(
            api_key="sk-right-key-123456", websocket_base_url=server.base_url
        )
        async with right.realtime.connect(model="gpt-realtime") as connection:
            created = validate_strictly(await connection.recv_bytes())
            assert created["type"] == "session.created"
        await right.close()
