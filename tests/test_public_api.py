"""The documented public surface (DESIGN.md "Public contract") exists and ``__all__`` matches it."""

from __future__ import annotations

import inspect

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops

DOCUMENTED_TOP_LEVEL = {
    "connect",
    "replay",
    "events",
    "operators",
    "sinks",
    "scheduling",
    "errors",
    "RealtimeSession",
    "from_sdk_connection",
    "to_async_iterable",
    "observe_on_thread",
    "LoopScheduler",
}
DOCUMENTED_EVENTS = {
    "decode",
    "encode",
    "UnknownEvent",
    "InvalidEvent",
    "ServerEvent",
    "ClientEvent",
}
DOCUMENTED_OPERATORS = {"text_only", "accumulate_deltas", "audio_chunks", "tool_calls", "of_type"}


def test_all_lists_exactly_what_exists() -> None:
    for module in (rr, ev, ops, rr.sinks, rr.scheduling, rr.errors):
        exported = set(module.__all__)
        assert len(exported) == len(module.__all__), f"{module.__name__}.__all__ has duplicates"
        missing = {name for name in exported if not hasattr(module, name)}
        assert not missing, f"{module.__name__}.__all__ names what does not exist: {missing}"


def test_documented_names_are_exported() -> None:
    assert set(rr.__all__) >= DOCUMENTED_TOP_LEVEL
    assert set(ev.__all__) >= DOCUMENTED_EVENTS
    assert set(ops.__all__) >= DOCUMENTED_OPERATORS


def test_connect_signature_matches_the_contract() -> None:
    params = inspect.signature(rr.connect).parameters
    assert params["model"].default == "gpt-realtime"
    for keyword in ("api_key", "base_url", "extra_query", "extra_headers"):
        assert params[keyword].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[keyword].default is None


def test_replay_signature_matches_the_contract() -> None:
    params = inspect.signature(rr.replay).parameters
    assert list(params)[:2] == ["path", "speed"]
    assert params["speed"].default is None


def test_every_public_event_class_is_exported() -> None:
    classes = {
        name
        for name, value in vars(ev).items()
        if inspect.isclass(value)
        and issubclass(value, (ev.ServerEvent, ev.ClientEvent))
        and not name.startswith("_")
    }
    assert classes <= set(ev.__all__)
