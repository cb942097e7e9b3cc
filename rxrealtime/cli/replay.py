"""``rxrealtime replay FILE``: what a recording says, read through the same operators a live
session uses.

The file is a :class:`~rxrealtime.sinks.Recorder` recording (both directions, timed; the
format is :mod:`rxrealtime.recording`) or plain JSON Lines with one server event per line;
:func:`rxrealtime.replay.replay_records` reads both. A file in which no line is a recording's
header, a record or a JSON event (an object with a ``"type"``), such as an empty file, a WAV
or a README, is not a recording: :class:`~rxrealtime.cli.common.CliError`, one line, status 1.
A real recording with a few broken lines still replays, those lines as invalid frames. Views
(``--only``):

``text``
    the conversation's words: ``you: …`` for each user text message sent (recordings only),
    ``assistant: …`` for each response's text or audio transcript (``ops.text_only()``), one
    line per response: the same lines ``demo`` and ``chat`` print live.
``tools``
    ``tool: NAME(ARGUMENTS) -> OUTPUT`` for each call (``ops.tool_calls()``); the output is the
    ``function_call_output`` the client sent, so plain server-event files show none.
``events``
    one line per frame: seconds since the first frame, ``in``/``out`` and the event type.
``timeline``
    the event types of each response (runs of one type collapsed to ``TYPE xN``) with
    relative times, printed when the recording has been read.

Without ``--only``: the conversation (``text`` and ``tools`` interleaved), then the timeline.
``--speed X`` replays with the recorded timing, ``X`` times as fast (``text`` streams as it
did); by default the file is read at once. Files without timestamps have no times to show.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from reactivex import Observable
from reactivex import operators as rx_ops
from reactivex.abc import DisposableBase
from reactivex.disposable import CompositeDisposable

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.cli.common import CliError, LinePrinter, ignore_error
from rxrealtime.cli.tools import tool_line
from rxrealtime.recording import Record, is_header
from rxrealtime.replay import replay_records

__all__ = ["VIEWS", "run_replay"]

VIEWS = ("text", "tools", "events", "timeline")


def _is_frame(value: object) -> bool:
    """Whether a parsed line is a record (``"dir"``) or a server event (``"type"``)."""
    return isinstance(value, dict) and (
        isinstance(value.get("dir"), str) or isinstance(value.get("type"), str)
    )


def _kind(path: Path) -> str:
    """``"recording"`` when ``path`` starts with a Recorder header, ``"events"`` when some
    line is a record or a JSON event; :class:`CliError` when neither (the module docs)."""
    empty = True
    with path.open("rb") as file:
        for line in file:
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                value = None
            if empty and is_header(value):
                return "recording"
            empty = False
            if _is_frame(value):
                return "events"
    why = "the file is empty" if empty else "no line is a JSON event or a recording's record"
    raise CliError(f"{path} is not a recording: {why}")


def _client_event(record: Record) -> Mapping[str, Any]:
    """The wire dict of an ``"out"`` record (empty when it is not a JSON object)."""
    try:
        value = orjson.loads(record.frame)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _received(record: Record) -> bool:
    return record.dir == "in"


def _event_type(record: Record) -> str:
    if record.dir == "out":
        return str(_client_event(record).get("type") or "(invalid frame)")
    event = record.decode()
    if isinstance(event, ev.InvalidEvent):
        return f"(invalid frame{': ' + event.type if event.type else ''})"
    return event.type or "(no type)"


def _user_text(event: Mapping[str, Any]) -> str | None:
    """The text of a ``conversation.item.create`` carrying a user text message."""
    item = event.get("item")
    if event.get("type") != "conversation.item.create" or not isinstance(item, dict):
        return None
    if item.get("type", "message") != "message" or item.get("role") != "user":
        return None
    texts = [
        str(part.get("text") or "")
        for part in item.get("content") or ()
        if isinstance(part, dict) and part.get("type") == "input_text"
    ]
    return " ".join(texts) if texts else None


def _arguments_shown(call: ops.ToolCall) -> str:
    # As the live tool runner shows them: the parsed arguments re-encoded.
    return call.arguments_json if call.error is not None else json.dumps(call.arguments)


class _Clock:
    """A record's time column: seconds since the first timed record (``timed=False``: none)."""

    def __init__(self, timed: bool) -> None:
        self.timed = timed
        self._t0: float | None = None

    def __call__(self, record: Record, label: str) -> str:
        if not self.timed:
            return label
        if record.t is None:
            return f"{'':>8}  {label}"
        if self._t0 is None:
            self._t0 = record.t
        return f"{record.t - self._t0:8.3f}  {label}"


