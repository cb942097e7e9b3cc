"""The embedded server's pluggable "model" and its deterministic default.

A model sees one :class:`ResponseRequest` (the conversation items that form the response's input,
in wire form, plus the effective instructions, tools and modalities) and returns the outputs of
the response: :class:`Message` (text, spoken as audio when the response's modality is audio) and
:class:`ToolCall` items, in order. The server turns that plan into the full event sequence
(deltas, ``.done`` events, usage), so a model never deals with the protocol.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from rxrealtime.server.audio import decode_tones, duration_ms

__all__ = ["DefaultModel", "Message", "Model", "PlannedOutput", "ResponseRequest", "ToolCall"]


@attrs.frozen
class Message:
    """An assistant message whose words are ``text``."""

    text: str


@attrs.frozen
class ToolCall:
    """A ``function_call`` item: ``arguments`` is the JSON text streamed to the client."""

    name: str
    arguments: str


PlannedOutput = Message | ToolCall


@attrs.frozen
class ResponseRequest:
    """Everything a model may look at to produce one response.

    ``items`` are the input items in wire form (GA shapes), oldest first: the whole conversation,
    or the response's own ``input`` for out-of-band responses. ``input_audio`` maps the id of every
    user item carrying audio to its PCM16 24 kHz bytes. ``tools`` holds the effective tool
    definitions (wire dicts) and ``tool_choice`` the effective choice; ``parallel_tool_calls``
    says whether the response may hold several tool calls.
    """

    items: tuple[Mapping[str, Any], ...]
    instructions: str = ""
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: str | Mapping[str, Any] = "auto"
    output_modalities: tuple[str, ...] = ("audio",)
    metadata: Mapping[str, str] | None = None
    input_audio: Mapping[str, bytes] = attrs.field(factory=dict)
    parallel_tool_calls: bool = True


@runtime_checkable
class Model(Protocol):
    """What the embedded server needs from a model. Both methods run on the server's event loop;
    a slow model delays only its own connection."""

    async def respond(self, request: ResponseRequest) -> Sequence[PlannedOutput]:
        """Return the outputs of the next response, in order (may be empty)."""
        ...

    async def transcribe(self, pcm: bytes) -> str:
        """Return the transcript of user audio (PCM16, 24 kHz, mono)."""
        ...


_GREETINGS = (
    "hello",
    "hi",
    "hey",
    "howdy",
    "greetings",
    "good morning",
    "good afternoon",
    "good evening",
)
_GREETING_REPLY = "Hello! How can I help you today?"
_DEFAULT_CITY = "San Francisco"
_WORD_OPERATORS = (
    (re.compile(r"\bplus\b", re.I), "+"),
    (re.compile(r"\bminus\b", re.I), "-"),
    (re.compile(r"\b(?:times|multiplied by)\b", re.I), "*"),
    (re.compile(r"\b(?:divided by|over)\b", re.I), "/"),
    (re.compile(r"(?<=\d)\s*[x\u00d7]\s*(?=\d)"), " * "),
    (re.compile("\u00f7"), "/"),
)
_CLAUSE = re.compile(r"\s*(?:\band\b|;|[.?!](?:\s+|$))\s*", re.I)
_CANDIDATE = re.compile(r"[\d\s.+\-*/%()]+")
_CITY = re.compile(
    r"\b(?:in|at|for)\s+([a-z][a-z.' -]*?)\s*(?:[?.!,;]|$|\b(?:today|tomorrow|now|right now)\b)",
    re.I,
)
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        result: float = _BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right))
        return result
    raise ValueError("not arithmetic")


def evaluate(expression: str) -> float:
    """Evaluate ``+ - * / %`` arithmetic with parentheses (``ValueError`` for anything else,
    ``ZeroDivisionError`` for a division by zero)."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ValueError("not arithmetic") from exc
    return _evaluate(tree)


def format_number(value: float) -> str:
    """``4.0`` → ``"4"``, ``0.5`` → ``"0.5"``, at most 10 significant digits."""
    return f"{value:.10g}"


