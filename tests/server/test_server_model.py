"""The default model's documented replies, and plugging in another model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import openai
import pytest
from _server_support import CALCULATE_TOOL, WEATHER_TOOL, Client, text_of

from rxrealtime.server import (
    DefaultModel,
    Message,
    Model,
    PlannedOutput,
    ResponseRequest,
    ToolCall,
    encode_text,
    serve,
)


def _user(text: str) -> dict[str, Any]:
    return {
        "id": "item_u",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


async def _reply(text: str, **options: Any) -> PlannedOutput:
    outputs = await DefaultModel().respond(ResponseRequest(items=(_user(text),), **options))
    assert len(outputs) == 1
    return outputs[0]


@pytest.mark.parametrize(
    ("words", "reply"),
    [
        ("hello", "Hello! How can I help you today?"),
        ("Hi, who are you?", "Hello! How can I help you today?"),
        ("Good evening", "Hello! How can I help you today?"),
        ("", "Hello! How can I help you today?"),
        ("this is a test", 'You said: "this is a test".'),
        ("what is 2 + 2?", "2 + 2 = 4."),
        ("what's 3 times 4 minus 1", "3 * 4 - 1 = 11."),
        ("10 divided by 4", "10 / 4 = 2.5."),
        ("compute (1+2)*3", "(1+2)*3 = 9."),
        ("what is 1 / 0", "I cannot divide by zero."),
        (
            "what's the weather in Rome?",
            "I cannot check the weather in Rome without a weather tool.",
        ),
        ("weather please", "I cannot check the weather in San Francisco without a weather tool."),
    ],
)
async def test_text_replies(words: str, reply: str) -> None:
    assert await _reply(words) == Message(reply)


@pytest.mark.parametrize(
    ("words", "call"),
    [
        ("What's the weather in Paris?", ToolCall("get_weather", '{"city": "Paris"}')),
        ("forecast for los angeles tomorrow", ToolCall("get_weather", '{"city": "Los Angeles"}')),
        ("please calculate 7 * 6", ToolCall("calculate", '{"expression": "7 * 6"}')),
        ("what is 2 plus 2", ToolCall("calculate", '{"expression": "2 + 2"}')),
    ],
)
async def test_tool_calls(words: str, call: ToolCall) -> None:
    tools = (WEATHER_TOOL, CALCULATE_TOOL)
    assert await _reply(words, tools=tools) == call
    assert await _reply(words, tools=tools, tool_choice="none") != call


async def test_forced_tool_choice() -> None:
    tools = (WEATHER_TOOL, CALCULATE_TOOL)
    assert await _reply("hello", tools=tools, tool_choice="required") == ToolCall(
        "get_weather", '{"city": "San Francisco"}'
    )
    assert await _reply(
        "hello", tools=tools, tool_choice={"type": "function", "name": "calculate"}
    ) == ToolCall("calculate", '{"expression": "hello"}')
    other = {"type": "function", "name": "lookup"}
    assert await _reply("hello", tools=(other,), tool_choice="required") == ToolCall("lookup", "{}")


async def test_function_output_reply_and_uppercase() -> None:
    items = (
        _user("weather in Paris?"),
        {
            "id": "item_c",
            "type": "function_call",
            "name": "get_weather",
            "call_id": "call_1",
            "arguments": "{}",
        },
        {"id": "item_o", "type": "function_call_output", "call_id": "call_1", "output": " 21C "},
    )
    request = ResponseRequest(items=items, instructions="Reply in uppercase please.")
    assert await DefaultModel().respond(request) == [
        Message("HERE IS THE RESULT FROM GET_WEATHER: 21C")
    ]
    orphan = ResponseRequest(items=items[2:])
    assert await DefaultModel().respond(orphan) == [
        Message("Here is the result from the tool: 21C")
    ]


async def test_audio_items_are_transcribed() -> None:
    model = DefaultModel()
    assert await model.transcribe(encode_text("what is 5 - 2")) == "what is 5 - 2"
    assert await model.transcribe(bytes(48 * 1500)) == "(1.5 seconds of audio)"
    item = {
        "id": "item_a",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    request = ResponseRequest(items=(item,), input_audio={"item_a": encode_text("what is 5 - 2")})
    assert await model.respond(request) == [Message("5 - 2 = 3.")]
    assert isinstance(model, Model)


class _TwoOutputs:
    """A custom model: a message then a tool call, in one response."""

    async def respond(self, request: ResponseRequest) -> Sequence[PlannedOutput]:
        return [Message(f"{len(request.items)} items"), ToolCall("log", json.dumps({"n": 1}))]

    async def transcribe(self, pcm: bytes) -> str:
        return "custom"


async def test_a_custom_model_plugs_in() -> None:
    async with serve(realtime_audio=False, model=_TwoOutputs()) as server:
        sdk = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
        async with sdk.realtime.connect(model="gpt-realtime") as connection:
            client = Client(connection)
            await client.recv()
            await client.create_text("anything")
            await client.send(
                {"type": "response.create", "response": {"output_modalities": ["text"]}}
            )
            events = await client.until("response.done")
        await sdk.close()
    assert text_of(events) == "1 items"
    output = events[-1]["response"]["output"]
    assert [o["type"] for o in output] == ["message", "function_call"]
    call_done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert call_done["output_index"] == 1 and call_done["name"] == "log"
