"""The client-event schema, held against the official SDK so it cannot drift.

Two independent schemas check client events: the client side's (``ev.CLIENT_EVENT_SCHEMA``,
derived from the event classes, used by ``validation.validate_client_event`` for typed events
and dicts alike) and the embedded server's own table (kept separate on purpose, as an oracle).
Both are held here against the official SDK's client-event models, enumerated at run time from
the ``RealtimeClientEvent`` union: same types, same fields, same required fields, same JSON
kinds, checked structurally and by behaviour (what each validator accepts and refuses).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

import pydantic
import pytest
from openai.types import realtime as sdk

from rxrealtime import events as ev
from rxrealtime.errors import InvalidClientEventError
from rxrealtime.server import validation as server_validation
from rxrealtime.server.errors import ClientError
from rxrealtime.validation import validate_client_event


def _members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    union = isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
    members = typing.get_args(annotation) if union else (annotation,)
    return tuple(member for member in members if member is not type(None))


def _sdk_kind(annotation: Any) -> str:
    """The JSON kind of an SDK field annotation (written independently of the client's)."""
    kinds = set()
    for member in _members(annotation):
        origin = typing.get_origin(member) or member
        if origin is bool:
            kinds.add("boolean")
        elif origin is str:
            kinds.add("string")
        elif origin is int:
            kinds.add("integer")
        elif origin is float:
            kinds.add("number")
        elif origin in (list, tuple):
            kinds.add("array")
        elif origin is dict or issubclass(origin, pydantic.BaseModel):
            kinds.add("object")
        else:
            raise AssertionError(f"unexpected SDK annotation {member!r}")
    assert len(kinds) == 1, annotation
    return kinds.pop()


def _sdk_schema() -> dict[str, dict[str, tuple[str, bool]]]:
    """wire type -> {field: (JSON kind, required)} for every GA client event of the SDK."""
    schema: dict[str, dict[str, tuple[str, bool]]] = {}
    for model in _members(sdk.RealtimeClientEvent):
        assert issubclass(model, pydantic.BaseModel)
        (wire_type,) = typing.get_args(model.model_fields["type"].annotation)
        schema[wire_type] = {
            name: (_sdk_kind(field.annotation), field.is_required())
            for name, field in model.model_fields.items()
            if name != "type"
        }
    return schema


SDK = _sdk_schema()
ALL_FIELDS = sorted({name for fields in SDK.values() for name in fields})

GOOD: dict[str, Any] = {"string": "x", "integer": 3, "number": 1.5, "boolean": True, "array": []}
GOOD_OBJECTS: dict[str, Any] = {
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    "session": {"type": "realtime"},
}
BAD: dict[str, Any] = {"string": 5, "integer": "5", "number": "1.5", "boolean": 1, "object": "x"}


def _good(name: str, kind: str) -> Any:
    return GOOD_OBJECTS.get(name, {}) if kind == "object" else GOOD[kind]


def _minimal(wire_type: str) -> dict[str, Any]:
    fields = SDK[wire_type]
    return {
        "type": wire_type,
        **{name: _good(name, kind) for name, (kind, required) in fields.items() if required},
    }


def _client_accepts(event: Mapping[str, Any]) -> bool:
    try:
        validate_client_event(event)
    except InvalidClientEventError:
        return False
    return True


def _server_accepts(event: Mapping[str, Any]) -> bool:
    try:
        server_validation.check_event(event)
    except ClientError:
        return False
    return True


def test_the_sdk_union_is_enumerated() -> None:
    assert len(SDK) >= 11 and "conversation.item.create" in SDK


def test_all_three_know_the_same_client_event_types() -> None:
    assert set(ev.CLIENT_EVENT_SCHEMA) == set(SDK)
    assert set(ev.CLIENT_EVENT_TYPES) == set(SDK)
    assert set(server_validation.CLIENT_EVENT_TYPES) == set(SDK)


@pytest.mark.parametrize("wire_type", sorted(SDK))
def test_the_client_schema_derived_from_the_classes_is_the_sdks(wire_type: str) -> None:
    derived = {
        name: (field.kind, field.required)
        for name, field in ev.CLIENT_EVENT_SCHEMA[wire_type].items()
    }
    assert derived == SDK[wire_type]


@pytest.mark.parametrize("wire_type", sorted(SDK))
def test_both_accept_the_minimal_event_and_every_optional_field(wire_type: str) -> None:
    event = _minimal(wire_type)
    assert _client_accepts(event) and _server_accepts(event)
    for name, (kind, required) in SDK[wire_type].items():
        if not required:
            with_optional = {**event, name: _good(name, kind)}
            assert _client_accepts(with_optional), name
            assert _server_accepts(with_optional), name


@pytest.mark.parametrize("wire_type", sorted(SDK))
def test_both_refuse_a_missing_required_field(wire_type: str) -> None:
    for name, (_kind, required) in SDK[wire_type].items():
        if required:
            event = {key: value for key, value in _minimal(wire_type).items() if key != name}
            assert not _client_accepts(event), name
            assert not _server_accepts(event), name


@pytest.mark.parametrize("wire_type", sorted(SDK))
def test_both_refuse_a_field_of_the_wrong_kind(wire_type: str) -> None:
    for name, (kind, _required) in SDK[wire_type].items():
        event = {**_minimal(wire_type), name: BAD[kind]}
        assert not _client_accepts(event), name
        assert not _server_accepts(event), name


@pytest.mark.parametrize("wire_type", sorted(SDK))
def test_the_server_refuses_fields_the_sdk_does_not_give_this_type(wire_type: str) -> None:
    """The live service refuses unknown parameters; the oracle must too (the client leaves
    unknown keys for the server to judge, as its documentation says)."""
    for name in ALL_FIELDS:
        if name not in SDK[wire_type]:
            kind = next(fields[name][0] for fields in SDK.values() if name in fields)
            event = {**_minimal(wire_type), name: _good(name, kind)}
            assert not _server_accepts(event), f"{wire_type} accepts {name}"


def test_typed_events_take_the_same_validation_path_as_dicts() -> None:
    """Issue 12, point 9: ``ev.ConversationItemDelete(item_id=5)`` is refused like the dict."""
    wrong: list[Any] = [
        ev.ConversationItemDelete(item_id=5),  # type: ignore[arg-type]
        ev.ConversationItemTruncate(item_id="i", content_index="0", audio_end_ms=0),  # type: ignore[arg-type]
        ev.InputAudioBufferAppend(audio=b"raw"),  # type: ignore[arg-type]
        ev.ResponseCancel(response_id=7),  # type: ignore[arg-type]
        ev.ConversationItemCreate(item=ev.UserMessage(role="robot", content=())),
    ]
    for event in wrong:
        with pytest.raises(InvalidClientEventError) as typed:
            validate_client_event(event)
        with pytest.raises(InvalidClientEventError) as plain:
            validate_client_event(ev.to_dict(event))
        assert str(typed.value) == str(plain.value)
        assert typed.value.field == plain.value.field
    assert validate_client_event(ev.ConversationItemCreate.user_text("hi")) == (
        "conversation.item.create"
    )
