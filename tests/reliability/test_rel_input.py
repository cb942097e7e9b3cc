"""Bad input from users: refused before sending, with the field named (issue 8, point 3)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from rel_helpers import Collector, server_mod, user_text

import rxrealtime.session as rs
from rxrealtime import events as ev
from rxrealtime.errors import EventTooLargeError, InvalidClientEventError
from rxrealtime.validation import (
    MAX_AUDIO_APPEND_BYTES,
    MAX_EVENT_BYTES,
    split_audio,
    validate_client_event,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "events" / "client_events_ga.jsonl"


def test_the_schema_covers_exactly_the_client_event_types() -> None:
    assert set(ev.CLIENT_EVENT_SCHEMA) == set(ev.CLIENT_EVENT_TYPES)


def test_every_documented_client_example_is_valid() -> None:
    examples = [json.loads(line) for line in DATA.read_text().splitlines()]
    checked = 0
    for row in examples:
        example = row.get("example")
        if isinstance(example, dict) and example.get("type") in ev.CLIENT_EVENT_TYPES:
            assert validate_client_event(example) == example["type"]
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        ({}, "type", "needs a 'type'"),
        ({"item": user_text("hi")}, "type", "needs a 'type'"),
        ({"type": 7}, "type", "must be a string"),
        ({"type": "response.make"}, "type", "unknown client event type 'response.make'"),
        ({"type": "session.update"}, "session", "is required"),
        ({"type": "session.update", "session": "fast"}, "session", "must be an object"),
        (
            {
                "type": "conversation.item.truncate",
                "item_id": "i",
                "content_index": "0",
                "audio_end_ms": 10,
            },
            "content_index",
            "must be an integer, got a str",
        ),
        (
            {
                "type": "conversation.item.truncate",
                "item_id": "i",
                "content_index": True,
                "audio_end_ms": 10,
            },
            "content_index",
            "got a boolean",
        ),
        (
            {"type": "input_audio_buffer.append", "audio": b"\x00\x01"},
            "audio",
            "must be a string, got a bytes",
        ),
        (
            {"type": "conversation.item.delete", "item_id": 12},
            "item_id",
            "must be a string, got a int",
        ),
        ({"type": "response.create", "event_id": 5}, "event_id", "must be a string"),
        ({"type": "response.create", "response": ["text"]}, "response", "must be an object"),
        ({"type": "conversation.item.create", "item": {"role": "user"}}, "item.type", "string"),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "robot", "content": []},
            },
            "item.role",
            "robot",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": "hi"},
            },
            "item.content",
            "must be a list",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": 5}],
                },
            },
            "item.content[0].text",
            "must be a string",
        ),
    ],
)
async def test_bad_events_are_refused_before_anything_is_sent(
    event: dict[str, Any], field: str, words: str
) -> None:
    async with (
        server_mod.serve(realtime_audio=False) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        seen = Collector(session)
        with pytest.raises(InvalidClientEventError) as caught:
            await session.send(event)
        assert caught.value.field == field and words in str(caught.value)
        assert isinstance(caught.value, ValueError)
        assert session.statistics().frames_out == 0
        # the session is unharmed
        await session.conversation.item.create(item=user_text("still here"))
        await seen.until_count(ev.ConversationItemDone)
        assert seen.count(ev.ErrorEvent) == 0


def test_split_audio_cuts_on_whole_samples_and_keeps_the_bytes() -> None:
    pcm = bytes(range(256)) * 100  # 25,600 bytes
    pieces = list(split_audio(pcm, limit=6000))
    assert [len(p) for p in pieces] == [6000] * 4 + [1600]
    assert b"".join(pieces) == pcm  # type: ignore[arg-type]
    text = base64.b64encode(pcm).decode()
    decoded = b"".join(base64.b64decode(p, validate=True) for p in split_audio(text, limit=6000))
    assert decoded == pcm
    assert list(split_audio(b"")) == [b""]
    with pytest.raises(ValueError):
        list(split_audio(pcm, limit=1000))
    assert MAX_AUDIO_APPEND_BYTES % 6 == 0
    assert len(base64.b64encode(b"\0" * MAX_AUDIO_APPEND_BYTES)) + 100 < MAX_EVENT_BYTES


async def test_oversize_audio_is_split_by_the_helper_and_refused_by_send() -> None:
    pcm = (b"\x01\x00" * 1000) * (MAX_AUDIO_APPEND_BYTES // 2000 + 500)  # just over one event
    async with (
        server_mod.serve(realtime_audio=False) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        seen = Collector(session)
        await session.session.update(
            session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        )
        encoded = base64.b64encode(pcm).decode()
        with pytest.raises(EventTooLargeError, match="15728640"):
            await session.send({"type": "input_audio_buffer.append", "audio": encoded})
        assert session.statistics().frames_out == 1  # only the session.update went
        await session.input_audio_buffer.append(pcm)
        assert session.statistics().frames_out == 3  # two appends
        await session.input_audio_buffer.commit()
        await seen.until_count(ev.ConversationItemDone)
        assert seen.count(ev.ErrorEvent) == 0
        committed = seen.of(ev.InputAudioBufferCommitted)
        assert len(committed) == 1
