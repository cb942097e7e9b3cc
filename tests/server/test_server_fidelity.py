"""The embedded server behaves like the live service for what real clients do (issue 13).

Driven the way frameworks drive it: the official SDK as the client (or raw frames where the SDK
would not send them). See ``docs/protocol-fidelity.md`` for the matrix these tests back.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from _server_support import (
    CALCULATE_TOOL,
    SDK_ITEM_MODELS,
    WEATHER_TOOL,
    Client,
    at,
    audio_of,
    leaves,
    raw_client,
    sdk_documents,
    sdk_samples,
)
from openai.types.realtime import (
    RealtimeResponseCreateParams,
    RealtimeSessionCreateRequest,
    RealtimeTranscriptionSessionCreateRequest,
)

from rxrealtime.server import RealtimeServer, encode_text, serve
from rxrealtime.server.audio import duration_ms, silence
from rxrealtime.server.items import spoken_prefix
from rxrealtime.server.session_config import apply_update, realtime_session
from rxrealtime.server.validation import check_response_params

REPLY = "Hello! How can I help you today?"


@pytest.fixture
async def paced() -> AsyncIterator[Client]:
    """An SDK client on a server that streams audio in real time (so a response is still
    running when the client acts on it)."""
    async with serve(realtime_audio=True) as server:
        sdk = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
        async with sdk.realtime.connect(model="gpt-realtime") as connection:
            client = Client(connection)
            await client.recv()
            yield client
        await sdk.close()


async def _streaming(client: Client, deltas: int = 2) -> tuple[str, int, list[dict[str, Any]]]:
    """Start a spoken reply; return its item id and the audio (ms) received once ``deltas``
    audio deltas have arrived, with the events so far."""
    await client.create_text("hello")
    await client.send({"type": "response.create"})
    events: list[dict[str, Any]] = []
    while sum(e["type"] == "response.output_audio.delta" for e in events) < deltas:
        events.append(await client.recv())
    item_id = events[-1]["item_id"]
    return item_id, int(duration_ms(audio_of(events))), events


def _truncate(item_id: str, end_ms: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": end_ms,
        **extra,
    }


# -- truncating the item that is still streaming ---------------------------------------------


async def test_truncating_the_streaming_item_then_letting_the_response_run_on(
    paced: Client,
) -> None:
    item_id, sent_ms, _ = await _streaming(paced)
    end_ms = sent_ms // 2
    await paced.send(_truncate(item_id, end_ms))
    events = await paced.until("response.done")
    truncated = next(e for e in events if e["type"] == "conversation.item.truncated")
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, end_ms)
    # the response runs on: what it generated is reported in full by the response events ...
    assert events[-1]["response"]["status"] == "completed"
    output = next(e for e in events if e["type"] == "response.output_item.done")["item"]
    assert output["content"][0]["transcript"] == REPLY
    # ... while the conversation keeps the item cut where the client truncated it
    stored = next(e for e in events if e["type"] == "conversation.item.done")["item"]
    assert stored["status"] == "completed" and stored["object"] == "realtime.item"
    assert stored["content"][0]["transcript"] == spoken_prefix(REPLY, end_ms)
    await paced.send({"type": "conversation.item.retrieve", "item_id": item_id})
    retrieved = (await paced.until("conversation.item.retrieved"))[-1]["item"]
    assert retrieved["content"][0]["transcript"] == spoken_prefix(REPLY, end_ms)
    assert len(base64.b64decode(retrieved["content"][0]["audio"])) == end_ms * 48


async def test_truncating_the_streaming_item_then_cancelling(paced: Client) -> None:
    item_id, sent_ms, _ = await _streaming(paced)
    await paced.send(_truncate(item_id, sent_ms))  # all that was sent: allowed
    await paced.send({"type": "response.cancel"})
    events = await paced.until("response.done")
    kinds = [e["type"] for e in events]
    assert kinds.index("conversation.item.truncated") < kinds.index("response.done")
    assert events[-1]["response"]["status"] == "cancelled"
    assert events[-1]["response"]["status_details"]["reason"] == "client_cancelled"
    stored = next(e for e in events if e["type"] == "conversation.item.done")["item"]
    assert stored["status"] == "incomplete"
    assert stored["content"][0]["transcript"] == spoken_prefix(REPLY, sent_ms)
    # a second truncate may only shorten it further
    await paced.send(_truncate(item_id, sent_ms + 1))
    error = (await paced.until("error"))[-1]["error"]
    assert error["message"] == (
        f"Audio content of {sent_ms}ms is already shorter than {sent_ms + 1}ms"
    )


async def test_truncating_past_the_audio_sent_so_far_is_the_live_error(paced: Client) -> None:
    item_id, sent_ms, _ = await _streaming(paced)
    await paced.send(_truncate(item_id, 60_000, event_id="evt_far"))
    events = await paced.until("error")
    error = events[-1]["error"]
    pattern = r"Audio content of (\d+)ms is already shorter than 60000ms"
    match = re.fullmatch(pattern, error["message"])
    assert match is not None and int(match.group(1)) >= sent_ms
    assert (error["code"], error["param"], error["event_id"]) == (
        "invalid_value",
        "audio_end_ms",
        "evt_far",
    )
    done = await paced.until("response.done")  # the response is untouched
    assert done[-1]["response"]["status"] == "completed"
    stored = next(e for e in done if e["type"] == "conversation.item.done")["item"]
    assert stored["content"][0]["transcript"] == REPLY


async def test_only_model_audio_can_be_truncated(client: Client) -> None:
    await client.send(
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}}
    )
    await client.create_text("hello")
    await client.send({"type": "response.create"})
    item_id = (await client.until("response.done"))[-1]["response"]["output"][0]["id"]
    await client.send(_truncate(item_id, 0))
    error = (await client.until("error"))[-1]["error"]
    assert error["message"] == "Only model output audio messages can be truncated"
    assert error["code"] == "unsupported_content_type"


# -- the session schema is the current SDK's ------------------------------------------------


def _session_documents() -> list[dict[str, Any]]:
    return [{**doc, "model": "gpt-realtime"} for doc in sdk_documents(RealtimeSessionCreateRequest)]


def test_every_field_of_the_sdk_request_models_is_accepted() -> None:
    """Walks the installed SDK's request models: every field, literal and union member."""
    for document in _session_documents():
        apply_update(realtime_session("sess_x", "gpt-realtime", 0), document)
    for document in sdk_documents(RealtimeResponseCreateParams):
        check_response_params(document)


