"""The fast paths of decoding give exactly what the general path gives.

Every structure function, family dispatcher and ``decode`` itself has a fast path for the
shape nearly every frame has (no unknown key, every value of its declared type) and a general
path for everything else. Adding an unknown key to every object of a frame sends each of them
down the general path; the fields decoded must not change. ``decode.__wrapped__`` is the
unspecialised ``decode``; the specialised one must agree with it on every frame.
"""

from __future__ import annotations

import json
from typing import Any, cast

import attrs
import pytest
from events_strategies import assert_well_typed
from events_support import BETA_SERVER, GA_SERVER, HAND_WRITTEN, spec_examples

from rxrealtime import events as ev
from rxrealtime.events._base import Model

EXAMPLES = (
    [ex for _, ex in spec_examples(GA_SERVER)]
    + [ex for _, ex in spec_examples(BETA_SERVER)]
    + HAND_WRITTEN
)


def _with_unknown_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {**{k: _with_unknown_keys(v) for k, v in value.items()}, "zz_unknown": 1}
    if isinstance(value, list):
        return [_with_unknown_keys(v) for v in value]
    return value


def _fields(value: Any) -> Any:
    """Everything decoded but ``extra``, recursively, with each object's exact class (the
    unknown key left out of free-form mappings, which keep it as a value of their own)."""
    if isinstance(value, dict):
        return {k: _fields(v) for k, v in value.items() if k != "zz_unknown"}
    if isinstance(value, Model):
        names = [f.name for f in attrs.fields(cast(Any, type(value))) if f.name != "extra"]
        return (type(value), {name: _fields(getattr(value, name)) for name in names})
    if isinstance(value, tuple):
        return tuple(_fields(v) for v in value)
    return value


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda ex: str(ex.get("type")))
def test_fast_and_general_paths_agree(example: dict[str, Any]) -> None:
    frame = json.dumps(example)
    event = ev.decode(frame)
    assert type(event) is ev.SERVER_EVENT_TYPES[example["type"]]
    assert event == cast(Any, ev.decode).__wrapped__(frame)
    assert_well_typed(event)
    general = ev.decode(json.dumps(_with_unknown_keys(example)))
    assert _fields(general) == _fields(event)
    assert general.extra == {**event.extra, "zz_unknown": 1}


def test_hot_stream_events_are_genuine_frozen_instances() -> None:
    for wire in ("response.output_audio.delta", "response.output_text.delta"):
        frame: dict[str, Any] = {"type": wire, "event_id": "e", "response_id": "r"}
        frame |= {"item_id": "i", "output_index": 0, "content_index": 0, "delta": "AAAA"}
        event = ev.decode(json.dumps(frame))
        assert type(event) is ev.SERVER_EVENT_TYPES[wire] and not event.extra
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            cast(Any, event).delta = "x"
        assert hash(event) == hash(ev.decode(json.dumps(frame)))
        wrong = ev.decode(json.dumps({**frame, "output_index": "0"}))
        assert isinstance(wrong, ev.InvalidEvent) and "output_index" in wrong.error


def test_an_integer_where_a_number_is_expected_is_a_float_on_both_paths() -> None:
    limits = [{"name": "requests", "limit": 10, "remaining": 9, "reset_seconds": 60}]
    frame = {"type": "rate_limits.updated", "event_id": "e", "rate_limits": limits}
    for value in (frame, _with_unknown_keys(frame)):
        event = ev.decode(json.dumps(value))
        assert isinstance(event, ev.RateLimitsUpdated)
        (limit,) = event.rate_limits
        assert limit.reset_seconds == 60.0 and type(limit.reset_seconds) is float
