"""Shared data for the events tests: fixture files, the SDK oracle, hand-written examples."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "events"
GA_SERVER = DATA / "server_events_ga.jsonl"
BETA_SERVER = DATA / "server_events_beta.jsonl"
GA_CLIENT = DATA / "client_events_ga.jsonl"
CAPTURE = DATA.parent / "liusida-dictionary_beta_text_response.jsonl"


def spec_examples(path: Path) -> Iterator[tuple[str, Any]]:
    """(type, example) of the spec examples that are valid JSON."""
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["example"] is not None:
            yield record["type"], record["example"]


def spec_raw_examples(path: Path) -> Iterator[tuple[str, str]]:
    """(type, text) of the spec examples that are not valid JSON as published."""
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["example"] is None:
            yield record["type"], record["example_raw"]


def union_members(union: Any) -> dict[str, Any]:
    """Wire type -> pydantic model, for an SDK (possibly annotated) union of events."""
    args = typing.get_args(union)
    if typing.get_origin(union) is typing.Annotated:
        args = typing.get_args(args[0])
    members = {}
    for member in args:
        (wire,) = typing.get_args(member.model_fields["type"].annotation)
        members[wire] = member
    return members


def strip_nulls(value: Any) -> Any:
    """``value`` with every ``null`` object member removed, recursively."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [strip_nulls(v) for v in value]
    return value


_RESPONSE = {
    "object": "realtime.response",
    "id": "resp_C9G8p7IH2WxLbkgPNouYL",
    "status": "in_progress",
    "status_details": None,
    "output": [],
    "conversation_id": "conv_C9G8mmBkLhQJwCon3hoJN",
    "output_modalities": ["audio"],
    "max_output_tokens": "inf",
    "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
    "usage": None,
    "metadata": None,
}

_REALTIME_SESSION = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_C9G5QPteg4UIbotdKLoYQ",
    "model": "gpt-realtime-2025-08-28",
    "output_modalities": ["audio"],
    "instructions": "Be brief.",
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {
            "type": "mcp",
            "server_label": "docs",
            "server_url": "https://example.com/mcp",
            "require_approval": "never",
            "allowed_tools": ["search"],
        },
    ],
    "tool_choice": {"type": "function", "name": "get_weather"},
    "max_output_tokens": 4096,
    "tracing": "auto",
    "truncation": {"type": "retention_ratio", "retention_ratio": 0.8},
    "prompt": None,
    "expires_at": 1756324625,
    "parallel_tool_calls": True,
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": ""},
            "noise_reduction": {"type": "near_field"},
            "turn_detection": {
                "type": "semantic_vad",
                "eagerness": "auto",
                "create_response": True,
                "interrupt_response": True,
            },
        },
        "output": {"format": {"type": "audio/pcma"}, "voice": {"id": "voice_123"}, "speed": 1.1},
    },
    "include": ["item.input_audio_transcription.logprobs"],
}

HAND_WRITTEN: list[dict[str, Any]] = [
    {"type": "input_audio_buffer.dtmf_event_received", "event": "9", "received_at": 1763605109},
    {"type": "response.created", "event_id": "event_C9G8pqbTEddBSIxbBN6Os", "response": _RESPONSE},
    {
        "type": "session.created",
        "event_id": "event_C9G5RJeJ2gF77mV7f2B1j",
        "session": _REALTIME_SESSION,
    },
    {
        "type": "session.updated",
        "event_id": "event_C9G8mqI3IucaojlVKE8Cs",
        "session": {
            "type": "transcription",
            "id": "sess_001",
            "object": "realtime.transcription_session",
            "expires_at": 1756324625,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "gpt-4o-mini-transcribe", "language": "de"},
                    "noise_reduction": {"type": "far_field"},
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 500,
                        "idle_timeout_ms": None,
                    },
                }
            },
            "include": [],
        },
    },
    {
        "type": "conversation.item.retrieved",
        "event_id": "event_CCXGSizgEppa2d4XbKA7K",
        "item": {
            "id": "item_CCXGRxbY0n6WE4EszhF5w",
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [
                {"type": "input_audio", "transcript": "Is it raining?", "audio": "AAAA"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
                {"type": "input_text", "text": "and tomorrow?"},
            ],
        },
    },
    {
        "type": "response.output_item.done",
        "event_id": "event_3536",
        "response_id": "resp_001",
        "output_index": 0,
        "item": {
            "id": "fc_001",
            "object": "realtime.item",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_001",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
        },
    },
    # more than the 46: nested variety the spec examples do not cover
    {
        "type": "response.done",
        "event_id": "event_9",
        "response": {
            **_RESPONSE,
            "status": "failed",
            "status_details": {
                "type": "failed",
                "error": {"type": "server_error", "code": "internal", "message": "boom"},
            },
            "output": [
                {
                    "type": "message",
                    "role": "system",
                    "content": [{"type": "input_text", "text": "Be brief."}],
                },
                {"type": "function_call_output", "call_id": "call_001", "output": "7 C"},
                {
                    "type": "mcp_list_tools",
                    "id": "mcp_1",
                    "server_label": "docs",
                    "tools": [
                        {
                            "name": "search",
                            "input_schema": {"type": "object"},
                            "description": "Search the docs",
                        }
                    ],
                },
                {
                    "type": "mcp_call",
                    "id": "mcp_2",
                    "server_label": "docs",
                    "name": "search",
                    "arguments": "{}",
                    "error": {"type": "http_error", "code": 502, "message": "bad gateway"},
                },
                {
                    "type": "mcp_approval_request",
                    "id": "mcp_3",
                    "server_label": "docs",
                    "name": "search",
                    "arguments": "{}",
                },
                {
                    "type": "mcp_approval_response",
                    "id": "mcp_4",
                    "approval_request_id": "mcp_3",
                    "approve": False,
                    "reason": "no",
                },
            ],
            "metadata": {"topic": "weather"},
        },
    },
    {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": "event_10",
        "item_id": "item_1",
        "content_index": 0,
        "transcript": "Hej",
        "usage": {"type": "duration", "seconds": 1.5},
        "logprobs": [{"token": "Hej", "logprob": -0.1, "bytes": [72, 101, 106]}],
        "languages": [{"code": "sv"}],
    },
]
"""Examples (valid for the SDK's GA models) for the types whose spec example is missing or
invalid, and a few more for nested kinds no spec example shows."""