async def test_session_fields_are_echoed_in_session_updated(server: RealtimeServer) -> None:
    for url, documents in (
        (server.url(), _session_documents()),
        (
            f"{server.base_url}/realtime?intent=transcription",
            sdk_documents(RealtimeTranscriptionSessionCreateRequest),
        ),
    ):
        async with raw_client(url) as client:
            for document in documents:
                await client.send({"type": "session.update", "session": document})
                updated = await client.recv()
                assert updated["type"] == "session.updated", (document, updated)
                for path, value in leaves(document):
                    assert at(updated["session"], path) == value, path


async def test_every_item_shape_of_the_sdk_can_be_created(server: RealtimeServer) -> None:
    """Every conversation item model (messages of three roles, function items, MCP items), with
    every field set, is accepted by ``conversation.item.create`` and echoed strictly valid."""
    async with raw_client(server.url()) as client:
        for number, document in enumerate(
            document for model in SDK_ITEM_MODELS for document in sdk_documents(model)
        ):
            item = {**document, "id": f"item_{number}"}
            for part in item.get("content") or ():
                if "audio" in part:  # "x" is no audio
                    part["audio"] = base64.b64encode(bytes(4800)).decode()
            await client.send({"type": "conversation.item.create", "item": item})
            added = await client.recv()
            assert added["type"] == "conversation.item.added", (item, added)
            assert (await client.recv())["type"] == "conversation.item.done"