class _Conversation:
    """The ``text`` and ``tools`` views: lines printed as the replay reaches them."""

    def __init__(self, printer: LinePrinter, *, text: bool, tools: bool, recorded: bool) -> None:
        self._printer = printer
        self._text = text
        self._tools = tools
        self._recorded = recorded  # a Recorder file: outputs come in "out" records
        self._waiting: dict[str, ops.ToolCall] = {}

    def attach(
        self, records: Observable[Record], events: Observable[ev.ServerEvent]
    ) -> DisposableBase:
        subscriptions = CompositeDisposable()
        if self._text:
            subscriptions.add(self._printer.attach(events))
        subscriptions.add(records.subscribe(self._on_record, ignore_error))
        if self._tools:
            subscriptions.add(
                events.pipe(ops.tool_calls()).subscribe(self._on_call, ignore_error, self._end)
            )
        return subscriptions

    def _on_record(self, record: Record) -> None:
        if record.dir != "out":
            return
        event = _client_event(record)
        said = _user_text(event)
        if said is not None and self._text:
            self._printer.line(f"you: {said}")
        item = event.get("item")
        if self._tools and isinstance(item, dict) and item.get("type") == "function_call_output":
            call = self._waiting.pop(str(item.get("call_id")), None)
            if call is not None:
                self._show(call, str(item.get("output", "")))

    def _on_call(self, call: ops.ToolCall) -> None:
        if self._recorded:
            self._waiting[call.call_id] = call
        else:
            self._show(call, None)

    def _end(self) -> None:
        for call in self._waiting.values():
            self._show(call, "(no output recorded)")
        self._waiting.clear()

    def _show(self, call: ops.ToolCall, output: str | None) -> None:
        self._printer.line(tool_line(call.name or "(unnamed)", _arguments_shown(call), output))


class _Timeline:
    """The ``timeline`` view: records grouped into responses, laid out at the end."""

    def __init__(self, clock: _Clock) -> None:
        self._clock = clock
        self._records: list[Record] = []

    def on_record(self, record: Record) -> None:
        self._records.append(record)

    def lines(self) -> list[str]:
        lines: list[str] = []
        block: list[tuple[Record, str]] = []  # (record, label) of the current group
        response: str | None = None

        def flush(status: str | None) -> None:
            nonlocal block, response
            if not block:
                return
            if response is not None:
                first, last = block[0][0].t, block[-1][0].t
                span = f", {last - first:.3f} s" if first is not None and last is not None else ""
                lines.append(f"response {response} ({status or 'unfinished'}{span})")
            run: list[tuple[Record, str]] = []
            for entry in [*block, None]:
                if run and (entry is None or entry[1] != run[0][1]):
                    count = f" x{len(run)}" if len(run) > 1 else ""
                    lines.append("  " + self._clock(run[0][0], run[0][1] + count))
                    run = []
                if entry is not None:
                    run.append(entry)
            block, response = [], None

        for record in self._records:
            label = _event_type(record) + (" (sent)" if record.dir == "out" else "")
            event = record.decode() if record.dir == "in" else None
            if isinstance(event, ev.ResponseCreated):
                flush(None)
                response = event.response.id if event.response is not None else "?"
            block.append((record, label))
            if isinstance(event, ev.ResponseDone):
                status = event.response.status if event.response is not None else None
                response = response or (event.response.id if event.response else None) or "?"
                flush(status or "done")
        flush(None)
        return lines


async def run_replay(path: Path, *, only: str | None = None, speed: float | None = None) -> None:
    """Print the views of ``path`` (see the module docs); :class:`CliError` when the file
    cannot be read."""
    if only is not None and only not in VIEWS:
        raise CliError(f"unknown view {only!r} (choose from {', '.join(VIEWS)})")
    try:
        source = replay_records(path, speed)
        recorded = _kind(path) == "recording"
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}") from None

    records = source.pipe(rx_ops.publish())
    events: Observable[ev.ServerEvent] = records.pipe(
        rx_ops.filter(_received), rx_ops.map(Record.decode)
    )
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()

    def fail(error: BaseException) -> None:
        if not finished.done():
            finished.set_exception(error)

    def on_completed() -> None:
        if not finished.done():
            finished.set_result(None)

    subscriptions = CompositeDisposable()
    if only in (None, "text", "tools"):
        conversation = _Conversation(
            LinePrinter(), text=only != "tools", tools=only != "text", recorded=recorded
        )
        subscriptions.add(conversation.attach(records, events))
    if only == "events":
        clock = _Clock(recorded)

        def show(record: Record) -> None:
            print(clock(record, f"{record.dir:<3}  {_event_type(record)}"), flush=True)

        subscriptions.add(records.subscribe(show, ignore_error))
    timeline = _Timeline(_Clock(recorded)) if only in (None, "timeline") else None
    if timeline is not None:
        subscriptions.add(records.subscribe(timeline.on_record, ignore_error))
    subscriptions.add(
        records.subscribe(
            on_completed=on_completed,
            on_error=lambda error: fail(CliError(f"cannot read {path}: {error}")),
        )
    )

    # A view that raises (stdout closed, ...) raises inside the replay's scheduled step: the
    # loop reports it to its exception handler, which here ends the replay with that error.
    previous = loop.get_exception_handler()
    loop.set_exception_handler(
        lambda _, context: fail(context.get("exception") or CliError(str(context["message"])))
    )
    try:
        connection = records.connect()
        if connection is not None:
            subscriptions.add(connection)
        await finished
    finally:
        loop.set_exception_handler(previous)
        subscriptions.dispose()
    if timeline is not None:
        lines = timeline.lines()
        if only is None and lines:
            note = "seconds from the first frame" if recorded else "no timestamps in the file"
            print(f"\ntimeline ({note})")
        for line in lines:
            print(line)
