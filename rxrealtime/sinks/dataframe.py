"""Events as a pandas table: any event Observable, a recording or events already collected,
one row per frame (extra ``[notebook]``: ``pip install 'rxrealtime[notebook]'``).

::

    table = await rr.sinks.to_dataframe(rr.replay("session.jsonl"))   # an Observable
    table = await rr.sinks.to_dataframe("session.jsonl")              # both directions
    table = rr.sinks.events_dataframe(events)                         # a list in hand

    collector = rr.sinks.DataFrameCollector()                         # a live session
    session.events.subscribe(collector)
    ...
    collector.frame()

Every table has the columns of :data:`COLUMNS`, in that order:

* ``t``: seconds: for a recording, the recorded time since it started; for an Observable (or a
  collector), the time the event arrived since the call (since the collector was made); ``NaN``
  for events given without a time.
* ``direction``: ``"in"`` (server events) or ``"out"`` (client events: only recordings have
  them).
* ``type``: the wire ``type`` (beta names kept as received); ``"(invalid)"`` for a frame that
  decoded to an :class:`~rxrealtime.events.InvalidEvent` (not JSON, not an object, no
  ``type``, or a required field missing or wrong), whose ``text`` is the decoder's error.
* ``event_id``, ``response_id``, ``item_id``, ``call_id``: the ids the event carries, at its
  top level or on its ``response``/``item``.
* ``text``: the words of the event: a text, transcript or arguments delta, the final ``text``,
  ``transcript`` or ``arguments``, a content part's text, an item's text (message parts
  joined, a function call's arguments, a function call output), an error's message, an invalid
  frame's error. Audio deltas and appended audio have none: audio stays out of the table.
* ``event``: the event itself: the typed server event for ``"in"`` rows, the wire dict for
  ``"out"`` rows.

A value an event does not have is missing in its column (``None``, or ``NaN`` where pandas stores
the column as strings: test with ``isna()``/``notna()``).

Guarantees: one row per frame, in order; building a row never raises on content (unknown and
invalid events get rows too); the core package never imports pandas: this module imports it
only when a table is built, and without it raises ``ImportError`` saying what to install, when
the table is asked for (for an Observable: at the call, before subscribing).
"""

from __future__ import annotations

import asyncio
import importlib
import math
import os
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from reactivex import Observable
from reactivex import operators as rx_ops

from rxrealtime import events as ev
from rxrealtime._compat import Observer
from rxrealtime.recording import Record, read_records
from rxrealtime.scheduling import to_list

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

__all__ = ["COLUMNS", "DataFrameCollector", "events_dataframe", "event_row", "to_dataframe"]

COLUMNS: tuple[str, ...] = (
    "t",
    "direction",
    "type",
    "event_id",
    "response_id",
    "item_id",
    "call_id",
    "text",
    "event",
)
"""The columns of every table, in order."""

INVALID_TYPE = "(invalid)"
"""The ``type`` of a row for a frame that is not a usable event (an ``InvalidEvent``)."""

_AUDIO_DELTAS = frozenset({"response.output_audio.delta", "response.audio.delta"})
_TEXT_KEYS = ("text", "transcript", "arguments", "output")

Row = dict[str, Any]
Source = Observable[ev.ServerEvent] | str | os.PathLike[str] | Iterable[Any]


def _pandas() -> Any:
    try:
        return importlib.import_module("pandas")
    except ImportError as error:
        raise ImportError(
            "event tables need pandas: pip install 'rxrealtime[notebook]' (or pip install pandas)"
        ) from error


