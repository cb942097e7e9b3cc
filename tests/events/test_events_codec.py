"""decode/encode/to_dict: the decoding policy, error messages, round trips, the real capture.

The policy's properties over every class are in ``test_events_policy.py``; these are the worked
examples.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import attrs
import pytest
from events_support import CAPTURE, GA_SERVER, spec_raw_examples, strip_nulls

from rxrealtime import events as ev

DELTA = {
    "type": "response.output_text.delta",
    "event_id": "event_1",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "delta": "Hel",
}


def decode(obj: Any) -> ev.ServerEvent:
    return ev.decode(json.dumps(obj))


# -- what is not an event ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        (b"\xff\xfe\x00", "binary frame is not UTF-8 JSON"),
        ("[1, 2]", "expected a JSON object, got an array"),
        ('"response.done"', "expected a JSON object, got a string"),
        ("null", "expected a JSON object, got null"),
        ('{"event_id": "e"}', "'type' is missing"),
        ('{"type": 42}', "'type' is not a string (a number)"),
        ('{"type": null}', "'type' is not a string (null)"),
    ],
)
def test_a_frame_that_is_not_an_event_is_invalid(frame: str | bytes, fragment: str) -> None:
    event = ev.decode(frame)
    assert type(event) is ev.InvalidEvent
    assert event.raw == frame
    assert event.type is None
    assert fragment in event.error


def test_binary_frames_holding_utf8_json_are_decoded() -> None:
    event = ev.decode(json.dumps(DELTA).encode())
    assert event == decode(DELTA)
    assert isinstance(event, ev.ResponseOutputTextDelta)


def test_an_unknown_type_is_kept_whole() -> None:
    raw = {"type": "response.brand_new", "event_id": "e9", "stuff": [1, {"a": None}]}
    event = decode(raw)
    assert type(event) is ev.UnknownEvent
    assert (event.type, event.event_id, event.raw) == ("response.brand_new", "e9", raw)
    assert ev.to_dict(event) == raw


# -- known types: required fields hold, at every depth -----------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"delta": 123},
            "response.output_text.delta: field 'delta' must be a string, got an integer 123",
        ),
        ({"delta": None}, "response.output_text.delta: required field 'delta' is null"),
        ({"item_id": ...}, "response.output_text.delta: required field 'item_id' is missing"),
        ({"output_index": "0"}, "field 'output_index' must be an integer, got a string '0'"),
        ({"output_index": True}, "field 'output_index' must be an integer, got a boolean True"),
        ({"content_index": 1.5}, "field 'content_index' must be an integer, got a number 1.5"),
        ({"event_id": 7}, "field 'event_id' must be a string, got an integer 7"),
        ({"response_id": {"id": "r"}}, "field 'response_id' must be a string, got an object"),
    ],
)
def test_broken_top_level_scalars_give_a_readable_invalid_event(
    change: dict[str, Any], message: str
) -> None:
    frame = {k: v for k, v in {**DELTA, **change}.items() if v is not ...}
    text = json.dumps(frame)
    event = ev.decode(text)
    assert type(event) is ev.InvalidEvent
    assert event.type == "response.output_text.delta"
    assert event.raw == text
    assert message in event.error
    assert ev.to_dict(event) == frame  # the object it came from


def test_optional_top_level_fields_may_be_absent_or_null() -> None:
    beta_done = {
        **DELTA,
        "type": "response.function_call_arguments.done",
        "call_id": "c1",
        "arguments": "{}",
    }
    del beta_done["delta"]
    del beta_done["content_index"]
    event = decode(beta_done)  # beta has no ``name``
    assert isinstance(event, ev.ResponseFunctionCallArgumentsDone)
    assert event.name is None
    item = {"type": "message", "role": "user", "content": []}
    added = decode(
        {"type": "conversation.item.added", "event_id": "e", "previous_item_id": None, "item": item}
    )
    assert isinstance(added, ev.ConversationItemAdded)
    assert added.previous_item_id is None and added.item == ev.UserMessage(content=())
    dtmf = decode(
        {"type": "input_audio_buffer.dtmf_event_received", "event": "9", "received_at": 1}
    )
    assert isinstance(dtmf, ev.InputAudioBufferDtmfEventReceived)  # the one without event_id
    assert dtmf.event_id is None


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            {"type": "response.done", "event_id": "e", "response": 5},
            "response.done: field 'response' must be an object, got an integer 5",
        ),
        (
            {"type": "response.done", "event_id": "e", "response": "[Object]"},
            "field 'response' must be an object, got a string '[Object]'",
        ),
        (
            {"type": "response.done", "event_id": "e", "response": []},
            "field 'response' must be an object, got an array []",
        ),
        (
            {"type": "response.done", "event_id": "e"},
            "response.done: required field 'response' is missing",
        ),
        (
            {"type": "response.done", "event_id": "e", "response": None},
            "response.done: required field 'response' is null",
        ),
        (
            {"type": "response.done", "response": {}},
            "response.done: required field 'event_id' is missing",
        ),
        (
            {"type": "error", "event_id": "e", "error": {"type": "server_error"}},
            "error: required field 'error.message' is missing",
        ),
        (
            {
                "type": "conversation.item.done",
                "event_id": "e",
                "item": {"type": "function_call", "name": "f", "arguments": 7},
            },
            "field 'item.arguments' must be a string, got an integer 7",
        ),
        (
            {
                "type": "conversation.item.done",
                "event_id": "e",
                "item": {"type": "message", "role": "assistant", "content": [{}, "[Object]"]},
            },
            "field 'item.content[1]' must be an object, got a string '[Object]'",
        ),
        (
            {
                "type": "conversation.item.done",
                "event_id": "e",
                "item": {
                    "type": "mcp_list_tools",
                    "id": "m",
                    "server_label": "docs",
                    "tools": [{"name": "a", "input_schema": {}}, {"name": "b"}],
                },
            },
            "required field 'item.tools[1].input_schema' is missing",
        ),
        (
            {"type": "rate_limits.updated", "event_id": "e", "rate_limits": {"name": "tokens"}},
            "field 'rate_limits' must be an array, got an object",
        ),
        (
            {
                "type": "conversation.item.input_audio_transcription.failed",
                "event_id": "e",
                "item_id": "i",
                "content_index": 0,
                "error": "oops",
            },
            "field 'error' must be an object, got a string 'oops'",
        ),
    ],
)
def test_a_broken_required_field_at_any_depth_gives_an_invalid_event(
    frame: dict[str, Any], message: str
) -> None:
    text = json.dumps(frame)
    event = ev.decode(text)
    assert type(event) is ev.InvalidEvent
    assert event.type == frame["type"] and event.raw == text
    assert message in event.error
    assert ev.to_dict(event) == frame


def test_numbers_are_floats_where_the_protocol_says_number() -> None:
    event = decode(
        {
            "type": "conversation.item.input_audio_transcription.segment",
            "event_id": "e",
            "item_id": "i",
            "content_index": 0,
            "id": "s",
            "text": "hi",
            "speaker": "spk_1",
            "start": 0,
            "end": 2,
        }
    )
    assert isinstance(event, ev.ConversationItemInputAudioTranscriptionSegment)
    assert (event.start, event.end) == (0.0, 2.0)
    assert type(event.start) is float


def test_error_event() -> None:
    event = decode(
        {
            "type": "error",
            "event_id": "e1",
            "error": {
                "type": "invalid_request_error",
                "code": "invalid_value",
                "message": "nope",
                "param": "type",
                "event_id": "client_7",
            },
        }
    )
    assert type(event) is ev.ErrorEvent
    assert event.error == ev.RealtimeError(
        type="invalid_request_error",
        code="invalid_value",
        message="nope",
        param="type",
        event_id="client_7",
    )


# -- known types: optional fields that do not fit are None, kept in extra -----------------------


def test_the_real_capture_keeps_truncated_optional_objects_in_extra() -> None:
    """A third-party dump of a live beta response, with deep objects printed as "[Object]"."""
    lines = CAPTURE.read_text().splitlines()
    events = [ev.decode(line) for line in lines]
    assert not [e for e in events if isinstance(e, ev.UnknownEvent)]
    done = events[-1]
    assert isinstance(done, ev.ResponseDone)
    usage = done.response.usage  # optional resources: what fits is typed, the rest kept
    assert usage is not None and (usage.total_tokens, usage.input_tokens) == (151, 72)
    assert usage.input_token_details is None
    assert usage.extra == {"input_token_details": "[Object]", "output_token_details": "[Object]"}
    assert done.response.output is None
    assert done.response.extra["output"] == ["[Object]"]
    # beta response fields are reachable too
    assert done.response.extra["modalities"] == ["text"]
    assert done.response.extra["temperature"] == 0.8
    # a message's content is required: a message whose parts are "[Object]" is not a message
    (invalid,) = [e for e in events if isinstance(e, ev.InvalidEvent)]
    assert invalid is events[-2] and invalid.type == "response.output_item.done"
    assert invalid.error == (
        "response.output_item.done: field 'item.content[0]' must be an object, "
        "got a string '[Object]'"
    )
    for line, event in zip(lines, events, strict=True):
        assert ev.to_dict(event) == (
            json.loads(line) if event is invalid else strip_nulls(json.loads(line))
        )


def test_capture_deltas_concatenate_to_the_done_text() -> None:
    events = [ev.decode(line) for line in CAPTURE.read_text().splitlines()]
    deltas = [e for e in events if isinstance(e, ev.ResponseOutputTextDelta)]
    (done,) = [e for e in events if isinstance(e, ev.ResponseOutputTextDone)]
    assert len(deltas) == 77
    assert {d.type for d in deltas} == {"response.text.delta"}
    assert "".join(d.delta for d in deltas) == done.text
    (part,) = [e for e in events if isinstance(e, ev.ResponseContentPartDone)]
    assert isinstance(part.part, ev.OutputText) and part.part.type == "text"
    assert part.part.text == done.text


@pytest.mark.parametrize("value", [[], 5, True, {"id": 3}, {"name": "marin"}])
def test_an_optional_resource_that_does_not_fit_is_none_and_kept(value: Any) -> None:
    frame = {
        "type": "session.updated",
        "event_id": "e",
        "session": {"type": "realtime", "audio": {"output": {"voice": value, "speed": 1.0}}},
    }
    event = decode(frame)
    assert isinstance(event, ev.SessionUpdated)
    assert isinstance(event.session, ev.RealtimeSessionConfig)
    assert event.session.audio is not None and event.session.audio.output is not None
    output = event.session.audio.output
    assert output.voice is None and output.speed == 1.0
    assert output.extra == {"voice": value}
    assert ev.to_dict(event) == frame


def test_optional_top_level_fields_that_do_not_fit_are_kept_too() -> None:
    frame = {
        **DELTA,
        "type": "response.function_call_arguments.done",
        "call_id": "c1",
        "arguments": "{}",
        "name": 5,
    }
    del frame["delta"]
    event = decode(frame)
    assert isinstance(event, ev.ResponseFunctionCallArgumentsDone)
    assert event.name is None and event.extra == {"content_index": 0, "name": 5}
    assert ev.to_dict(event) == frame


def test_one_bad_value_inside_a_resource_costs_only_that_field() -> None:
    event = decode(
        {
            "type": "response.done",
            "event_id": "e",
            "response": {
                "id": "r1",
                "status": 3,
                "usage": {"total_tokens": "many", "input_tokens": 4},
                "output": [
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": "hi"}],
                    },
                    "[Object]",
                ],
                "status_details": {"type": "failed", "error": {"code": "rate_limited"}},
            },
        }
    )
    assert isinstance(event, ev.ResponseDone)
    response = event.response
    assert response.id == "r1"
    assert response.status is None and response.extra["status"] == 3
    assert response.usage == ev.Usage(input_tokens=4, extra={"total_tokens": "many"})
    # a list with an element of the wrong kind is kept whole, as received
    assert response.output is None
    assert response.extra["output"][1] == "[Object]"
    # a response's error promises no field (unlike an ``error`` event's)
    assert response.status_details == ev.ResponseStatusDetails(
        type="failed", error=ev.ErrorDetails(code="rate_limited")
    )


def test_unknown_items_parts_and_enum_values_stay_reachable() -> None:
    event = decode(
        {
            "type": "conversation.item.done",
            "event_id": "e",
            "item": {
                "id": "i1",
                "type": "message",
                "role": "assistant",
                "status": "paused",
                "content": [
                    {"type": "output_text", "text": "a", "annotations": []},
                    {"type": "output_hologram", "data": "xyz"},
                    {"type": "text", "text": "beta"},
                ],
            },
        }
    )
    assert isinstance(event, ev.ConversationItemDone)
    item = event.item
    assert isinstance(item, ev.AssistantMessage) and item.status == "paused"
    first, second, third = item.content or ()
    assert first == ev.OutputText(text="a", extra={"annotations": []})
    assert second == ev.UnknownContent(type="output_hologram", extra={"data": "xyz"})
    assert third == ev.OutputText(type="text", text="beta")
    other = decode(
        {
            "type": "conversation.item.done",
            "event_id": "e",
            "item": {"id": "i2", "type": "web_search_call", "query": "oslo"},
        }
    )
    assert isinstance(other, ev.ConversationItemDone)
    assert other.item == ev.UnknownItem(type="web_search_call", id="i2", extra={"query": "oslo"})
    odd_role = decode(
        {
            "type": "conversation.item.done",
            "event_id": "e",
            "item": {"type": "message", "role": "developer", "content": []},
        }
    )
    assert isinstance(odd_role, ev.ConversationItemDone)
    assert isinstance(odd_role.item, ev.UnknownItem)
    assert odd_role.item.extra == {"role": "developer", "content": []}


def test_messages_dispatch_on_role() -> None:
    classes: dict[str, type[ev.ConversationItem]] = {
        "user": ev.UserMessage,
        "assistant": ev.AssistantMessage,
        "system": ev.SystemMessage,
    }
    for role, cls in classes.items():
        event = decode(
            {
                "type": "conversation.item.added",
                "event_id": "e",
                "item": {"type": "message", "role": role, "content": []},
            }
        )
        assert isinstance(event, ev.ConversationItemAdded)
        assert type(event.item) is cls
        assert event.item == cls(content=(), role=role)  # type: ignore[call-arg]


def test_beta_flat_session_keeps_its_fields_in_extra() -> None:
    event = decode(
        {
            "type": "session.created",
            "event_id": "e",
            "session": {
                "id": "sess_1",
                "object": "realtime.session",
                "modalities": ["text", "audio"],
                "voice": "alloy",
                "input_audio_format": "pcm16",
                "turn_detection": None,
            },
        }
    )
    assert isinstance(event, ev.SessionCreated)
    session = event.session
    assert isinstance(session, ev.RealtimeSessionConfig)
    assert session.type is None and session.id == "sess_1"
    assert session.extra["voice"] == "alloy"
    unknown_kind = decode(
        {
            "type": "session.updated",
            "event_id": "e",
            "session": {"type": "translation", "model": "x"},
        }
    )
    assert isinstance(unknown_kind, ev.SessionUpdated)
    assert type(unknown_kind.session) is ev.SessionConfig
    assert unknown_kind.session.extra == {"model": "x"}


def test_unknown_keys_go_to_extra_and_back() -> None:
    frame = {**DELTA, "obfuscation": "abc", "new_field": {"x": [1, None]}}
    event = decode(frame)
    assert isinstance(event, ev.ResponseOutputTextDelta)
    assert event.extra == {"obfuscation": "abc", "new_field": {"x": [1, None]}}
    assert ev.to_dict(event) == frame


def test_spec_examples_that_are_not_json_are_invalid_not_raised() -> None:
    raws = list(spec_raw_examples(GA_SERVER))
    assert len(raws) == 5
    for wire, text in raws:
        event = ev.decode(text)
        assert type(event) is ev.InvalidEvent, wire
        assert event.error.startswith("not valid JSON")


def test_from_dict_decodes_parsed_objects() -> None:
    assert ev.from_dict(DELTA) == decode(DELTA)
    invalid = ev.from_dict([DELTA])
    assert isinstance(invalid, ev.InvalidEvent) and invalid.raw == [DELTA]


# -- events are values -------------------------------------------------------------------------


def test_events_are_frozen_slotted_and_compare_by_value() -> None:
    event = decode(DELTA)
    assert isinstance(event, ev.ResponseOutputTextDelta)
    assert event == decode(DELTA)
    assert hash(event) == hash(decode(DELTA))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.delta = "x"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    for cls in ev.SERVER_EVENT_TYPES.values():
        assert attrs.has(cls) and "__dict__" not in dir(cls)


def test_repr_leaves_out_unset_fields() -> None:
    text = repr(ev.ConversationItemCreate.user_text("hi"))
    assert text == (
        "ConversationItemCreate(type='conversation.item.create', item=UserMessage("
        "type='message', role='user', content=(InputText(type='input_text', text='hi'),)))"
    )


def test_server_events_can_be_built_directly() -> None:
    event = ev.ResponseOutputAudioDelta(
        response_id="r", item_id="i", output_index=0, content_index=0, delta="AAAA"
    )
    assert event.type == "response.output_audio.delta" and event.event_id is None
    # a frame must carry an event_id (the protocol requires one), so decoding needs it
    without_id = ev.decode(ev.encode(event))
    assert isinstance(without_id, ev.InvalidEvent) and "'event_id' is missing" in without_id.error
    with_id = attrs.evolve(event, event_id="e1")
    assert ev.decode(ev.encode(with_id)) == with_id
    done = ev.ResponseDone(event_id="e2", response=ev.Response(id="r", status="completed"))
    assert ev.decode(ev.encode(done)) == done


# -- encode -------------------------------------------------------------------------------------


def test_encode_is_compact_and_leaves_out_none() -> None:
    text = ev.encode(ev.ResponseCancel())
    assert text == '{"type":"response.cancel"}'
    assert ev.encode(ev.ResponseCancel(event_id="c1", response_id="r1")) == (
        '{"type":"response.cancel","event_id":"c1","response_id":"r1"}'
    )


def test_encode_plain_mappings_with_event_classes_inside() -> None:
    text = ev.encode(
        {
            "type": "conversation.item.create",
            "event_id": None,
            "item": ev.UserMessage.text("hi"),
            "extra_key": (1, 2),
        }
    )
    assert json.loads(text) == {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        },
        "extra_key": [1, 2],
    }


def test_encode_explicit_null_through_extra() -> None:
    update = ev.SessionUpdate(
        session=ev.RealtimeSessionConfig(
            audio=ev.AudioConfig(input=ev.AudioInputConfig.without_turn_detection())
        )
    )
    assert json.loads(ev.encode(update))["session"]["audio"]["input"] == {"turn_detection": None}


def test_encode_refuses_what_is_not_an_event() -> None:
    with pytest.raises(TypeError, match="expected an event or a mapping"):
        ev.encode(["response.create"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ev.encode({"type": "x", "value": object()})
    with pytest.raises(TypeError):
        ev.to_dict("response.create")  # type: ignore[arg-type]


def test_audio_constructors_base64_for_you() -> None:
    pcm = bytes(range(256)) * 3
    append = ev.InputAudioBufferAppend.from_pcm(pcm, event_id="a1")
    assert base64.b64decode(append.audio) == pcm
    assert json.loads(ev.encode(append)) == {
        "type": "input_audio_buffer.append",
        "event_id": "a1",
        "audio": append.audio,
    }
    item = ev.ConversationItemCreate.user_audio(pcm).item
    assert isinstance(item, ev.UserMessage)
    (part,) = item.content or ()
    assert isinstance(part, ev.InputAudio) and base64.b64decode(part.audio or "") == pcm


def test_to_dict_of_an_invalid_frame_without_an_object_raises() -> None:
    with pytest.raises(ValueError, match="no wire object"):
        ev.to_dict(ev.decode("[]"))


def test_beta_transcription_session_updated() -> None:
    event = decode(
        {
            "type": "transcription_session.updated",
            "event_id": "e",
            "session": {
                "id": "sess_001",
                "object": "realtime.transcription_session",
                "input_audio_format": "pcm16",
                "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": ""},
                "turn_detection": {"type": "server_vad", "threshold": 0.5},
            },
        }
    )
    assert type(event) is ev.TranscriptionSessionUpdated
    assert isinstance(event.session, ev.TranscriptionSessionConfig)
    assert event.session.id == "sess_001" and event.session.type is None
    assert event.session.extra["input_audio_format"] == "pcm16"
