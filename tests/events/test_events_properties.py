"""Property tests: decode never raises, every input gives exactly one ServerEvent, and a typed
one is well typed (the per-class policy properties are in ``test_events_policy.py``)."""

from __future__ import annotations

import json
from typing import Any

from events_strategies import assert_well_typed, json_text, json_values, mutate
from events_support import GA_SERVER, HAND_WRITTEN, spec_examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxrealtime import events as ev

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

REAL = [ex for _, ex in spec_examples(GA_SERVER)] + HAND_WRITTEN
WIRE_TYPES = sorted(ev.SERVER_EVENT_TYPES)


def _decoded_once(frame: Any) -> ev.ServerEvent:
    event = ev.decode(frame)
    assert isinstance(event, ev.ServerEvent)
    return event


@SETTINGS
@given(st.binary(max_size=200))
def test_arbitrary_bytes(frame: bytes) -> None:
    event = _decoded_once(frame)
    if isinstance(event, ev.InvalidEvent) and event.type is None:
        assert event.raw == frame and event.error


@SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_text(frame: str) -> None:
    _decoded_once(frame)


@SETTINGS
@given(json_values)
def test_arbitrary_json_values(value: Any) -> None:
    event = _decoded_once(json.dumps(value))
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        assert type(event) is ev.InvalidEvent


@SETTINGS
@given(st.sampled_from(WIRE_TYPES), st.dictionaries(json_text, json_values, max_size=6))
def test_known_types_with_arbitrary_fields(wire: str, fields: dict[str, Any]) -> None:
    event = _decoded_once(json.dumps({**fields, "type": wire}))
    assert type(event) in (ev.SERVER_EVENT_TYPES[wire], ev.InvalidEvent)
    assert event.type == wire
    if not isinstance(event, ev.InvalidEvent):
        assert_well_typed(event)


@SETTINGS
@given(st.data())
def test_real_events_with_a_mutated_field(data: st.DataObject) -> None:
    example = data.draw(st.sampled_from(REAL))
    path = data.draw(st.sampled_from(_paths(example, [])[1:]))
    mutated = mutate(example, path, data.draw(json_values))
    frame = json.dumps(mutated)
    event = _decoded_once(frame)
    if path[0] == "type":
        return
    if isinstance(event, ev.InvalidEvent):
        assert event.raw == frame and event.error.startswith(f"{example['type']}: ")
    else:  # typed: the promise holds whatever was changed, and the event is stable
        assert type(event) is ev.SERVER_EVENT_TYPES[example["type"]]
        assert_well_typed(event)
        assert ev.decode(ev.encode(event)) == event


def _paths(value: Any, prefix: list[Any]) -> list[list[Any]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, [*prefix, k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, [*prefix, i])
    return found
