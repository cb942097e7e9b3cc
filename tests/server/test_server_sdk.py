"""The official SDK against the embedded server: text, audio and tool turns, strictly valid."""

from __future__ import annotations

import base64
import json

import openai
from _server_support import (
    CALCULATE_TOOL,
    WEATHER_TOOL,
    Client,
    audio_of,
    text_of,
    validate_strictly,
)

from rxrealtime.server import RealtimeServer, decode_tones, encode_text
from rxrealtime.server.audio import duration_ms, silence

TEXT_TURN = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
    "rate_limits.updated",
]


def _squash(types: list[str]) -> list[str]:
    """Collapse runs of the same event type (deltas) into one entry."""
    out: list[str] = []
    for kind in types:
        if not out or out[-1] != kind:
            out.append(kind)
    return out


async def test_session_created_has_the_live_shape(server: RealtimeServer) -> None:
    sdk = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
    async with sdk.realtime.connect(model="gpt-realtime-mini") as connection:
        created = validate_strictly(await connection.recv_bytes())
    await sdk.close()
    session = created["session"]
    assert created["type"] == "session.created"
    assert session["type"] == "realtime"
    assert session["object"] == "realtime.session"
    assert session["id"].startswith("sess_") and len(session["id"]) == 26
    assert session["model"] == "gpt-realtime-mini"
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session["audio"]["output"]["voice"] == "marin"
    assert isinstance(session["expires_at"], int)


async def test_text_turn_streams_the_full_sequence(client: Client) -> None:
    await client.send(
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}}
    )
    updated = await client.recv()
    assert updated["type"] == "session.updated"
    assert updated["session"]["output_modalities"] == ["text"]

    added = await client.create_text("Hello there!")
    assert [e["type"] for e in added] == ["conversation.item.added", "conversation.item.done"]
    user_id = added[0]["item"]["id"]
    assert user_id.startswith("item_") and added[0]["previous_item_id"] is None

    await client.send({"type": "response.create", "event_id": "evt_client_1"})
    events = await client.until("rate_limits.updated")
    assert _squash([e["type"] for e in events]) == TEXT_TURN
    assert text_of(events) == "Hello! How can I help you today?"

    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["id"].startswith("resp_") and done["object"] == "realtime.response"
    assert done["status"] == "completed" and done["conversation_id"].startswith("conv_")
    assert done["output"][0]["content"] == [
        {"type": "output_text", "text": "Hello! How can I help you today?"}
    ]
    usage = done["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert usage["output_token_details"] == {"text_tokens": 8, "audio_tokens": 0}
    assert usage["input_token_details"]["cached_tokens"] == 0
    assert set(usage["input_token_details"]["cached_tokens_details"]) == {
        "text_tokens",
        "audio_tokens",
        "image_tokens",
    }

    item_added = next(e for e in events if e["type"] == "conversation.item.added")
    assert item_added["previous_item_id"] == user_id
    assert item_added["item"]["status"] == "in_progress" and item_added["item"]["content"] == []
    part_done = next(e for e in events if e["type"] == "response.content_part.done")
    assert part_done["part"] == {"type": "text", "text": "Hello! How can I help you today?"}


async def test_second_turn_reports_cached_tokens(client: Client) -> None:
    long_text = "Please repeat this sentence back to me. " * 40
    await client.create_text(long_text)
    await client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    first = next(
        e for e in await client.until("rate_limits.updated") if e["type"] == "response.done"
    )["response"]["usage"]
    await client.create_text("hi")
    await client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    second = next(
        e for e in await client.until("rate_limits.updated") if e["type"] == "response.done"
    )["response"]["usage"]
    cached = second["input_token_details"]["cached_tokens"]
    assert cached > 0 and cached % 64 == 0 and cached <= first["input_tokens"]
    assert second["input_token_details"]["cached_tokens_details"]["text_tokens"] == cached


async def test_audio_turn_with_manual_commit_gets_audio_out(client: Client) -> None:
    await client.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        }
    )
    assert (await client.recv())["session"]["audio"]["input"]["turn_detection"] is None

    spoken = silence(100) + encode_text("hello") + silence(100)
    for offset in range(0, len(spoken), 4800):
        chunk = spoken[offset : offset + 4800]
        await client.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()}
        )
    await client.send({"type": "input_audio_buffer.commit"})
    committed = await client.until("conversation.item.done")
    assert [e["type"] for e in committed] == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert committed[1]["item"]["content"] == [{"type": "input_audio", "transcript": None}]

    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    kinds = {e["type"] for e in events}
    assert {
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
    } <= kinds
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")[
        "transcript"
    ]
    assert transcript == "Hello! How can I help you today?"
    pcm = audio_of(events)
    assert decode_tones(pcm) == transcript.lower()
    assert duration_ms(pcm) > 1000
    usage = events[-1]["response"]["usage"]
    assert usage["input_token_details"]["audio_tokens"] > 0
    assert usage["output_token_details"]["audio_tokens"] == -(-int(duration_ms(pcm)) // 50)
    assert events[-1]["response"]["audio"]["output"]["format"] == {
        "type": "audio/pcm",
        "rate": 24000,
    }


async def test_audio_turn_with_server_vad_and_transcription(client: Client) -> None:
    await client.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "tools": [WEATHER_TOOL],
                "audio": {
                    "input": {
                        "transcription": {"model": "gpt-4o-mini-transcribe"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                    }
                },
            },
        }
    )
    session = (await client.recv())["session"]
    assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 300
    assert session["audio"]["input"]["turn_detection"]["prefix_padding_ms"] == 300

    words = encode_text("what is the weather in paris")
    speech = silence(500) + words + silence(600)
    for offset in range(0, len(speech), 9600):
        await client.send(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(speech[offset : offset + 9600]).decode(),
            }
        )
    events = await client.until("response.done")
    kinds = [e["type"] for e in events]
    assert kinds[:5] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    started, stopped, committed = events[0], events[1], events[2]
    assert started["audio_start_ms"] == 200  # onset at 500 ms minus 300 ms prefix padding
    last_tone_end = 500 + duration_ms(words) - 10  # every tone is followed by 10 ms of gap
    assert last_tone_end + 300 <= stopped["audio_end_ms"] <= last_tone_end + 310
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]

    completed = next(
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    assert completed["transcript"] == "what is the weather in paris"
    deltas = [
        e["delta"]
        for e in events
        if e["type"] == "conversation.item.input_audio_transcription.delta"
    ]
    assert "".join(deltas) == completed["transcript"] and len(deltas) == 6
    assert completed["usage"]["type"] == "tokens"
    assert kinds.index("conversation.item.input_audio_transcription.completed") < kinds.index(
        "response.created"
    )

    call = events[-1]["response"]["output"][0]
    assert call["type"] == "function_call" and call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "Paris"}

    await client.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    retrieved = (await client.until("conversation.item.retrieved"))[-1]["item"]
    assert retrieved["object"] == "realtime.item"
    assert retrieved["content"][0]["transcript"] == "what is the weather in paris"
    assert decode_tones(base64.b64decode(retrieved["content"][0]["audio"])) == (
        "what is the weather in paris"
    )


