"""``usage(prices)`` and ``Prices`` check their arguments when they are made: a wrong price table
fails where it is written, with a message saying what is expected, never at the first
``response.done``."""

from __future__ import annotations

import math
from typing import Any

import pytest
from reactivex import operators as rx_ops
from reactivex.testing import ReactiveTest, TestScheduler

from rxrealtime import events as ev
from rxrealtime import operators as ops


@pytest.mark.parametrize("bad", [..., {"input_text": 4.0, "output_text": 16.0}, 4.0, "4"])
def test_usage_refuses_anything_but_prices_at_call_time(bad: Any) -> None:
    with pytest.raises(TypeError, match=r"ops\.usage\(prices\) takes an ops\.Prices") as caught:
        ops.usage(prices=bad)
    assert type(bad).__name__ in str(caught.value)
    assert "ops.usage(ops.Prices(input_text=" in str(caught.value)  # says how to write it


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("input_text", "4", TypeError),
        ("output_text", None, TypeError),  # a required price cannot be None
        ("input_audio", True, TypeError),
        ("cached_input_text", [1.0], TypeError),
        ("output_audio", -1.0, ValueError),
        ("input_image", math.nan, ValueError),
        ("transcription_per_minute", math.inf, ValueError),
    ],
)
def test_prices_refuse_what_is_not_a_price(field: str, value: Any, error: type[Exception]) -> None:
    arguments: dict[str, Any] = {"input_text": 4.0, "output_text": 16.0, field: value}
    with pytest.raises(error, match=rf"Prices\.{field} must be"):
        ops.Prices(**arguments)


def test_valid_prices_still_price_every_response() -> None:
    """Ints, floats, zeros and ``None`` optionals are accepted; the cost is computed."""
    prices = ops.Prices(input_text=4, output_text=16.0, input_audio=0, cached_input_text=None)
    done = ev.decode(
        '{"type": "response.done", "event_id": "e1", "response": {"id": "r1", "status":'
        ' "completed", "output": [], "usage": {"total_tokens": 15, "input_tokens": 10,'
        ' "output_tokens": 5, "input_token_details": {"text_tokens": 10},'
        ' "output_token_details": {"text_tokens": 5}}}}'
    )
    assert isinstance(done, ev.ResponseDone)
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(
        ReactiveTest.on_next(210, done), ReactiveTest.on_completed(220)
    )
    result = scheduler.start(lambda: source.pipe(ops.usage(prices), rx_ops.map(lambda u: u.cost)))
    values = [m.value.value for m in result.messages if m.value.kind == "N"]
    assert values == [pytest.approx((10 * 4 + 5 * 16) / 1_000_000)]