def find_expression(text: str) -> str | None:
    """The first arithmetic expression in ``text`` (after spelling ``plus``/``minus``/``times``/
    ``divided by``/``over`` as operators), whitespace collapsed, or ``None``."""
    for pattern, symbol in _WORD_OPERATORS:
        text = pattern.sub(symbol, text)
    for candidate in _CANDIDATE.findall(text):
        expression = " ".join(candidate.split()).strip(" .")
        if len(re.findall(r"\d+(?:\.\d+)?", expression)) < 2:
            continue
        try:
            evaluate(expression)
        except ZeroDivisionError:
            return expression
        except ValueError:
            continue
        return expression
    return None


def find_city(text: str) -> str:
    """The place after "in"/"at"/"for" in ``text``, title-cased; ``"San Francisco"`` if none."""
    match = _CITY.search(text)
    if match is None or not match.group(1).strip():
        return _DEFAULT_CITY
    return match.group(1).strip().title()


def _tool_names(request: ResponseRequest) -> list[str]:
    if request.tool_choice == "none":
        return []
    return [
        str(t["name"])
        for t in request.tools
        if t.get("type", "function") == "function" and "name" in t
    ]


class DefaultModel:
    """The deterministic model every embedded server uses unless given another.

    ``respond`` looks at the LAST user message or ``function_call_output`` item of the request
    and returns one output (several parallel tool calls in one case, see 2.):

    1. After a ``function_call_output``: ``Message("Here is the result from NAME: OUTPUT")``, NAME
       being the name of the ``function_call`` with the same ``call_id`` (``"the tool"`` if absent)
       and OUTPUT the output text, stripped.
    2. Otherwise the user's words are the message's ``input_text`` texts and ``input_audio``
       transcripts (transcribed on the fly when the item has none), joined by spaces. Then:

       * tools are usable unless ``tool_choice == "none"``; if the words mention "weather" or
         "forecast" and a ``get_weather`` tool is configured:
         ``ToolCall("get_weather", '{"city": "CITY"}')``, CITY being the words after
         "in"/"at"/"for" up to punctuation or "today"/"tomorrow"/"now", title-cased
         (default "San Francisco");
       * else if the words contain arithmetic (``2 + 2``, ``3 times 4``, ``10 divided by 4``) and a
         ``calculate`` tool is configured: ``ToolCall("calculate", '{"expression": "EXPR"}')``,
         EXPR written with symbols, whitespace collapsed (``"3 * 4"``);
       * else if ``tool_choice`` is ``"required"`` or names a function, that function (or the
         first tool) is called with the arguments above when it is ``get_weather``/``calculate``,
         else with ``{}``;
       * parallel calls: when the words have several clauses (split at "and", ";" and sentence
         ends) and at least two of them each call for a tool by the first two rules above (say
         "What is the weather in Paris and in Rome?" or "weather in Oslo and 2 + 2"), the
         response holds one call per such clause, in order, duplicates dropped; with
         ``parallel_tool_calls`` false only the first of them;
       * else a message: no words → ``"Hello! How can I help you today?"``; a greeting (the words
         start with hello/hi/hey/howdy/greetings/good morning/afternoon/evening) → the same;
         weather → ``"I cannot check the weather in CITY without a weather tool."``; arithmetic
         → ``"EXPR = RESULT."`` (``"2 + 2 = 4."``; ``"I cannot divide by zero."``); anything else
         → ``'You said: "WORDS".'``.
    3. If the effective instructions contain the word "uppercase" (any case), message text is
       upper-cased.

    ``json.dumps`` with default separators produces tool arguments (``{"city": "Paris"}``).

    ``transcribe`` decodes tone-code audio (:func:`rxrealtime.server.audio.decode_tones`) into
    lower-case text; other audio becomes ``"(N.N seconds of audio)"``.
    """

    async def transcribe(self, pcm: bytes) -> str:
        decoded = decode_tones(pcm)
        if decoded is not None:
            return decoded
        return f"({duration_ms(pcm) / 1000:.1f} seconds of audio)"

    async def respond(self, request: ResponseRequest) -> Sequence[PlannedOutput]:
        last = next(
            (
                item
                for item in reversed(request.items)
                if item.get("type") == "function_call_output"
                or (item.get("type") == "message" and item.get("role") == "user")
            ),
            None,
        )
        if last is not None and last.get("type") == "function_call_output":
            name = next(
                (
                    str(item.get("name"))
                    for item in request.items
                    if item.get("type") == "function_call"
                    and item.get("call_id") == last.get("call_id")
                ),
                "the tool",
            )
            text = f"Here is the result from {name}: {str(last.get('output', '')).strip()}"
            return [self._styled(text, request)]
        words = await self._words(last, request) if last is not None else ""
        calls = self._parallel_calls(words, request)
        if len(calls) > 1:
            return calls if request.parallel_tool_calls else calls[:1]
        call = self._tool_call(words, request)
        if call is not None:
            return [call]
        return [self._styled(self._reply(words), request)]

    async def _words(self, item: Mapping[str, Any], request: ResponseRequest) -> str:
        parts: list[str] = []
        for part in item.get("content") or ():
            if part.get("type") == "input_text":
                parts.append(str(part.get("text") or ""))
            elif part.get("type") == "input_audio":
                transcript = part.get("transcript")
                if transcript is None:
                    pcm = request.input_audio.get(str(item.get("id")), b"")
                    transcript = await self.transcribe(pcm) if pcm else ""
                parts.append(str(transcript))
        return " ".join(p.strip() for p in parts if p.strip())

    @staticmethod
    def _arguments(name: str, words: str) -> str:
        if name == "get_weather":
            return json.dumps({"city": find_city(words)})
        if name == "calculate":
            return json.dumps({"expression": find_expression(words) or words})
        return "{}"

    def _parallel_calls(self, words: str, request: ResponseRequest) -> list[ToolCall]:
        """One call per clause that asks for a tool by itself (see the class docstring)."""
        calls: list[ToolCall] = []
        names = _tool_names(request)
        if not names or isinstance(request.tool_choice, Mapping):
            return calls
        topic = ""
        for clause in _CLAUSE.split(words):
            if re.search(r"\b(?:weather|forecast)\b", clause, re.I):
                topic = "weather"
            elif find_expression(clause) is not None:
                topic = ""
            elif topic and _CITY.search(clause):
                clause = f"weather {clause}"  # "weather in Paris and in Rome": Rome too
            call = self._keyword_call(clause, names)
            if call is not None and call not in calls:
                calls.append(call)
        return calls

    def _keyword_call(self, words: str, names: list[str]) -> ToolCall | None:
        if re.search(r"\b(?:weather|forecast)\b", words, re.I) and "get_weather" in names:
            return ToolCall("get_weather", self._arguments("get_weather", words))
        if find_expression(words) is not None and "calculate" in names:
            return ToolCall("calculate", self._arguments("calculate", words))
        return None

    def _tool_call(self, words: str, request: ResponseRequest) -> ToolCall | None:
        names = _tool_names(request)
        if not names:
            return None
        call = self._keyword_call(words, names)
        if call is not None:
            return call
        choice = request.tool_choice
        forced: str | None = None
        if isinstance(choice, Mapping) and choice.get("type") == "function":
            forced = str(choice.get("name"))
        elif choice == "required":
            forced = names[0]
        if forced is None:
            return None
        return ToolCall(forced, self._arguments(forced, words))

    @staticmethod
    def _reply(words: str) -> str:
        lowered = words.lower()
        if not lowered or re.match(rf"(?:{'|'.join(_GREETINGS)})\b", lowered):
            return _GREETING_REPLY
        if re.search(r"\b(?:weather|forecast)\b", lowered):
            return f"I cannot check the weather in {find_city(words)} without a weather tool."
        expression = find_expression(words)
        if expression is not None:
            try:
                return f"{expression} = {format_number(evaluate(expression))}."
            except ZeroDivisionError:
                return "I cannot divide by zero."
        return f'You said: "{words}".'

    @staticmethod
    def _styled(text: str, request: ResponseRequest) -> Message:
        if re.search(r"\buppercase\b", request.instructions, re.I):
            text = text.upper()
        return Message(text)