async def test_tool_round_trip(client: Client) -> None:
    await client.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "output_modalities": ["text"],
                "tools": [WEATHER_TOOL, CALCULATE_TOOL],
            },
        }
    )
    await client.recv()
    await client.create_text("What's the weather like in New York today?")
    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    assert _squash([e["type"] for e in events]) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    deltas = "".join(
        e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"
    )
    assert done["name"] == "get_weather" and done["arguments"] == deltas
    assert json.loads(done["arguments"]) == {"city": "New York"}
    assert done["call_id"].startswith("call_") and len(done["call_id"]) == 21
    added = next(e for e in events if e["type"] == "response.output_item.added")["item"]
    assert added == {
        "id": done["item_id"],
        "object": "realtime.item",
        "type": "function_call",
        "status": "in_progress",
        "name": "get_weather",
        "call_id": done["call_id"],
        "arguments": "",
    }
    await client.until("rate_limits.updated")

    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": done["call_id"],
                "output": '{"temperature_c": 21, "sky": "clear"}',
            },
        }
    )
    await client.until("conversation.item.done")
    await client.send({"type": "response.create"})
    answer = await client.until("response.done")
    assert text_of(answer) == (
        'Here is the result from get_weather: {"temperature_c": 21, "sky": "clear"}'
    )


async def test_calculator_tool_and_tool_choice_none(client: Client) -> None:
    await client.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "output_modalities": ["text"],
                "tools": [CALCULATE_TOOL],
            },
        }
    )
    await client.recv()
    await client.create_text("what is 12 times 3 plus 4?")
    await client.send({"type": "response.create"})
    call = (await client.until("response.done"))[-1]["response"]["output"][0]
    assert call["name"] == "calculate"
    assert json.loads(call["arguments"]) == {"expression": "12 * 3 + 4"}
    await client.until("rate_limits.updated")

    await client.send({"type": "response.create", "response": {"tool_choice": "none"}})
    assert text_of(await client.until("response.done")) == "12 * 3 + 4 = 40."


async def test_transcription_session(server: RealtimeServer) -> None:
    sdk = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
    async with sdk.realtime.connect(extra_query={"intent": "transcription"}) as connection:
        client = Client(connection)
        session = (await client.recv())["session"]
        assert session["type"] == "transcription"
        assert session["object"] == "realtime.transcription_session"
        speech = silence(300) + encode_text("good morning") + silence(500)
        await client.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(speech).decode()}
        )
        events = await client.until("conversation.item.input_audio_transcription.completed")
        assert events[-1]["transcript"] == "good morning"
        await client.send({"type": "response.create", "event_id": "evt_r"})
        error = await client.recv()
        assert error["type"] == "error" and error["error"]["event_id"] == "evt_r"
    await sdk.close()
