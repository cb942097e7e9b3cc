"""The two function tools the command line's ``demo`` and ``chat`` give the model.

``get_weather`` and ``calculate`` are plain local Python functions (no network): the point is
to show :func:`rxrealtime.sinks.tool_runner.run_tools` executing whatever the model asks for
and answering it. The embedded server's default model calls them when the user's words ask
for the weather or for arithmetic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from rxrealtime import events as ev
from rxrealtime.server.model import evaluate, format_number
from rxrealtime.tools import tool

__all__ = ["TOOL_DEFINITIONS", "calculate", "get_weather", "tool_line", "traced_tools"]


@tool(description="Get today's weather forecast for a city.")
def get_weather(city: str) -> dict[str, Any]:
    """A canned forecast for ``city`` (always the same, so demo output is stable).

    Args:
        city: The city name
    """
    return {"city": city, "forecast": "sunny", "temperature_c": 21}


@tool(description="Evaluate an arithmetic expression such as '12 * 7'.")
def calculate(expression: str) -> str:
    """Evaluate ``+ - * / %`` arithmetic with parentheses; anything else raises ``ValueError``."""
    return format_number(evaluate(expression))


TOOL_DEFINITIONS: tuple[ev.FunctionTool, ...] = tuple(
    ev.FunctionTool(name=t.name, description=t.description, parameters=t.parameters)
    for t in (get_weather, calculate)
)
"""The session's ``tools``, derived by ``@rr.tool`` from :func:`get_weather` and
:func:`calculate` (their signatures and docstrings)."""

_TOOLS: Mapping[str, Callable[..., Any]] = {"get_weather": get_weather, "calculate": calculate}


def tool_line(name: str, arguments_json: str, output: str | None) -> str:
    """How a tool call is shown: ``tool: NAME(ARGUMENTS) -> OUTPUT`` (same live and replayed)."""
    line = f"tool: {name}({arguments_json})"
    return line if output is None else f"{line} -> {output}"


def _output_text(result: Any) -> str:
    # What the tool runner sends as the function_call_output (str verbatim, else JSON).
    return result if isinstance(result, str) else json.dumps(result, default=str)


def traced_tools(echo: Callable[[str], None]) -> dict[str, Callable[..., Any]]:
    """The tools, each wrapped to ``echo`` a :func:`tool_line` when it returns or raises.

    The wrappers are synchronous and instant, so the runner may call them on the loop
    (``sync_in_thread=False``), which keeps the printed lines in event order.
    """

    def traced(name: str, tool: Callable[..., Any]) -> Callable[..., Any]:
        def call(**arguments: Any) -> Any:
            shown = json.dumps(arguments)
            try:
                result = tool(**arguments)
            except Exception as error:
                # the runner answers the model with this same {"error": ...} output
                answer = json.dumps({"error": f"{type(error).__name__}: {error}"})
                echo(tool_line(name, shown, answer))
                raise
            echo(tool_line(name, shown, _output_text(result)))
            return result

        return call

    return {name: traced(name, tool) for name, tool in _TOOLS.items()}