@pytest.mark.parametrize(
    "model", sdk_samples(RealtimeSessionCreateRequest.model_fields["model"].annotation)
)
async def test_every_model_name_the_sdk_knows_is_accepted(
    server: RealtimeServer, model: str
) -> None:
    sdk = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
    async with sdk.realtime.connect(model=model) as connection:
        created = Client(connection)
        assert (await created.recv())["session"]["model"] == model
    await sdk.close()


async def test_the_model_cannot_change_by_session_update(client: Client) -> None:
    same = {"type": "realtime", "model": "gpt-realtime"}
    await client.send({"type": "session.update", "session": same})
    assert (await client.recv())["type"] == "session.updated"  # the same model: fine
    await client.send(
        {"type": "session.update", "session": {"type": "realtime", "model": "gpt-realtime-2"}}
    )
    error = (await client.recv())["error"]
    assert (error["code"], error["param"]) == ("invalid_value", "session.model")


async def test_the_voice_cannot_change_once_audio_was_produced(client: Client) -> None:
    def voice(name: str) -> dict[str, Any]:
        return {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"output": {"voice": name}}},
        }

    await client.send(voice("cedar"))  # before any audio: fine
    assert (await client.recv())["session"]["audio"]["output"]["voice"] == "cedar"
    await client.create_text("hello")
    await client.send({"type": "response.create"})
    assert audio_of(await client.until("response.done"))
    await client.until("rate_limits.updated")
    await client.send(voice("cedar"))  # the same voice again: fine
    assert (await client.recv())["type"] == "session.updated"
    await client.send({**voice("alloy"), "event_id": "evt_voice"})
    error = (await client.recv())["error"]
    assert error == {
        "type": "invalid_request_error",
        "code": "cannot_update_voice",
        "message": "Cannot update a conversation's voice if assistant audio is present.",
        "param": None,
        "event_id": "evt_voice",
    }


# -- parallel tool calls and response.create overrides --------------------------------------


async def _calls(client: Client, **response: Any) -> list[dict[str, Any]]:
    await client.send({"type": "response.create", "response": response})
    done = (await client.until("response.done"))[-1]["response"]
    await client.until("rate_limits.updated")
    return [item for item in done["output"] if item["type"] == "function_call"]


async def test_parallel_tool_calls(client: Client) -> None:
    tools = [WEATHER_TOOL, CALCULATE_TOOL]
    await client.send({"type": "session.update", "session": {"type": "realtime", "tools": tools}})
    assert (await client.recv())["session"]["parallel_tool_calls"] is True
    await client.create_text("What is the weather in Paris and what is 2 + 2?")
    calls = await _calls(client, output_modalities=["text"])
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("calculate", {"expression": "2 + 2"}),
    ]
    assert len({c["call_id"] for c in calls}) == 2
    # off for the session, back on for one response
    await client.send(
        {"type": "session.update", "session": {"type": "realtime", "parallel_tool_calls": False}}
    )
    await client.recv()
    assert len(await _calls(client, output_modalities=["text"])) == 1
    both = await _calls(client, output_modalities=["text"], parallel_tool_calls=True)
    assert len(both) == 2
    # both results go back; the next response answers from them
    for call, output in zip(both, ("sunny", "4"), strict=True):
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": output,
                },
            }
        )
        await client.until("conversation.item.done")
    await client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    done = (await client.until("response.done"))[-1]["response"]
    assert done["output"][0]["content"][0]["text"] == "Here is the result from calculate: 4"


async def test_a_tool_result_does_not_start_a_response_by_itself(client: Client) -> None:
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_x", "output": "42"},
        }
    )
    await client.until("conversation.item.done")
    await client.send({"type": "input_audio_buffer.clear"})
    assert (await client.recv())["type"] == "input_audio_buffer.cleared"  # no response.created