def _get(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, else the attribute (or the typed event's ``extra`` entry)."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "extra", None)
        if isinstance(extra, Mapping):
            value = extra.get(name)
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _item_text(item: Any) -> str | None:
    content = _get(item, "content")
    if isinstance(content, list | tuple):
        words = [_str(_get(part, "text")) or _str(_get(part, "transcript")) for part in content]
        found = [word for word in words if word]
        return " ".join(found) if found else None
    return _str(_get(item, "arguments")) or _str(_get(item, "output"))


def _text(kind: str | None, body: Any) -> str | None:
    if kind in _AUDIO_DELTAS:
        return None
    delta = _str(_get(body, "delta"))
    if delta is not None:
        return delta
    for key in _TEXT_KEYS:
        value = _str(_get(body, key))
        if value is not None:
            return value
    part = _get(body, "part")
    if part is not None:
        return _str(_get(part, "text")) or _str(_get(part, "transcript"))
    item = _get(body, "item")
    if item is not None:
        return _item_text(item)
    return _str(_get(_get(body, "error"), "message"))


def event_row(event: Any, *, t: float | None = None, direction: str = "in") -> Row:
    """The table row of one event: a server event (typed, unknown or invalid) or a wire dict.

    Never raises on content: whatever ``event`` holds, the row has every column of
    :data:`COLUMNS`.
    """
    body: Any = event
    if isinstance(event, ev.UnknownEvent):
        body = event.raw
    elif isinstance(event, ev.InvalidEvent):
        body = event.raw if isinstance(event.raw, Mapping) else None
    kind = _str(_get(body, "type"))
    invalid = kind is None or isinstance(event, ev.InvalidEvent)
    response, item = _get(body, "response"), _get(body, "item")
    if isinstance(event, ev.InvalidEvent):
        text: str | None = event.error
    else:
        text = None if invalid else _text(kind, body)
    return {
        "t": math.nan if t is None else t,
        "direction": direction,
        "type": INVALID_TYPE if invalid else kind,
        "event_id": _str(_get(body, "event_id")),
        "response_id": _str(_get(body, "response_id")) or _str(_get(response, "id")),
        "item_id": _str(_get(body, "item_id")) or _str(_get(item, "id")),
        "call_id": _str(_get(body, "call_id")) or _str(_get(item, "call_id")),
        "text": text,
        "event": event,
    }


def _record_row(record: Record) -> Row | None:
    if record.dir == "in":
        return event_row(record.decode(), t=record.t)
    if record.dir == "out":
        wire = record.fields.get("event")
        if not isinstance(wire, Mapping):
            wire = ev.decode(record.frame)  # not a JSON object: an InvalidEvent says why
        return event_row(wire, t=record.t, direction="out")
    return None  # "end", "reconnect" and kinds of later versions are not frames


def _frame(rows: Iterable[Row]) -> pd.DataFrame:
    pandas = _pandas()
    return pandas.DataFrame(list(rows), columns=list(COLUMNS))


def _rows(source: Iterable[Any]) -> Iterable[Row]:
    for value in source:
        if isinstance(value, Record):
            row = _record_row(value)
            if row is not None:
                yield row
        else:
            yield event_row(value)


def events_dataframe(source: str | os.PathLike[str] | Iterable[Any]) -> pd.DataFrame:
    """The table of a recording file (both directions, recorded times) or of events already in
    hand: server events, wire dicts, or :class:`~rxrealtime.Record` s (``t`` is ``NaN`` for
    events given without a time).

    A recording is read at once, whole; a file that is not a recording gives rows of
    ``"(invalid)"`` frames, as a replay would (missing files raise ``FileNotFoundError``).
    Raises ``ImportError`` without pandas.
    """
    _pandas()
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as file:
            return _frame(_rows(read_records(file)))
    return _frame(_rows(source))


def to_dataframe(source: Source) -> asyncio.Future[pd.DataFrame]:
    """A future of the table of ``source``: an Observable of events (subscribed now, on the
    running loop, so a hot ``session.events`` loses nothing between the call and the ``await``;
    the table is built when it completes, and the future fails with its error), or a recording
    path or events in hand (see :func:`events_dataframe`; the future is already done).

    ``t`` of an Observable's rows is the arrival time, in seconds since this call. An Observable
    that never completes (a live ``session.events``) never gives a table: bound it (``rx.take``,
    ``rx.take_while``, a closed session) or use a :class:`DataFrameCollector`. Needs a running
    event loop; raises ``ImportError`` at the call without pandas.
    """
    _pandas()
    loop = asyncio.get_running_loop()
    if isinstance(source, Observable):
        start = time.monotonic()
        rows = to_list(
            source.pipe(rx_ops.map(lambda event: event_row(event, t=time.monotonic() - start)))
        )

        async def build() -> pd.DataFrame:
            return _frame(await rows)

        return asyncio.ensure_future(build())
    done: asyncio.Future[pd.DataFrame] = loop.create_future()
    done.set_result(events_dataframe(source))
    return done


class DataFrameCollector(Observer[ev.ServerEvent]):
    """An observer that keeps one table row per event it receives; :meth:`frame` gives the table
    so far at any time (also while the stream goes on).

    ``t`` is the arrival time in seconds since the collector was made (a monotonic clock).
    ``on_next`` does no I/O and never raises on content; the rows stay after the stream ends.
    """

    def __init__(self) -> None:
        super().__init__()
        self._start = time.monotonic()
        self.rows: list[Row] = []
        """The rows so far (dicts with the keys of :data:`COLUMNS`)."""

    def _on_next_core(self, value: ev.ServerEvent) -> None:
        self.rows.append(event_row(value, t=time.monotonic() - self._start))

    def frame(self) -> pd.DataFrame:
        """The table of the rows so far (a new DataFrame each call). Raises ``ImportError``
        without pandas."""
        return _frame(self.rows)
