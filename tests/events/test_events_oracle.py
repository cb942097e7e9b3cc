"""The official SDK is the oracle: every GA type it knows decodes to our class, field for field.

The GA server union and the client union are enumerated from the installed ``openai`` package
at test time, so a new SDK type that we do not cover fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from events_support import (
    BETA_SERVER,
    GA_CLIENT,
    GA_SERVER,
    HAND_WRITTEN,
    spec_examples,
    strip_nulls,
    union_members,
)

from rxrealtime import events as ev
from rxrealtime.events._convert import families

realtime = pytest.importorskip("openai.types.realtime")

SERVER = union_members(realtime.RealtimeServerEvent)
CLIENT = union_members(realtime.RealtimeClientEvent)


def _sdk_valid(wire: str, example: dict[str, Any]) -> pydantic.BaseModel | None:
    try:
        model: pydantic.BaseModel = SERVER[wire].model_validate(example, strict=True)
    except pydantic.ValidationError:
        return None
    return model


def _validated_examples() -> list[tuple[str, dict[str, Any]]]:
    examples = [*spec_examples(GA_SERVER), *((e["type"], e) for e in HAND_WRITTEN)]
    return [(wire, ex) for wire, ex in examples if wire in SERVER and _sdk_valid(wire, ex)]


EXAMPLES = _validated_examples()


def _check_names(ours: Any, theirs: Any, path: str) -> None:
    """Every field the SDK model has (recursively, where set) is an attribute of ours (or a
    key, where we deliberately keep plain JSON: tracing, truncation, prompt, MCP filters)."""
    if isinstance(theirs, pydantic.BaseModel) and isinstance(ours, dict):
        assert set(theirs.model_dump(exclude_none=True)) <= set(ours), path
    elif isinstance(theirs, pydantic.BaseModel):
        for name in type(theirs).model_fields:
            value = getattr(theirs, name)
            if value is None:
                continue
            assert hasattr(ours, name), f"{type(ours).__name__} lacks {path}.{name}"
            _check_names(getattr(ours, name), value, f"{path}.{name}")
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _check_names(a, b, f"{path}[{i}]")


def test_the_sdk_union_has_46_ga_server_types_and_11_client_types() -> None:
    assert len(SERVER) == 46
    assert len(CLIENT) == 11


def test_every_ga_server_type_has_a_class_named_after_it() -> None:
    for wire in SERVER:
        cls = ev.SERVER_EVENT_TYPES[wire]
        expected = (
            "ErrorEvent"
            if wire == "error"
            else "".join(part[:1].upper() + part[1:] for part in wire.replace("_", ".").split("."))
        )
        assert cls.__name__ == expected
        assert getattr(ev, expected) is cls


def test_examples_cover_every_ga_server_type() -> None:
    assert {wire for wire, _ in EXAMPLES} == set(SERVER)


@pytest.mark.parametrize(("wire", "example"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_ga_example_decodes_to_its_class_field_for_field(
    wire: str, example: dict[str, Any]
) -> None:
    sdk = _sdk_valid(wire, example)
    assert sdk is not None
    event = ev.decode(json.dumps(example))
    assert type(event) is ev.SERVER_EVENT_TYPES[wire]
    assert event.type == wire
    # the keys the SDK keeps as extras are exactly the ones we keep in ``extra``
    assert set(event.extra) == set(sdk.model_extra or {})
    # same data as the SDK's own model, nested resources included
    assert strip_nulls(ev.to_dict(event)) == strip_nulls(sdk.model_dump(mode="json"))
    _check_names(event, sdk, wire)


def test_nested_resources_are_typed() -> None:
    by_type = {ex["type"]: ev.decode(json.dumps(ex)) for ex in HAND_WRITTEN}
    created = by_type["session.created"]
    assert isinstance(created, ev.SessionCreated)
    session = created.session
    assert isinstance(session, ev.RealtimeSessionConfig)
    assert session.audio is not None and session.audio.input is not None
    assert isinstance(session.audio.input.format, ev.AudioPCMU)
    assert isinstance(session.audio.input.turn_detection, ev.SemanticVad)
    assert session.audio.input.turn_detection.eagerness == "auto"
    assert isinstance(session.audio.input.noise_reduction, ev.NoiseReduction)
    assert isinstance(session.audio.input.transcription, ev.AudioTranscription)
    assert session.audio.output is not None
    assert session.audio.output.voice == ev.VoiceId(id="voice_123")
    assert session.audio.output.speed == 1.1
    assert session.tools is not None
    assert [type(t) for t in session.tools] == [ev.FunctionTool, ev.McpTool]
    assert session.tool_choice == ev.ToolChoiceFunction(name="get_weather")
    assert session.expires_at == 1756324625 and session.id == "sess_C9G5QPteg4UIbotdKLoYQ"

    updated = by_type["session.updated"]
    assert isinstance(updated, ev.SessionUpdated)
    assert isinstance(updated.session, ev.TranscriptionSessionConfig)
    assert updated.session.audio is not None and updated.session.audio.input is not None
    assert isinstance(updated.session.audio.input.turn_detection, ev.ServerVad)
    assert updated.session.audio.input.format == ev.AudioPCM(rate=24000)

    done = by_type["response.done"]
    assert isinstance(done, ev.ResponseDone) and done.response is not None
    assert done.response.status == "failed"
    assert done.response.status_details is not None
    assert done.response.status_details.error == ev.ErrorDetails(
        type="server_error", code="internal", message="boom"
    )
    assert [type(item) for item in done.response.output or ()] == [
        ev.SystemMessage,
        ev.FunctionCallOutput,
        ev.McpListTools,
        ev.McpToolCall,
        ev.McpApprovalRequest,
        ev.McpApprovalResponse,
    ]
    call = (done.response.output or ())[3]
    assert isinstance(call, ev.McpToolCall)
    assert call.error == ev.McpError(type="http_error", code=502, message="bad gateway")

    retrieved = by_type["conversation.item.retrieved"]
    assert isinstance(retrieved, ev.ConversationItemRetrieved)
    assert isinstance(retrieved.item, ev.UserMessage)
    assert [type(p) for p in retrieved.item.content or ()] == [
        ev.InputAudio,
        ev.InputImage,
        ev.InputText,
    ]

    completed = by_type["conversation.item.input_audio_transcription.completed"]
    assert isinstance(completed, ev.ConversationItemInputAudioTranscriptionCompleted)
    assert completed.usage == ev.TranscriptionUsageDuration(seconds=1.5)
    assert completed.logprobs == (ev.LogProb(token="Hej", logprob=-0.1, bytes=(72, 101, 106)),)
    assert completed.languages == (ev.TranscriptionLanguage(code="sv"),)


# -- required fields: the SDK's, by behaviour --------------------------------------------------

# Where the SDK requires a field and decoding does not (each documented in the codec's policy):
# the kind of a nested object (a missing or unknown ``type``/``role`` gives the family's
# fallback class), and two fields beta servers leave out (with everything inside them).
BETA_LENIENT = {
    ("response.function_call_arguments.done", "name"),
    ("conversation.item.input_audio_transcription.completed", "usage"),
}


def _is_kind_key(event: ev.ServerEvent, path: tuple[Any, ...]) -> bool:
    """Whether ``path`` is the dispatch key (``type``/``role``) of a nested object."""
    owner: Any = event
    for key in path[:-1]:
        if isinstance(owner, dict):  # inside a free-form JSON value
            return False
        owner = owner[key] if isinstance(key, int) else getattr(owner, key)
    return any(isinstance(owner, base) and key == path[-1] for base, (key, _) in families().items())


def _member_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every object member's path in ``value`` (list elements are walked, not listed)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found += _member_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _member_paths(item, (*prefix, i))
    return found


def _without(value: Any, path: tuple[Any, ...]) -> Any:
    head, *rest = path
    if isinstance(value, dict):
        if not rest:
            return {k: v for k, v in value.items() if k != head}
        return {k: _without(v, tuple(rest)) if k == head else v for k, v in value.items()}
    return [_without(v, tuple(rest)) if i == head else v for i, v in enumerate(value)]


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


@pytest.mark.parametrize(("wire", "example"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_deleting_a_field_costs_the_event_exactly_when_the_sdk_requires_it(
    wire: str, example: dict[str, Any]
) -> None:
    """For every member of every SDK-valid example: deleting it gives an InvalidEvent naming it
    exactly when the SDK refuses the deletion of it and of each of its owners (an optional owner
    absorbs the loss: it becomes ``None``, kept in ``extra``)."""

    def sdk_requires(path: tuple[Any, ...]) -> bool:
        return _sdk_valid(wire, _without(example, path)) is None

    typed = ev.decode(json.dumps(example))
    checked = 0
    for path in _member_paths(example):
        if path == ("type",):
            continue
        owners = [path[: i + 1] for i, key in enumerate(path) if isinstance(key, str)]
        required = all(sdk_requires(owner) for owner in owners)
        if (wire, path[0]) in BETA_LENIENT or _is_kind_key(typed, path):
            required = False
        event = ev.decode(json.dumps(_without(example, path)))
        assert isinstance(event, ev.InvalidEvent) == required, (path, event)
        if required:
            assert isinstance(event, ev.InvalidEvent)
            assert f"required field {_dotted(path)!r} is missing" in event.error
        checked += 1
    assert checked


def test_usage_with_cached_token_details() -> None:
    (example,) = [ex for wire, ex in spec_examples(GA_SERVER) if wire == "response.done"]
    event = ev.decode(json.dumps(example))
    assert isinstance(event, ev.ResponseDone) and event.response is not None
    usage = event.response.usage
    assert usage is not None and usage.total_tokens == 253
    assert usage.input_token_details == ev.InputTokenDetails(
        text_tokens=119,
        audio_tokens=13,
        image_tokens=0,
        cached_tokens=64,
        cached_tokens_details=ev.CachedTokensDetails(
            text_tokens=64, audio_tokens=0, image_tokens=0
        ),
    )
    assert usage.output_token_details == ev.OutputTokenDetails(text_tokens=30, audio_tokens=91)


# -- beta names --------------------------------------------------------------------------------


def test_beta_alias_table_maps_onto_ga_classes() -> None:
    assert set(ev.BETA_ALIASES.values()) <= set(SERVER)
    for beta, ga in ev.BETA_ALIASES.items():
        assert ev.SERVER_EVENT_TYPES[beta] is ev.SERVER_EVENT_TYPES[ga]
    assert ev.SERVER_EVENT_TYPES["transcription_session.updated"] is ev.TranscriptionSessionUpdated


BETA = list(spec_examples(BETA_SERVER))


@pytest.mark.parametrize(("wire", "example"), BETA, ids=[w for w, _ in BETA])
def test_beta_example_decodes_to_the_ga_class(wire: str, example: dict[str, Any]) -> None:
    event = ev.decode(json.dumps(example))
    expected = ev.SERVER_EVENT_TYPES[ev.BETA_ALIASES.get(example["type"], example["type"])]
    assert type(event) is expected
    assert event.type == example["type"]  # the wire string as received
    assert strip_nulls(ev.to_dict(event)) == strip_nulls(example)


def test_every_beta_only_name_is_decoded() -> None:
    beta = union_members(pytest.importorskip("openai.types.beta.realtime").RealtimeServerEvent)
    for wire in beta:
        assert wire in ev.SERVER_EVENT_TYPES, wire
    assert {w for w in beta if w not in SERVER} == {
        *ev.BETA_ALIASES,
        "transcription_session.updated",
    }


# -- client events -------------------------------------------------------------------------------

CLIENT_EXAMPLES: list[ev.ClientEvent] = [
    ev.SessionUpdate(
        session=ev.RealtimeSessionConfig(
            instructions="Be brief.",
            output_modalities=["audio"],
            audio=ev.AudioConfig(
                input=ev.AudioInputConfig(
                    format=ev.AudioPCM(),
                    transcription=ev.AudioTranscription(model="gpt-4o-transcribe"),
                    noise_reduction=ev.NoiseReduction(type="near_field"),
                    turn_detection=ev.ServerVad(threshold=0.6, silence_duration_ms=400),
                ),
                output=ev.AudioOutputConfig(format=ev.AudioPCMU(), voice="marin", speed=1.0),
            ),
            tools=[
                ev.FunctionTool(
                    name="get_weather",
                    description="Weather in a city",
                    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
                )
            ],
            tool_choice="auto",
        ),
        event_id="evt_1",
    ),
    ev.SessionUpdate(
        session=ev.TranscriptionSessionConfig(
            audio=ev.TranscriptionAudioConfig(
                input=ev.AudioInputConfig(turn_detection=ev.SemanticVad(eagerness="low"))
            )
        )
    ),
    ev.SessionUpdate(
        session=ev.RealtimeSessionConfig(
            audio=ev.AudioConfig(
                input=ev.AudioInputConfig.without_turn_detection(format=ev.AudioPCMA())
            )
        )
    ),
    ev.ResponseCreate(),
    ev.ResponseCreate(
        response=ev.ResponseCreateParams(
            output_modalities=["text"],
            instructions="Summarise.",
            conversation="none",
            metadata={"purpose": "summary"},
            input=[ev.UserMessage.text("Summarise the call.")],
            tool_choice=ev.ToolChoiceFunction(name="get_weather"),
        )
    ),
    ev.ResponseCancel(),
    ev.ResponseCancel(response_id="resp_1"),
    ev.ConversationItemCreate.user_text("hello"),
    ev.ConversationItemCreate.system_text("Be brief."),
    ev.ConversationItemCreate.user_audio(b"\x00\x01" * 10),
    ev.ConversationItemCreate.function_call_output("call_1", '{"temp": 7}'),
    ev.ConversationItemCreate(item=ev.AssistantMessage.text("Hi!"), previous_item_id="item_1"),
    ev.ConversationItemDelete(item_id="item_1"),
    ev.ConversationItemRetrieve(item_id="item_1"),
    ev.ConversationItemTruncate(item_id="item_1", content_index=0, audio_end_ms=1500),
    ev.InputAudioBufferAppend.from_pcm(b"\x00\x01\x02"),
    ev.InputAudioBufferCommit(),
    ev.InputAudioBufferClear(event_id="evt_2"),
    ev.OutputAudioBufferClear(),
]


@pytest.mark.parametrize("event", CLIENT_EXAMPLES, ids=[e.type for e in CLIENT_EXAMPLES])
def test_client_event_encodes_to_what_the_sdk_accepts(event: ev.ClientEvent) -> None:
    wire = json.loads(ev.encode(event))
    model = CLIENT[event.type].model_validate(wire, strict=True)
    assert strip_nulls(model.model_dump(mode="json")) == strip_nulls(wire)
    assert None not in wire.values()  # never "event_id": null
    assert next(iter(wire)) == "type"


def test_client_examples_cover_every_ga_client_type() -> None:
    assert {e.type for e in CLIENT_EXAMPLES} == set(CLIENT) == set(ev.CLIENT_EVENT_TYPES)
    for wire, cls in ev.CLIENT_EVENT_TYPES.items():
        assert cls.__name__ == "".join(
            part[:1].upper() + part[1:] for part in wire.replace("_", ".").split(".")
        )


SPEC_CLIENT = list(spec_examples(GA_CLIENT))


@pytest.mark.parametrize(("wire", "example"), SPEC_CLIENT, ids=[w for w, _ in SPEC_CLIENT])
def test_spec_client_examples_round_trip_through_our_classes(
    wire: str, example: dict[str, Any]
) -> None:
    if wire not in ev.CLIENT_EVENT_TYPES:
        pytest.skip(f"{wire} is beta only")
    event = ev.CLIENT_EVENT_TYPES[wire](**_client_fields(wire, example))
    assert json.loads(ev.encode(event)) == example


def _client_fields(wire: str, example: dict[str, Any]) -> dict[str, Any]:
    """Build the constructor arguments the way a user would: nested resources as classes."""
    fields = {k: v for k, v in example.items() if k != "type"}
    if wire == "conversation.item.create":
        item = fields["item"]
        fields["item"] = ev.UserMessage(content=[ev.InputText(text=item["content"][0]["text"])])
    if wire == "session.update":
        session = fields["session"]
        fields["session"] = ev.RealtimeSessionConfig(
            instructions=session["instructions"],
            tools=[
                ev.FunctionTool(**{k: v for k, v in t.items() if k != "type"})
                for t in session["tools"]
            ],
            tool_choice=session["tool_choice"],
        )
    return fields
