"""``@rr.tool``: names, descriptions and a JSON Schema for every supported hint.

Every schema built here is checked as a JSON Schema (draft 2020-12) with ``jsonschema``, and
``jsonschema`` and the tool's own checker must agree on which values fit it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import attrs
import jsonschema
import pytest

import rxrealtime as rr
from rxrealtime.tools import FunctionTool, check, parse_docstring, schema_for


class Unit(enum.Enum):
    CELSIUS = "c"
    FAHRENHEIT = "f"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Place:
    """A place on Earth.

    Attributes:
        city: The city's name.
    """

    city: str
    country: Annotated[str | None, "ISO country code"] = None
    tags: list[str] = attrs.Factory(list)
    population: int = attrs.field(default=0, metadata={"description": "People living there"})


@dataclasses.dataclass
class Window:
    start: int
    end: int = 10


@attrs.frozen
class Trip:
    """A trip."""

    stops: list[Place]
    window: Window | None = None


JSON_VALUES: list[Any] = [
    None, True, False, 0, 1, -3, 2.5, 3.0, "", "c", "f", "x", [], [1, 2], ["a", "b"], ["a", "a"],
    {}, {"a": 1}, {"city": "Oslo"}, {"city": "Oslo", "country": "NO"}, {"city": 1},
    {"city": "Oslo", "extra": True}, {"start": 1}, {"start": 1, "end": 2},
    {"stops": [{"city": "Oslo"}]}, {"stops": [{"city": "Oslo"}], "window": {"start": 3}},
    {"stops": [], "window": None}, [{"city": "Rome"}], {"a": "x", "b": "y"},
]  # fmt: skip

# (hint, the schema expected)
CASES: list[tuple[Any, dict[str, Any]]] = [
    (str, {"type": "string"}),
    (int, {"type": "integer"}),
    (float, {"type": "number"}),
    (bool, {"type": "boolean"}),
    (None, {"type": "null"}),
    (Any, {}),
    (Literal["c", "f"], {"type": "string", "enum": ["c", "f"]}),
    (Literal[1, 2, 3], {"type": "integer", "enum": [1, 2, 3]}),
    (Literal["auto", 0], {"enum": ["auto", 0]}),
    (Unit, {"type": "string", "enum": ["c", "f"]}),
    (Level, {"type": "integer", "enum": [1, 2]}),
    (list[int], {"type": "array", "items": {"type": "integer"}}),
    (Sequence[str], {"type": "array", "items": {"type": "string"}}),
    (tuple[float, ...], {"type": "array", "items": {"type": "number"}}),
    (set[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
    (list, {"type": "array"}),
    (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
    (Mapping[str, list[str]], {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    }),
    (dict, {"type": "object"}),
    (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    (str | int, {"anyOf": [{"type": "string"}, {"type": "integer"}]}),
    (Annotated[int, "How many"], {"type": "integer", "description": "How many"}),
    (Window, {
        "type": "object",
        "properties": {"start": {"type": "integer"}, "end": {"type": "integer", "default": 10}},
        "required": ["start"],
        "additionalProperties": False,
    }),
]  # fmt: skip


@pytest.mark.parametrize(("hint", "expected"), CASES, ids=[repr(c[0]) for c in CASES])
def test_schema_of_each_hint(hint: Any, expected: dict[str, Any]) -> None:
    schema = schema_for(hint)
    assert schema == expected
    jsonschema.Draft202012Validator.check_schema(schema)


NESTED = [Place, Trip, list[Place], dict[str, Trip | None], Unit | None, list[int | str]]


@pytest.mark.parametrize("hint", [h for h, _ in CASES] + NESTED)
def test_the_checker_agrees_with_jsonschema(hint: Any) -> None:
    schema = schema_for(hint)
    validator = jsonschema.Draft202012Validator(schema)
    for value in JSON_VALUES:
        assert (not check(value, schema)) == validator.is_valid(value), (hint, value)


def test_nested_attrs_classes_and_their_descriptions() -> None:
    schema = schema_for(Trip)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["description"] == "A trip."
    assert schema["required"] == ["stops"]
    place = schema["properties"]["stops"]["items"]
    assert place["description"] == "A place on Earth."
    assert place["properties"]["city"] == {"type": "string", "description": "The city's name."}
    assert place["properties"]["country"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "description": "ISO country code",
        "default": None,
    }
    assert place["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert place["properties"]["population"]["description"] == "People living there"
    assert place["additionalProperties"] is False
    assert "description" not in schema["properties"]["window"]["anyOf"][0]  # dataclass: no doc


@pytest.mark.parametrize(
    "hint",
    [tuple[int, str], dict[int, str], complex, bytes, type, set[bytes], Literal[b"x"]],
)
def test_unsupported_hints_are_refused_when_decorating(hint: Any) -> None:
    with pytest.raises(TypeError):
        schema_for(hint)

    def f(x: Any) -> None: ...

    f.__annotations__["x"] = hint
    with pytest.raises(TypeError, match="parameter 'x'"):
        rr.tool(f)


@attrs.define
class Node:
    value: int
    children: list[Node]


def test_recursive_classes_and_star_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="recursive"):
        schema_for(Node)

    def star(*cities: str) -> None: ...

    def double_star(**options: str) -> None: ...

    for function in (star, double_star):
        with pytest.raises(TypeError, match=r"\*args"):
            rr.tool(function)


@rr.tool
def get_weather(
    city: str,
    unit: Literal["c", "f"] = "c",
    days: Annotated[int, "Days ahead, 0 for today"] = 0,
    place: Place | None = None,
) -> dict[str, Any]:
    """Current weather for a city.

    Uses the local station when there is one.

    Args:
        city: The city's name,
            for example "Paris".
        unit (str): Celsius or Fahrenheit.
        days: overridden by the annotation.

    Returns:
        The forecast.
    """
    return {"city": city, "unit": unit, "days": days}


def test_a_decorated_function_is_a_function_tool() -> None:
    assert isinstance(get_weather, FunctionTool)
    assert get_weather.name == "get_weather"
    assert get_weather.description == (
        "Current weather for a city.\n\nUses the local station when there is one."
    )
    assert get_weather.parameters["required"] == ["city"]
    assert get_weather.parameters["additionalProperties"] is False
    city, unit, days, place = (get_weather.parameters["properties"][k] for k in
                               ("city", "unit", "days", "place"))  # fmt: skip
    assert city == {"type": "string", "description": 'The city\'s name, for example "Paris".'}
    assert unit == {
        "type": "string",
        "enum": ["c", "f"],
        "description": "Celsius or Fahrenheit.",
        "default": "c",
    }
    assert days == {"type": "integer", "description": "Days ahead, 0 for today", "default": 0}
    assert place["default"] is None
    jsonschema.Draft202012Validator.check_schema(get_weather.parameters)
    assert get_weather.definition == {
        "type": "function",
        "name": "get_weather",
        "description": get_weather.description,
        "parameters": get_weather.parameters,
    }
    assert get_weather.definition["parameters"] is not get_weather.parameters  # a copy
    # still the function
    assert get_weather("Oslo") == {"city": "Oslo", "unit": "c", "days": 0}
    assert get_weather.__name__ == "get_weather" and get_weather.__doc__
    assert get_weather.is_async is False


def test_decorator_options_and_async_functions() -> None:
    @rr.tool(name="lookup-v2", description="Look a thing up.", timeout=2.5)
    async def lookup(query: str) -> str:
        """Ignored: description= wins."""
        return query

    assert (lookup.name, lookup.description, lookup.timeout) == ("lookup-v2", "Look a thing up.",
                                                                 2.5)  # fmt: skip
    assert lookup.is_async
    assert lookup.parameters == {
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
        "additionalProperties": False,
    }

    @rr.tool
    def nothing() -> str:
        return "ok"

    assert nothing.description == ""
    assert nothing.parameters == {"type": "object", "properties": {}, "additionalProperties": False}
    jsonschema.Draft202012Validator.check_schema(nothing.parameters)

    class Caller:
        async def __call__(self, text: str) -> str:
            return text

    assert rr.tool(Caller(), name="caller").is_async  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="tool name"):
        rr.tool(name="has space")(nothing.function)
    with pytest.raises(ValueError, match="timeout"):
        rr.tool(timeout=0)(nothing.function)


def test_docstring_styles() -> None:
    google = """Summary line.

    Args:
        a (int): First
            continued.
        b: Second.
    """
    numpy = """Summary line.

    Parameters
    ----------
    a : int
        First
        continued.
    b
        Second.

    Returns
    -------
    int
    """
    sphinx = """Summary line.

    :param int a: First
        continued.
    :param b: Second.
    :returns: nothing.
    """
    expected = ("Summary line.", {"a": "First continued.", "b": "Second."})
    assert parse_docstring(google) == expected
    assert parse_docstring(numpy) == expected
    assert parse_docstring(sphinx) == expected
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("One.\nTwo.\n\nThree.") == ("One. Two.\n\nThree.", {})