async def test_response_create_accepts_the_newer_fields(client: Client) -> None:
    await client.create_text("hello")
    await client.send(
        {
            "type": "response.create",
            "response": {
                "output_modalities": ["text"],
                "parallel_tool_calls": False,
                "reasoning": {"effort": "low"},
                "prompt": {"id": "pmpt_1", "variables": {"name": "Ada"}},
                "tools": [{"type": "mcp", "server_label": "docs", "server_url": "https://x"}],
                "tool_choice": "auto",
                "audio": {"output": {"voice": {"id": "voice_1234"}}},
            },
        }
    )
    done = (await client.until("response.done"))[-1]["response"]
    assert done["status"] == "completed"


# -- VAD clocks and transcription ----------------------------------------------------------


async def _vad_turn(vad_clock: str) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Push silence, speech and silence in ONE append; return speech_started, speech_stopped
    and the wall time between their arrivals."""
    speech = silence(200) + encode_text("hello there") + silence(400)
    async with (
        serve(realtime_audio=False, vad_clock=vad_clock) as server,  # type: ignore[arg-type]
        raw_client(server.url()) as client,
    ):
        audio = base64.b64encode(speech).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": audio})
        loop = asyncio.get_running_loop()
        started = (await client.until("input_audio_buffer.speech_started"))[-1]
        t0 = loop.time()
        stopped = (await client.until("input_audio_buffer.speech_stopped"))[-1]
        return started, stopped, loop.time() - t0


async def test_arrival_time_vad_spaces_boundaries_like_the_audio() -> None:
    speech_ms = duration_ms(encode_text("hello there"))
    started, stopped, gap = await _vad_turn("arrival")
    assert gap >= 0.8 * speech_ms / 1000  # not 0.3 ms apart, though pushed at once
    fast_started, fast_stopped, _ = await _vad_turn("audio")
    # the positions in the audio are the same in both modes
    assert fast_started["audio_start_ms"] == started["audio_start_ms"]
    assert fast_stopped["audio_end_ms"] == stopped["audio_end_ms"]


async def test_input_transcription_logprobs_when_included(client: Client) -> None:
    async def transcribe(include: list[str] | None) -> list[dict[str, Any]]:
        session: dict[str, Any] = {
            "type": "realtime",
            "include": include,
            "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
        }
        await client.send({"type": "session.update", "session": session})
        await client.recv()
        audio = base64.b64encode(encode_text("two words")).decode()
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_audio", "audio": audio}],
                },
            }
        )
        return await client.until("conversation.item.input_audio_transcription.completed")

    events = await transcribe(["item.input_audio_transcription.logprobs"])
    deltas = [e for e in events if e["type"].endswith("transcription.delta")]
    assert [d["logprobs"][0]["token"] for d in deltas] == ["two ", "words"]
    completed = events[-1]
    assert completed["transcript"] == "two words"
    assert [p["token"] for p in completed["logprobs"]] == ["two ", "words"]
    assert completed["logprobs"][0] == {"token": "two ", "bytes": list(b"two "), "logprob": 0.0}
    events = await transcribe(None)
    assert all("logprobs" not in e for e in events)


def test_noise_reduction_strength_defaults_to_1_and_is_kept() -> None:
    session = realtime_session("sess_x", "gpt-realtime", 0)
    for update, strength in (
        ({"type": "near_field"}, 1.0),  # first enabled: 1, as the SDK documents
        ({"strength": 0.25}, 0.25),
        ({"type": "far_field"}, 0.25),  # omitted: the current strength stays
    ):
        session = apply_update(
            session, {"type": "realtime", "audio": {"input": {"noise_reduction": update}}}
        )
        assert session["audio"]["input"]["noise_reduction"]["strength"] == strength


async def test_integral_decimals_are_integers(client: Client) -> None:
    """``"audio_end_ms": 100.0`` is an integer to the server, as JSON does not tell them apart."""
    await client.create_text("hello")
    await client.send({"type": "response.create"})
    item_id = (await client.until("response.done"))[-1]["response"]["output"][0]["id"]
    await client.send(_truncate(item_id, 100.0, content_index=0.0))  # type: ignore[arg-type]
    truncated = (await client.until("conversation.item.truncated"))[-1]
    assert truncated["audio_end_ms"] == 100 and truncated["content_index"] == 0
