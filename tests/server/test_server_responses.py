"""Responses: options, out-of-band, cancel, conflicts, truncation and item management."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import openai
import pytest
from _server_support import WEATHER_TOOL, Client, audio_of, text_of

from rxrealtime.server import RealtimeServer, encode_text, serve
from rxrealtime.server.audio import duration_ms, silence


@pytest.fixture
async def paced_client() -> AsyncIterator[Client]:
    """A client on a server that streams audio in real time (for mid-stream actions)."""
    async with serve(realtime_audio=True) as server:
        sdk = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
        async with sdk.realtime.connect(model="gpt-realtime") as connection:
            client = Client(connection)
            await client.recv()
            yield client
        await sdk.close()


async def test_per_response_options_override_the_session(client: Client) -> None:
    await client.create_text("hello")
    await client.send(
        {
            "type": "response.create",
            "response": {
                "output_modalities": ["text"],
                "instructions": "Answer in UPPERCASE.",
                "metadata": {"topic": "greeting"},
                "max_output_tokens": 200,
            },
        }
    )
    events = await client.until("response.done")
    assert text_of(events) == "HELLO! HOW CAN I HELP YOU TODAY?"
    response = events[-1]["response"]
    assert response["metadata"] == {"topic": "greeting"}
    assert response["output_modalities"] == ["text"]
    assert response["max_output_tokens"] == 200
    created = events[0]["response"]
    assert created["status"] == "in_progress" and created["usage"] is None
    assert created["metadata"] == {"topic": "greeting"}


async def test_per_response_tools(client: Client) -> None:
    await client.create_text("Is there a weather forecast for Oslo?")
    await client.send(
        {
            "type": "response.create",
            "response": {"output_modalities": ["text"], "tools": [WEATHER_TOOL]},
        }
    )
    output = (await client.until("response.done"))[-1]["response"]["output"][0]
    assert json.loads(output["arguments"]) == {"city": "Oslo"}
    await client.until("rate_limits.updated")
    await client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    # the session has no tools: the model answers in words
    assert text_of(await client.until("response.done")) == (
        "I cannot check the weather in Oslo without a weather tool."
    )


async def test_out_of_band_response_leaves_the_conversation_alone(client: Client) -> None:
    await client.create_text("hello")
    await client.send(
        {
            "type": "response.create",
            "response": {
                "conversation": "none",
                "output_modalities": ["text"],
                "input": [
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "what is 6 / 4"}],
                    }
                ],
            },
        }
    )
    events = await client.until("response.done")
    assert text_of(events) == "6 / 4 = 1.5."
    assert not any(e["type"].startswith("conversation.item") for e in events)
    assert events[-1]["response"]["conversation_id"] is None


async def test_item_reference_input(client: Client) -> None:
    first = (await client.create_text("say 7 minus 10"))[0]["item"]["id"]
    await client.create_text("hello")
    await client.send(
        {
            "type": "response.create",
            "response": {
                "conversation": "none",
                "output_modalities": ["text"],
                "input": [{"type": "item_reference", "id": first}],
            },
        }
    )
    assert text_of(await client.until("response.done")) == "7 - 10 = -3."
    await client.send(
        {
            "type": "response.create",
            "event_id": "evt_ref",
            "response": {"input": [{"type": "item_reference", "id": "item_missing"}]},
        }
    )
    error = (await client.until("error"))[-1]["error"]
    assert error["event_id"] == "evt_ref" and error["param"] == "response.input[0].id"


async def test_max_output_tokens_makes_the_response_incomplete(client: Client) -> None:
    await client.create_text("hello")
    await client.send(
        {
            "type": "response.create",
            "response": {"output_modalities": ["text"], "max_output_tokens": 2},
        }
    )
    events = await client.until("response.done")
    assert text_of(events) == "Hello! H"
    assert events[-1]["response"]["status"] == "incomplete"
    assert events[-1]["response"]["status_details"] == {
        "type": "incomplete",
        "reason": "max_output_tokens",
    }


async def test_cancel_mid_stream(paced_client: Client) -> None:
    client = paced_client
    await client.create_text("hello")
    await client.send({"type": "response.create"})
    events = await client.until("response.output_audio.delta")
    response_id = events[0]["response"]["id"]
    await client.send({"type": "response.create", "event_id": "evt_second"})
    await client.send({"type": "response.cancel", "event_id": "evt_cancel"})
    events += await client.until("response.done")
    conflict = next(e for e in events if e["type"] == "error")["error"]
    assert conflict["code"] == "conversation_already_has_active_response"
    assert conflict["event_id"] == "evt_second"
    assert response_id in conflict["message"]

    done = events[-1]["response"]
    assert done["id"] == response_id and done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "client_cancelled"
    item = done["output"][0]
    assert item["status"] == "incomplete"
    heard = duration_ms(audio_of(events))
    assert 0 < heard < 1000  # the whole answer would be about 1.3 s
    transcript = item["content"][0]["transcript"]
    assert "Hello! How can I help you today?".startswith(transcript)
    assert transcript != "Hello! How can I help you today?"

    # the item holds only the audio that was sent: truncating past it fails like the live service
    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": 5000,
        }
    )
    error = (await client.until("error"))[-1]["error"]
    assert error["message"] == f"Audio content of {int(heard)}ms is already shorter than 5000ms"

    await client.send({"type": "response.cancel", "event_id": "evt_again"})
    error = (await client.until("error"))[-1]["error"]
    assert error["code"] == "response_cancel_not_active" and error["event_id"] == "evt_again"


async def test_truncate(client: Client) -> None:
    await client.create_text("hello")
    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    item = events[-1]["response"]["output"][0]
    total = int(duration_ms(audio_of(events)))
    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": 500,
        }
    )
    truncated = (await client.until("conversation.item.truncated"))[-1]
    assert truncated == {
        **truncated,
        "item_id": item["id"],
        "content_index": 0,
        "audio_end_ms": 500,
    }
    await client.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
    retrieved = (await client.until("conversation.item.retrieved"))[-1]["item"]
    # 40 ms per character, 60 ms per space: "Hello! How " lasts 480 ms, "c" would end at 520
    assert retrieved["content"][0]["transcript"] == "Hello! How "
    assert total > 1000

    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": total,
            "event_id": "evt_t",
        }
    )
    error = (await client.until("error"))[-1]["error"]
    assert error["message"] == f"Audio content of 500ms is already shorter than {total}ms"
    assert error["event_id"] == "evt_t" and error["type"] == "invalid_request_error"

    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": "item_nope",
            "content_index": 0,
            "audio_end_ms": 0,
        }
    )
    error = (await client.until("error"))[-1]["error"]
    assert error["code"] == "item_truncate_invalid_item_id" and error["param"] == "item_id"

    user_id = events[2]["previous_item_id"]
    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": user_id,
            "content_index": 0,
            "audio_end_ms": 0,
        }
    )
    error = (await client.until("error"))[-1]["error"]
    assert error["message"] == "Only model output audio messages can be truncated"
    assert error["code"] == "unsupported_content_type"


async def test_delete_retrieve_and_insert_positions(client: Client) -> None:
    first = (await client.create_text("one"))[0]["item"]["id"]
    third = (await client.create_text("three"))[0]["item"]["id"]
    await client.send(
        {
            "type": "conversation.item.create",
            "previous_item_id": first,
            "item": {
                "id": "item_custom_two",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "two"}],
            },
        }
    )
    added = (await client.until("conversation.item.done"))[0]
    assert added["previous_item_id"] == first and added["item"]["id"] == "item_custom_two"
    await client.send(
        {
            "type": "conversation.item.create",
            "previous_item_id": "root",
            "item": {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": "zero"}],
            },
        }
    )
    assert (await client.until("conversation.item.done"))[0]["previous_item_id"] is None

    await client.send({"type": "conversation.item.delete", "item_id": third})
    assert (await client.recv()) == {
        **client.received[-1],
        "type": "conversation.item.deleted",
        "item_id": third,
    }
    for verb, gerund in (("delete", "deleting"), ("retrieve", "retrieving")):
        await client.send(
            {"type": f"conversation.item.{verb}", "item_id": third, "event_id": f"evt_{verb}"}
        )
        error = (await client.recv())["error"]
        assert error["code"] == f"item_{verb}_invalid_item_id"
        assert error["message"] == (
            f"Error {gerund} item: the item with id '{third}' does not exist."
        )
        assert error["event_id"] == f"evt_{verb}"

    await client.send(
        {
            "type": "conversation.item.create",
            "previous_item_id": "item_ghost",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "x"}],
            },
        }
    )
    assert (await client.recv())["error"]["param"] == "previous_item_id"

    # the model sees the conversation in order: the last user message is "two"
    await client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    assert text_of(await client.until("response.done")) == 'You said: "two".'


async def test_model_failure_fails_the_response_only(server: RealtimeServer) -> None:
    class Broken:
        async def respond(self, request: object) -> list[object]:
            raise RuntimeError("model exploded")

        async def transcribe(self, pcm: bytes) -> str:
            return ""

    async with serve(realtime_audio=False, model=Broken()) as broken:  # type: ignore[arg-type]
        sdk = openai.AsyncOpenAI(api_key="test", websocket_base_url=broken.base_url)
        async with sdk.realtime.connect(model="gpt-realtime") as connection:
            client = Client(connection)
            await client.recv()
            await client.send({"type": "response.create"})
            done = (await client.until("response.done"))[-1]["response"]
            assert done["status"] == "failed"
            assert done["status_details"]["error"]["message"] == "model exploded"
            await client.create_text("still alive")
        await sdk.close()


async def test_speech_interrupts_the_active_response(paced_client: Client) -> None:
    client = paced_client
    await client.create_text("hello")
    await client.send({"type": "response.create"})
    await client.until("response.output_audio.delta")
    speech = encode_text("stop") + silence(300)
    await client.send(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(speech).decode()}
    )
    events = await client.until("response.done")
    kinds = [e["type"] for e in events]
    # arrival-time VAD: speech_started cancels the response at once; the turn is committed
    # once its audio (and the silence after it) has played on the input clock
    assert "input_audio_buffer.speech_started" in kinds
    assert events[-1]["response"]["status"] == "cancelled"
    assert events[-1]["response"]["status_details"]["reason"] == "turn_detected"
    # create_response: once the interrupted response has ended, the new turn gets its answer
    answer = await client.until("response.done")
    kinds = [e["type"] for e in events + answer]
    assert kinds.index("input_audio_buffer.speech_stopped") < kinds.index(
        "input_audio_buffer.committed"
    )
    assert kinds.index("input_audio_buffer.committed") < len(events) + [
        e["type"] for e in answer
    ].index("response.created")
    assert answer[-1]["response"]["status"] == "completed"
    transcript = "".join(
        e["delta"] for e in answer if e["type"] == "response.output_audio_transcript.delta"
    )
    assert transcript == 'You said: "stop".'


async def test_out_of_band_without_input_reads_the_conversation(client: Client) -> None:
    await client.create_text("what is 3 - 5")
    await client.send(
        {
            "type": "response.create",
            "response": {
                "conversation": "none",
                "output_modalities": ["text"],
                "metadata": {"kind": "summary"},
            },
        }
    )
    events = await client.until("response.done")
    assert text_of(events) == "3 - 5 = -2."
    assert events[-1]["response"]["metadata"] == {"kind": "summary"}
    assert not any(e["type"].startswith("conversation.item") for e in events)
