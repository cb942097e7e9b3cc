"""Helpers for the embedded server's tests: the official SDK as client, and strict validation
of every frame against the SDK's GA pydantic models."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from openai.types.realtime import RealtimeServerEvent
from pydantic import BaseModel, TypeAdapter

SERVER_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
CALCULATE_TOOL = {
    "type": "function",
    "name": "calculate",
    "description": "Evaluate arithmetic",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
}


def validate_strictly(raw: bytes | str) -> dict[str, Any]:
    """Validate one server frame strictly against the SDK's GA union; return it as a dict.

    Fails when the frame would only pass the SDK's lenient construct path: wrong field types,
    missing required fields, a union member whose ``type`` literal differs, or unknown
    top-level keys.
    """
    event = SERVER_EVENTS.validate_json(raw, strict=True)
    assert isinstance(event, BaseModel)
    data: dict[str, Any] = orjson.loads(raw)
    assert event.type == data["type"], (type(event).__name__, data["type"])  # type: ignore[attr-defined]
    assert not event.model_extra, f"unexpected top-level keys {event.model_extra}"
    if "event_id" in data:
        assert data["event_id"].startswith("event_")
    return data


class Client:
    """The official SDK's GA connection plus strict validation of everything received."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.received: list[dict[str, Any]] = []

    async def recv(self) -> dict[str, Any]:
        data = validate_strictly(await self.connection.recv_bytes())
        self.received.append(data)
        return data

    async def until(self, kind: str) -> list[dict[str, Any]]:
        """Receive events up to and including the first of type ``kind``."""
        events: list[dict[str, Any]] = []
        while True:
            event = await self.recv()
            events.append(event)
            if event["type"] == kind:
                return events

    async def send(self, event: dict[str, Any]) -> None:
        await self.connection.send(event)

    async def create_text(self, text: str) -> list[dict[str, Any]]:
        await self.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        return await self.until("conversation.item.done")


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


def audio_of(events: list[dict[str, Any]]) -> bytes:
    return b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    )
