"""Hostile clients against the embedded server (issue 12, points 7 and 11).

Raw websockets frames, not the SDK: malformed events of every shape get one ``error`` event each
and leave the session usable; values the live service refuses are refused with its error
shapes; an unforeseen failure in a handler is a ``server_error`` event, not a dead connection;
memory is bounded (frame size, unread events).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import pytest
from _server_support import RawClient, raw_client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rxrealtime.server import RealtimeServer, app, serve
from rxrealtime.server.connection import Connection
from rxrealtime.server.limits import (
    MAX_EVENT_ID_LENGTH,
    MAX_FRAME_BYTES,
    MAX_ID_LENGTH,
    MAX_JSON_DEPTH,
    MAX_OUTBOX_BYTES,
)

LONG = "i" * 10_000
DEEP_LIST = "[" * 900 + "]" * 900
DEEP_OBJECT = '{"a":' * 900 + "1" + "}" * 900


def _session(**fields: Any) -> dict[str, Any]:
    return {"type": "session.update", "session": {"type": "realtime", **fields}}


def _turn(**fields: Any) -> dict[str, Any]:
    return _session(audio={"input": {"turn_detection": {"type": "server_vad", **fields}}})


def _user_item(**fields: Any) -> dict[str, Any]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    return {"type": "conversation.item.create", "item": {**item, **fields}}


# (frame, expected code, expected param): each once crashed the handler (1011, no error event)
# or was accepted although the live service refuses it.
MALFORMED: dict[str, tuple[dict[str, Any] | str, str, str | None]] = {
    "item.type is a list": (_user_item(type=["message"]), "invalid_type", "item.type"),
    "item.type is an object": (_user_item(type={"a": 1}), "invalid_type", "item.type"),
    "item.role is a list": (_user_item(role=["user"]), "invalid_type", "item.role"),
    "item.content is an object": (_user_item(content={"a": 1}), "invalid_type", "item.content"),
    "a content part is a string": (_user_item(content=["hi"]), "invalid_type", "item.content[0]"),
    "threshold is a string": (
        _turn(threshold="abc"),
        "invalid_type",
        "session.audio.input.turn_detection.threshold",
    ),
    "silence_duration_ms is a string": (
        _turn(silence_duration_ms="x"),
        "invalid_type",
        "session.audio.input.turn_detection.silence_duration_ms",
    ),
    "threshold above 1": (
        _turn(threshold=1.5),
        "decimal_above_max_value",
        "session.audio.input.turn_detection.threshold",
    ),
    "audio.input is null": (_session(audio={"input": None}), "invalid_type", "session.audio.input"),
    "audio is a list": (_session(audio=[]), "invalid_type", "session.audio"),
    "tools nested 900 deep": (
        '{"type":"session.update","session":{"type":"realtime","tools":' + DEEP_LIST + "}}",
        "invalid_type",
        "session.tools[0]",
    ),
    "tool parameters nested 900 deep": (
        '{"type":"session.update","session":{"type":"realtime","tools":[{"type":"function",'
        '"name":"f","parameters":' + DEEP_OBJECT + "}]}}",
        "invalid_value",
        "session.tools[0].parameters",
    ),
    "item content nested 900 deep": (
        '{"type":"conversation.item.create","item":{"type":"message","role":"user",'
        '"content":[' + DEEP_OBJECT + "]}}",
        "invalid_value",
        "item.content[0]",
    ),
    "voice is a number": (
        _session(audio={"output": {"voice": 5}}),
        "invalid_type",
        "session.audio.output.voice",
    ),
    "tools are numbers": (_session(tools=[1, 2]), "invalid_type", "session.tools[0]"),
    "session max_output_tokens is a string": (
        _session(max_output_tokens="x"),
        "invalid_value",
        "session.max_output_tokens",
    ),
    "response max_output_tokens is a string": (
        {"type": "response.create", "response": {"max_output_tokens": "x"}},
        "invalid_value",
        "response.max_output_tokens",
    ),
    "max_output_tokens above 4096": (
        _session(max_output_tokens=5000),
        "integer_above_max_value",
        "session.max_output_tokens",
    ),
    "metadata with 17 pairs": (
        {"type": "response.create", "response": {"metadata": {str(i): "v" for i in range(17)}}},
        "object_above_max_properties",
        "response.metadata",
    ),
    "10k-character item.id": (_user_item(id=LONG), "string_above_max_length", "item.id"),
    "10k-character call_id": (
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": LONG, "output": "x"},
        },
        "string_above_max_length",
        "item.call_id",
    ),
    "10k-character item_id": (
        {"type": "conversation.item.delete", "item_id": LONG},
        "string_above_max_length",
        "item_id",
    ),
    "10k-character previous_item_id": (
        {**_user_item(), "previous_item_id": LONG},
        "string_above_max_length",
        "previous_item_id",
    ),
    "10k-character event_id": (
        {"type": "input_audio_buffer.clear", "event_id": LONG},
        "string_above_max_length",
        "event_id",
    ),
    "audio_end_ms beyond 64 bits": (
        '{"type":"conversation.item.truncate","item_id":"item_a","content_index":0,'
        '"audio_end_ms":123456789012345678901234567890}',
        "invalid_type",
        "audio_end_ms",
    ),
    "negative audio_end_ms": (
        {
            "type": "conversation.item.truncate",
            "item_id": "item_a",
            "content_index": 0,
            "audio_end_ms": -11,
        },
        "integer_below_min_value",
        "audio_end_ms",
    ),
    "event nested 1100 deep": ("[" * 1100 + "]" * 1100, "invalid_json", None),
    "10k-character event type": ({"type": LONG}, "invalid_value", "type"),
    "10k-character item type": (_user_item(type=LONG), "invalid_value", "item.type"),
}


@pytest.fixture
async def raw(server: RealtimeServer) -> AsyncIterator[RawClient]:
    async with raw_client(server.url()) as client:
        yield client


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_events_get_an_error_and_the_session_goes_on(
    raw: RawClient, case: str
) -> None:
    frame, code, param = MALFORMED[case]
    error = await raw.error_for(frame)
    assert (error["code"], error["param"]) == (code, param), error
    assert error["type"] == "invalid_request_error"
    assert len(error["message"]) < 1000  # a 10k-character value is not echoed back
    await raw.still_usable()


async def test_refused_updates_change_nothing(raw: RawClient) -> None:
    for frame, _code, _param in MALFORMED.values():
        await raw.error_for(frame)
    await raw.send({"type": "session.update", "session": {"type": "realtime"}})
    session = (await raw.recv())["session"]
    assert session["tools"] == [] and session["max_output_tokens"] == "inf"
    assert session["audio"]["input"]["turn_detection"]["threshold"] == 0.5
    assert session["audio"]["output"]["voice"] == "marin"


async def test_the_error_keeps_a_valid_event_id_and_drops_an_oversized_one(raw: RawClient) -> None:
    error = await raw.error_for({**_user_item(type=[1]), "event_id": "evt_ok"})
    assert error["event_id"] == "evt_ok"
    too_long = "e" * (MAX_EVENT_ID_LENGTH + 1)
    error = await raw.error_for({**_user_item(type=[1]), "event_id": too_long})
    assert error["event_id"] is None


async def test_limits_accept_what_the_live_service_accepts(raw: RawClient) -> None:
    await raw.send(_user_item(id="i" * MAX_ID_LENGTH))
    assert (await raw.until("conversation.item.done"))[-1]["item"]["id"] == "i" * MAX_ID_LENGTH
    parameters: Any = {"type": "object"}
    for _ in range((MAX_JSON_DEPTH - 1) // 2):  # each level nests two objects
        parameters = {"type": "object", "properties": {"x": parameters}}
    await raw.send(_session(tools=[{"type": "function", "name": "f", "parameters": parameters}]))
    assert (await raw.recv())["type"] == "session.updated"


async def test_an_unforeseen_handler_failure_is_a_server_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The safety net: whatever goes wrong inside a handler, the client gets an ``error``
    (type ``server_error``, its ``event_id``) and the session stays usable."""

    class Faulty(Connection):
        def _item_delete(self, event: Mapping[str, Any], event_id: str | None) -> None:
            raise RuntimeError("a bug nobody foresaw")

    monkeypatch.setattr(app, "Connection", Faulty)
    async with serve(realtime_audio=False) as server, raw_client(server.url()) as client:
        with caplog.at_level(logging.ERROR, logger="rxrealtime.server"):
            error = await client.error_for(
                {"type": "conversation.item.delete", "item_id": "item_x", "event_id": "evt_bug"}
            )
        assert error["type"] == "server_error" and error["event_id"] == "evt_bug"
        assert "a bug nobody foresaw" in caplog.text
        await client.still_usable()


