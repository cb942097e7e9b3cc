"""The decoding policy (see :mod:`rxrealtime.events.codec`) as properties of every server event
class, with wire objects drawn from the classes themselves (``events_strategies.py``):

* a valid object decodes to its class, well typed at every depth, and round-trips;
* breaking a field the event cannot do without (a required field whose owners, up to the event,
  are all required) by deleting it or giving it a value of the wrong JSON kind gives an
  :class:`InvalidEvent` whose ``raw`` is the frame as given and whose ``error`` names the path;
* breaking any other field never raises, never costs the event (unless it is a nested object's
  kind, ``type``/``role``, which may select a class the rest no longer fits), and whatever comes
  back typed is well typed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from events_strategies import (
    assert_well_typed,
    dotted,
    event_payloads,
    field_paths,
    json_values,
    members,
    mutate,
    shallow_fits,
)
from events_support import strip_nulls
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxrealtime import events as ev

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
WIRE_TYPES = sorted(ev.SERVER_EVENT_TYPES)


def _wrong(annotation: Any) -> st.SearchStrategy[Any]:
    """A JSON value a required field of type ``annotation`` cannot take (``null`` included)."""
    if members(annotation)[1] == [Any]:
        return st.none()
    return st.none() | json_values.filter(
        lambda v: v is not None and not shallow_fits(v, annotation)
    )


@pytest.mark.parametrize("wire", WIRE_TYPES)
@SETTINGS
@given(data=st.data())
def test_a_valid_object_decodes_to_its_class_well_typed(wire: str, data: st.DataObject) -> None:
    payload = data.draw(event_payloads(wire))
    event = ev.decode(json.dumps(payload))
    assert type(event) is ev.SERVER_EVENT_TYPES[wire], event
    assert event.type == wire
    assert_well_typed(event)
    assert ev.to_dict(event) == strip_nulls(payload)
    assert ev.from_dict(payload) == event


@pytest.mark.parametrize("wire", WIRE_TYPES)
@SETTINGS
@given(data=st.data())
def test_breaking_a_required_field_gives_an_invalid_event_naming_it(
    wire: str, data: st.DataObject
) -> None:
    payload = data.draw(event_payloads(wire))
    event = ev.decode(json.dumps(payload))
    paths = [p for p in field_paths(event, payload) if p.chain_required and not p.is_key]
    assert paths  # every event has one (event_id, or the dtmf event's own fields)
    target = data.draw(st.sampled_from(paths))
    if isinstance(target.path[-1], str) and data.draw(st.booleans()):
        mutated = mutate(payload, target.path)
        problem = f"required field {dotted(target.path)!r} is missing"
    else:
        wrong = data.draw(_wrong(target.annotation))
        mutated = mutate(payload, target.path, wrong)
        problem = repr(dotted(target.path))
    frame = json.dumps(mutated)
    result = ev.decode(frame)
    assert type(result) is ev.InvalidEvent, (target, result)
    assert result.raw == frame and result.type == wire
    assert result.error.startswith(f"{wire}: ") and problem in result.error, result.error
    assert ev.to_dict(result) == mutated


@pytest.mark.parametrize("wire", WIRE_TYPES)
@SETTINGS
@given(data=st.data())
def test_breaking_any_other_field_never_costs_the_event(wire: str, data: st.DataObject) -> None:
    payload = data.draw(event_payloads(wire))
    event = ev.decode(json.dumps(payload))
    paths = [p for p in field_paths(event, payload) if not p.chain_required]
    if not paths:
        return
    target = data.draw(st.sampled_from(paths))
    if isinstance(target.path[-1], str) and data.draw(st.booleans()):
        mutated = mutate(payload, target.path)
    else:
        mutated = mutate(payload, target.path, data.draw(json_values))
    result = ev.decode(json.dumps(mutated))
    if not target.is_key:
        assert type(result) is type(event), (target, result)
    if not isinstance(result, ev.InvalidEvent):
        assert_well_typed(result)
        assert ev.decode(ev.encode(result)) == result
