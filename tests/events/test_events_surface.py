"""The documented surface of ``rxrealtime.events`` is what ``__all__`` says, and the benchmark
still runs."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import attrs

from rxrealtime import events as ev
from rxrealtime.events import _base

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {"decode", "encode", "from_dict", "to_dict"}
TABLES = {"BETA_ALIASES", "CLIENT_EVENT_TYPES", "SERVER_EVENT_TYPES"}
# names other parts of rxrealtime and its docs rely on (the team contract)
CONTRACT = (
    {
        "ServerEvent",
        "ClientEvent",
        "UnknownEvent",
        "InvalidEvent",
        "ErrorEvent",
        "RealtimeError",
        "ResponseOutputTextDelta",
        "ResponseOutputAudioDelta",
        "ResponseOutputAudioTranscriptDelta",
        "ResponseFunctionCallArgumentsDone",
        "ConversationItemInputAudioTranscriptionCompleted",
        "InputAudioBufferSpeechStarted",
        "RateLimitsUpdated",
        "ResponseCreated",
        "ResponseDone",
        "SessionCreated",
        "ConversationItemAdded",
        "ConversationItemDone",
        "TranscriptionSessionUpdated",
        "SessionUpdate",
        "ResponseCreate",
        "ResponseCancel",
        "ConversationItemCreate",
        "ConversationItemDelete",
        "ConversationItemRetrieve",
        "ConversationItemTruncate",
        "InputAudioBufferAppend",
        "InputAudioBufferCommit",
        "InputAudioBufferClear",
        "OutputAudioBufferClear",
        "ConversationItem",
        "SystemMessage",
        "UserMessage",
        "AssistantMessage",
        "FunctionCall",
        "FunctionCallOutput",
        "McpApprovalRequest",
        "McpApprovalResponse",
        "McpListTools",
        "McpToolCall",
        "InputText",
        "InputAudio",
        "InputImage",
        "OutputText",
        "OutputAudio",
        "Response",
        "Usage",
    }
    | FUNCTIONS
    | TABLES
)


def test_all_names_exist_and_are_unique() -> None:
    assert len(ev.__all__) == len(set(ev.__all__))
    for name in ev.__all__:
        assert hasattr(ev, name), name


def test_all_is_exactly_the_public_classes_functions_and_tables() -> None:
    public = {
        name
        for name, obj in vars(ev).items()
        if not name.startswith("_") and not inspect.ismodule(obj) and name != "annotations"
    }
    assert set(ev.__all__) == public


def test_every_event_and_resource_class_is_exported() -> None:
    exported = {getattr(ev, n) for n in ev.__all__ if isinstance(getattr(ev, n), type)}
    seen: set[type] = set()
    todo: list[type] = [_base.Model]
    while todo:
        cls = todo.pop()
        subclasses: list[type] = type.__subclasses__(cls)
        for sub in subclasses:
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    public = {
        cls
        for cls in seen
        if not cls.__name__.startswith("_") and cls.__module__.startswith("rxrealtime.events")
    }
    assert public <= exported
    for cls in exported - {_base.Model}:  # the root is a plain slotted base, not an attrs class
        assert attrs.has(cls), cls
        assert "__dict__" not in dir(cls), cls


def test_the_contract_names_are_all_there() -> None:
    assert set(ev.__all__) >= CONTRACT


def test_every_exported_class_has_a_docstring() -> None:
    for name in ev.__all__:
        obj = getattr(ev, name)
        if isinstance(obj, type) or callable(obj):
            assert (obj.__doc__ or "").strip(), name


def test_codec_benchmark_runs() -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_codec", ROOT / "benchmarks" / "bench_codec.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.run(120, 1)
    assert set(result) == {"rxrealtime", "orjson", "orjson_ratio", "sdk", "ratio"}
    assert result["rxrealtime"] > 0 and result["orjson"] > 0 and result["orjson_ratio"] > 0
    turn = module.voice_turn()
    decoded = [ev.decode(frame) for frame in turn]
    assert not [e for e in decoded if isinstance(e, ev.InvalidEvent | ev.UnknownEvent)]
    assert sum(isinstance(e, ev.ResponseOutputAudioDelta) for e in decoded) == 50
