"""Helpers for the embedded server's tests: the official SDK as client, and strict validation
of every frame against the SDK's GA pydantic models."""

from __future__ import annotations

import base64
import contextlib
import types
import typing
from collections.abc import AsyncIterator
from typing import Any

import orjson
from openai.types.realtime import ConversationItem, RealtimeServerEvent
from pydantic import BaseModel, TypeAdapter
from websockets.asyncio.client import ClientConnection, connect

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


class RawClient:
    """A plain websockets client: frames exactly as given, every frame received validated
    strictly (for clients that send what the SDK would not)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    async def recv(self) -> dict[str, Any]:
        data = validate_strictly(await self.ws.recv())
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

    async def send(self, event: dict[str, Any] | str) -> None:
        await self.ws.send(event if isinstance(event, str) else orjson.dumps(event).decode())

    async def error_for(self, event: dict[str, Any] | str) -> dict[str, Any]:
        """Send ``event``; return the ``error`` object of the error event it gets."""
        await self.send(event)
        received = await self.recv()
        assert received["type"] == "error", received
        error: dict[str, Any] = received["error"]
        return error

    async def still_usable(self) -> None:
        """The session still answers: a good event gets its normal answer."""
        await self.send({"type": "input_audio_buffer.clear"})
        assert (await self.recv())["type"] == "input_audio_buffer.cleared"


@contextlib.asynccontextmanager
async def raw_client(url: str, **options: Any) -> AsyncIterator[RawClient]:
    """A :class:`RawClient` on ``url``, past ``session.created``."""
    async with connect(url, max_size=None, **options) as ws:
        client = RawClient(ws)
        assert (await client.recv())["type"] == "session.created"
        yield client


def _members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        found: list[Any] = []
        for member in typing.get_args(annotation):
            if member is not type(None):
                found.extend(_members(member))
        return found
    return [annotation]


def sdk_samples(annotation: Any) -> list[Any]:
    """Valid values for an SDK field annotation: every literal, every union member, every
    field of nested models (see :func:`sdk_documents`). A plain ``str`` beside literals (an
    open enumeration, ``Union[str, Literal[...]]``) is represented by its literals."""
    members = _members(annotation)
    if any(typing.get_origin(member) is typing.Literal for member in members):
        members = [m for m in members if typing.get_origin(m) is typing.Literal] + [
            m for m in members if m is not str and typing.get_origin(m) is not typing.Literal
        ]
    values: list[Any] = []
    for member in members:
        origin = typing.get_origin(member)
        if origin is typing.Literal:
            values.extend(typing.get_args(member))
        elif member is str:
            values.append("x")
        elif member is bool:
            values.append(True)
        elif member is int:
            values.append(1)
        elif member is float:
            values.append(0.5)
        elif member is object:
            values.append({"type": "object"})
        elif origin is list:
            values.extend([value] for value in sdk_samples(typing.get_args(member)[0]))
        elif origin is dict:
            values.extend({"k": value} for value in sdk_samples(typing.get_args(member)[1]))
        elif isinstance(member, type) and issubclass(member, BaseModel):
            values.extend(sdk_documents(member))
        else:
            raise AssertionError(f"unexpected SDK annotation {member!r}")
    return values


def sdk_documents(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Documents that set every field of ``model``: one with the first sample of each field,
    then one per further sample of a field (so every literal and union member appears)."""
    per_field = {name: sdk_samples(field.annotation) for name, field in model.model_fields.items()}
    base = {name: values[0] for name, values in per_field.items()}
    documents = [base]
    for name, values in per_field.items():
        documents.extend({**base, name: value} for value in values[1:])
    return documents


def leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """``(dotted path, value)`` of every non-object value in ``value`` (lists are leaves)."""
    if isinstance(value, dict) and value:
        found: list[tuple[str, Any]] = []
        for key, item in value.items():
            found.extend(leaves(item, f"{path}.{key}" if path else key))
        return found
    return [(path, value)]


def at(value: Any, path: str) -> Any:
    for key in path.split("."):
        value = value[key]
    return value


SDK_ITEM_MODELS: list[type[BaseModel]] = _members(ConversationItem)
"""The SDK's conversation item models (the members of its ``ConversationItem`` union)."""
