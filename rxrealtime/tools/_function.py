"""The :class:`FunctionTool` and the ``@tool`` decorator (see :mod:`rxrealtime.tools`)."""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, overload

import cattrs

from ._docstrings import parse_docstring
from ._schema import (
    CONVERTER,
    ToolArgumentsError,
    check,
    field_description,
    hints_of,
    schema_for,
    with_details,
)

__all__ = ["FunctionTool", "tool"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class FunctionTool(Generic[_P, _R]):
    """A Python function the model may call (built by :func:`tool`); still callable as the
    function itself. ``name``, ``description``, ``parameters`` (a JSON Schema object) and
    ``timeout`` (seconds, or ``None``: the runner's) describe it; :attr:`definition` is the
    wire form for ``session.update``."""

    name: str
    description: str
    parameters: dict[str, Any]
    timeout: float | None
    is_async: bool

    def __init__(
        self,
        function: Callable[_P, _R],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> None:
        functools.update_wrapper(self, function)
        self.function = function
        self.name = name if name is not None else getattr(function, "__name__", "")
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"tool name {self.name!r}: use 1 to 64 letters, digits, _ or -")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 or None, got {timeout!r}")
        summary, documented = parse_docstring(inspect.getdoc(function))
        self.description = summary if description is None else description
        self.timeout = timeout
        self.is_async = inspect.iscoroutinefunction(function) or (
            not inspect.isroutine(function)  # an object with an async __call__
            and inspect.iscoroutinefunction(type(function).__call__)
        )
        self._signature = inspect.signature(function)
        target: Any = function
        while isinstance(target, functools.partial):
            target = target.func
        if not (inspect.isroutine(target) or inspect.isclass(target)):
            target = type(target).__call__  # a callable object: its __call__'s hints
        hints = hints_of(target)
        properties: dict[str, Any] = {}
        required: list[str] = []
        self._hints: dict[str, Any] = {}
        for param in self._signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"tool {self.name}: *args and **kwargs cannot be declared")
            hint = hints.get(param.name, Any)
            self._hints[param.name] = hint
            try:
                schema = schema_for(hint)
                CONVERTER.get_structure_hook(hint)
            except TypeError as error:
                raise TypeError(f"tool {self.name}, parameter {param.name!r}: {error}") from None
            description = field_description(hint) or documented.get(param.name)
            properties[param.name] = with_details(schema, description, param.default)
            if param.default is param.empty:
                required.append(param.name)
        self.parameters = {"type": "object", "properties": properties}
        if required:
            self.parameters["required"] = required
        self.parameters["additionalProperties"] = False

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<FunctionTool {self.name}>"

    @property
    def definition(self) -> dict[str, Any]:
        """``{"type": "function", "name", "description", "parameters"}`` (a fresh copy), what
        ``session.update(session={"tools": [...]})`` takes."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": copy.deepcopy(self.parameters),
        }

    def convert(self, arguments: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """``(args, kwargs)`` to call the function with, from the model's decoded arguments;
        raises :class:`ToolArgumentsError` listing every problem."""
        problems = check(dict(arguments), self.parameters)
        if problems:
            raise ToolArgumentsError(self.name, problems)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self._signature.parameters.values():
            if param.name not in arguments:
                continue
            try:
                value = CONVERTER.structure(arguments[param.name], self._hints[param.name])
            except Exception as error:  # a validator of an attrs class, say
                messages = cattrs.transform_error(error, path=param.name)
                raise ToolArgumentsError(self.name, messages) from error
            if param.kind is param.POSITIONAL_ONLY:
                args.append(value)
            else:
                kwargs[param.name] = value
        return args, kwargs

    async def invoke(self, arguments: Mapping[str, Any], *, in_thread: bool = True) -> Any:
        """Convert ``arguments`` and run the function: awaited when it is async, in a worker
        thread (``asyncio.to_thread``) when it is sync and ``in_thread`` is true, else called
        on the loop. Raises :class:`ToolArgumentsError` or what the function raises."""
        args, kwargs = self.convert(arguments)
        function: Callable[..., Any] = self.function
        if not self.is_async and in_thread:
            return await asyncio.to_thread(function, *args, **kwargs)
        result = function(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


@overload
def tool(function: Callable[_P, _R], /) -> FunctionTool[_P, _R]: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None, timeout: float | None = None
) -> Callable[[Callable[_P, _R]], FunctionTool[_P, _R]]: ...
def tool(
    function: Callable[_P, _R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> FunctionTool[_P, _R] | Callable[[Callable[_P, _R]], FunctionTool[_P, _R]]:
    """Make a sync or async function a :class:`FunctionTool`: ``@tool`` or ``@tool(name=...,
    description=..., timeout=seconds)``. The schema is built (and checked) now: an unsupported
    hint raises ``TypeError`` here. See the module docstring for what is derived and how the
    model's arguments are checked."""

    def wrap(function: Callable[_P, _R]) -> FunctionTool[_P, _R]:
        return FunctionTool(function, name=name, description=description, timeout=timeout)

    return wrap if function is None else wrap(function)
