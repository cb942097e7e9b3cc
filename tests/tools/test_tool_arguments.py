"""The model's arguments: checked against the signature, converted with cattrs, and every
problem reported in one message the model can read."""

from __future__ import annotations

import dataclasses
import enum
import threading
from typing import Any, Literal

import attrs
import pytest

import rxrealtime as rr
from rxrealtime.tools import ToolArgumentsError, output_text


class Unit(enum.Enum):
    CELSIUS = "c"
    FAHRENHEIT = "f"


@attrs.frozen
class Options:
    unit: Unit = Unit.CELSIUS
    days: int = attrs.field(default=1, validator=attrs.validators.le(7))


@dataclasses.dataclass(frozen=True)
class Stop:
    city: str
    nights: int = 1


@rr.tool
def plan(
    cities: list[str],
    options: Options | None = None,
    stops: tuple[Stop, ...] = (),
    budget: float = 0.0,
    tags: set[str] | None = None,
    weights: dict[str, float] | None = None,
    mode: Literal["fast", "cheap"] | int = "fast",
    strict: bool = False,
) -> dict[str, Any]:
    """Plan a trip."""
    return {
        "cities": cities,
        "options": options,
        "stops": stops,
        "budget": budget,
        "tags": tags,
        "weights": weights,
        "mode": mode,
        "strict": strict,
    }


def test_arguments_are_converted_to_the_annotated_types() -> None:
    args, kwargs = plan.convert(
        {
            "cities": ["Oslo", "Rome"],
            "options": {"unit": "f", "days": 3.0},
            "stops": [{"city": "Oslo"}, {"city": "Rome", "nights": 2}],
            "budget": 100,
            "tags": ["a", "b"],
            "weights": {"x": 1, "y": 0.5},
            "mode": 2,
            "strict": True,
        }
    )
    assert args == []
    assert kwargs == {
        "cities": ["Oslo", "Rome"],
        "options": Options(unit=Unit.FAHRENHEIT, days=3),
        "stops": (Stop("Oslo"), Stop("Rome", 2)),
        "budget": 100.0,
        "tags": {"a", "b"},
        "weights": {"x": 1.0, "y": 0.5},
        "mode": 2,
        "strict": True,
    }
    assert type(kwargs["budget"]) is float and type(kwargs["options"].days) is int
    # absent optional arguments are left to the function's defaults; None stays None
    assert plan.convert({"cities": [], "options": None}) == ([], {"cities": [], "options": None})
    assert plan.convert({"cities": [], "mode": "cheap"})[1]["mode"] == "cheap"


@pytest.mark.parametrize(
    ("arguments", "problems"),
    [
        ({}, ["arguments: missing required argument 'cities'"]),
        ({"cities": "Oslo"}, ['cities: expected an array, got "Oslo"']),
        ({"cities": ["Oslo", 3]}, ["cities[1]: expected a string, got 3"]),
        ({"cities": [], "color": "red"}, ["arguments: unexpected argument 'color'"]),
        (
            {"cities": [], "options": {"unit": "k"}},
            ['options.unit: expected one of "c", "f", got "k"'],
        ),
        (
            {"cities": [], "options": {"unit": "c", "hue": 1}},
            ["options: unexpected field 'hue'"],
        ),
        ({"cities": [], "stops": [{"nights": 2}]}, ["stops[0]: missing required field 'city'"]),
        ({"cities": [], "budget": "cheap"}, ['budget: expected a number, got "cheap"']),
        ({"cities": [], "budget": True}, ["budget: expected a number, got true"]),
        ({"cities": [], "strict": 1}, ["strict: expected true or false, got 1"]),
        ({"cities": [], "tags": ["a", "a"]}, ["tags[1]: repeats an earlier item"]),
        ({"cities": [], "weights": {"x": "heavy"}}, ['weights.x: expected a number, got "heavy"']),
        ({"cities": [], "mode": "slow"}, ['mode: expected one of "fast", "cheap", got "slow"']),
        (
            {"cities": [], "mode": None},
            ['mode: expected one of "fast", "cheap" or an integer, got null'],
        ),
        ({"cities": [], "options": {"days": 1.5}}, ["options.days: expected an integer, got 1.5"]),
    ],
)
def test_bad_arguments_name_the_path(arguments: dict[str, Any], problems: list[str]) -> None:
    with pytest.raises(ToolArgumentsError) as raised:
        plan.convert(arguments)
    assert list(raised.value.problems) == problems
    assert str(raised.value) == "invalid arguments for plan: " + "; ".join(problems)
    assert isinstance(raised.value, ValueError)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ToolArgumentsError) as raised:
        plan.convert({"cities": [1], "budget": "x", "extra": 0})
    assert raised.value.problems == (
        "cities[0]: expected a string, got 1",
        'budget: expected a number, got "x"',
        "arguments: unexpected argument 'extra'",
    )


def test_a_validator_of_a_nested_class_becomes_an_arguments_error() -> None:
    with pytest.raises(ToolArgumentsError, match=r"options"):
        plan.convert({"cities": [], "options": {"days": 30}})


def test_positional_only_parameters() -> None:
    @rr.tool
    def power(base: float, exponent: int = 2, /) -> float:
        return float(base**exponent)

    assert power.convert({"base": 3}) == ([3.0], {})
    assert power.convert({"base": 3, "exponent": 3}) == ([3.0, 3], {})


async def test_invoke_runs_sync_tools_in_a_thread_and_awaits_async_ones() -> None:
    threads: list[str] = []

    @rr.tool
    def where(city: str) -> str:
        threads.append(threading.current_thread().name)
        return city

    @rr.tool
    async def shout(text: str) -> str:
        return text.upper()

    assert await where.invoke({"city": "Oslo"}) == "Oslo"
    assert threads[-1] != threading.main_thread().name
    assert await where.invoke({"city": "Rome"}, in_thread=False) == "Rome"
    assert threads[-1] == threading.main_thread().name
    assert await shout.invoke({"text": "hi"}) == "HI"
    with pytest.raises(ToolArgumentsError):
        await shout.invoke({"text": 1})


def test_output_text() -> None:
    assert output_text("plain words") == "plain words"
    assert output_text({"a": 1}) == '{"a": 1}'
    assert output_text(None) == "null"
    assert output_text(Options()) == '{"unit": "c", "days": 1}'
    assert output_text([Stop("Oslo")]) == '[{"city": "Oslo", "nights": 1}]'
    assert output_text({"when": object}) == '{"when": "<class \'object\'>"}'
