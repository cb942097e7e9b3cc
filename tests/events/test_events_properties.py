"""Property tests: decode never raises, and every input gives exactly one ServerEvent."""

from __future__ import annotations

import json
from typing import Any

from events_support import GA_SERVER, HAND_WRITTEN, spec_examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxrealtime import events as ev

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# what a JSON parser can give back (no NaN/Infinity, no lone surrogates)
json_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson reads
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(json_text, children, max_size=4),
    max_leaves=20,
)

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


def _mutate(value: Any, path: list[Any], replacement: Any) -> Any:
    if not path:
        return replacement
    head, *rest = path
    if isinstance(value, dict):
        return {k: _mutate(v, rest, replacement) if k == head else v for k, v in value.items()}
    return [_mutate(v, rest, replacement) if i == head else v for i, v in enumerate(value)]


def _paths(value: Any, prefix: list[Any]) -> list[list[Any]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, [*prefix, k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, [*prefix, i])
    return found


@SETTINGS
@given(st.data())
def test_real_events_with_a_mutated_field(data: st.DataObject) -> None:
    example = data.draw(st.sampled_from(REAL))
    path = data.draw(st.sampled_from(_paths(example, [])[1:]))
    replacement = data.draw(json_values)
    mutated = _mutate(example, path, replacement)
    event = _decoded_once(json.dumps(mutated))
    if path[0] == "type":
        return
    # a mutation below the top level never costs the event itself
    if len(path) > 1:
        assert type(event) is ev.SERVER_EVENT_TYPES[example["type"]]
        assert ev.decode(ev.encode(event)) == event
    if isinstance(event, ev.InvalidEvent):
        assert repr(path[0]) in event.error
