"""Tools from Python functions: ``@rr.tool`` turns a function into a Realtime function tool.

::

    @rr.tool
    def get_weather(city: str, unit: Literal["c", "f"] = "c") -> dict[str, Any]:
        \"\"\"Current weather for a city.

        Args:
            city: The city's name, e.g. "Paris".
            unit: Celsius or Fahrenheit.
        \"\"\"

    get_weather.name         # "get_weather"
    get_weather.description  # "Current weather for a city."
    get_weather.parameters   # a JSON Schema object, one property per parameter
    rr.sinks.run_tools(session, [get_weather])   # declares it and answers its calls

What is derived from the function
    * ``name``: the function's ``__name__`` (or ``name=``); 1 to 64 letters, digits, ``_``, ``-``.
    * ``description``: the docstring up to its first section (or ``description=``).
    * ``parameters``: ``{"type": "object", "properties": ..., "required": [...],
      "additionalProperties": false}``; a parameter with a default is optional and its default
      is shown when it is plain JSON. A parameter's description comes from
      ``Annotated[T, "description"]`` or else from the docstring (Google ``Args:``, NumPy
      ``Parameters`` or Sphinx ``:param x:`` style).
    * Hints and their schemas: ``str``/``int``/``float``/``bool`` (``string``/``integer``/
      ``number``/``boolean``), ``Literal[...]`` and ``Enum`` subclasses (``enum`` of the values),
      ``list[T]``/``Sequence[T]``/``tuple[T, ...]``/``set[T]`` (``array``), ``dict[str, T]``/
      ``Mapping[str, T]`` (``object`` with ``additionalProperties``), ``A | B`` and ``T | None``
      (``anyOf``), attrs classes and dataclasses (nested ``object``, described by the class
      docstring, fields by ``Annotated``, ``metadata={"description": ...}`` or an
      ``Attributes:`` section), ``Any`` or no hint (any value). Anything else (``*args``,
      ``**kwargs``, fixed-length tuples, recursive classes, non-``str`` dict keys, other types)
      raises ``TypeError`` when the function is decorated, not when the model calls it.

Arguments from the model
    :meth:`FunctionTool.convert` first checks the arguments against ``parameters`` (types, enum
    values, required and unexpected keys, at any depth; an integral float is accepted where an
    integer is expected), then converts them with one cattrs converter (``Enum`` members, attrs
    and dataclass instances, tuples and sets, unions by the first branch that matches). Every
    problem is reported at once in a :class:`ToolArgumentsError`, whose message names the path
    (``options.unit: expected one of "c", "f", got "k"``): the tool runner sends it to the model
    as an error output, so bad arguments never raise in the session.
"""

from __future__ import annotations

from ._docstrings import parse_docstring
from ._function import FunctionTool, tool
from ._schema import ToolArgumentsError, check, output_text, schema_for

__all__ = [
    "FunctionTool",
    "ToolArgumentsError",
    "check",
    "output_text",
    "parse_docstring",
    "schema_for",
    "tool",
]