def _append_frame(size: int) -> str:
    """An ``input_audio_buffer.append`` frame of exactly ``size`` bytes."""
    head, tail = '{"type":"input_audio_buffer.append","audio":"', '"}'
    room = size - len(head) - len(tail)
    audio = "A" * (room // 4 * 4)
    return head + audio + tail + " " * (room % 4)


async def test_frames_up_to_the_limit_are_read_larger_ones_close_1009(
    server: RealtimeServer,
) -> None:
    async with raw_client(server.url()) as client:
        await client.send(_session(audio={"input": {"turn_detection": None}}))
        assert (await client.recv())["type"] == "session.updated"
        await client.send(_append_frame(MAX_FRAME_BYTES))
        await client.still_usable()  # the 15 MiB of audio was buffered, then cleared
    # Not ``async with``: the server hangs up while this client is still writing the frame, and
    # closing a transport in that state trips CPython 3.11's selector transport (a client-side
    # quirk); the connection is over either way.
    ws = await connect(server.url(), max_size=None)
    assert orjson.loads(await ws.recv())["type"] == "session.created"
    await ws.send(_append_frame(MAX_FRAME_BYTES + 1))
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    async with raw_client(server.url()) as again:  # the server itself is fine
        await again.still_usable()


def _big_item(seconds: int) -> dict[str, Any]:
    audio = base64.b64encode(bytes(48 * 1000 * seconds)).decode()
    return {
        "type": "conversation.item.create",
        "item": {
            "id": "item_big",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": audio}],
        },
    }


async def test_a_burst_of_requests_is_answered_in_full_to_a_client_that_reads(
    raw: RawClient,
) -> None:
    """Backpressure, not disconnection: answers to a burst (here twice the outbox limit) wait
    while the client reads them."""
    await raw.send(_big_item(10))  # each retrieve carries ~640 kB of base64 audio
    await raw.until("conversation.item.done")
    retrieves = 2 * MAX_OUTBOX_BYTES // (64 * 10_000)
    for _ in range(retrieves):
        await raw.send({"type": "conversation.item.retrieve", "item_id": "item_big"})
    for _ in range(retrieves):  # (parsed plainly: strict validation of 40 MB is slow)
        assert orjson.loads(await raw.ws.recv())["type"] == "conversation.item.retrieved"
    await raw.still_usable()


async def test_a_client_that_never_reads_is_disconnected_not_buffered(
    server: RealtimeServer,
) -> None:
    """Unread events may not grow without bound: a response streaming ~58 MB of audio to a
    client that reads nothing fills the outbox to ``MAX_OUTBOX_BYTES``; the server then drops
    the events and the connection (1008, or an abort when even the close frame cannot get
    out)."""
    words = "abc " * 5000  # spoken back: 180 ms a word, 15 minutes of audio
    async with connect(server.url(), max_size=None, max_queue=1) as ws:
        text = {"type": "input_text", "text": words}
        item = {"type": "message", "role": "user", "content": [text]}
        await ws.send(orjson.dumps({"type": "conversation.item.create", "item": item}).decode())
        await ws.send('{"type":"response.create"}')
        # read nothing; keep talking until the server has hung up on us
        async with asyncio.timeout(60):
            with pytest.raises(ConnectionClosed):
                while True:
                    await ws.send('{"type":"input_audio_buffer.clear"}')
                    await asyncio.sleep(0.05)
        received = 0
        try:
            async for _message in ws:
                received += 1
        except ConnectionClosed:
            pass
    assert received < 5000  # a few MB got through; the rest was dropped, not held
    async with raw_client(server.url()) as again:  # the server itself is fine
        await again.still_usable()
