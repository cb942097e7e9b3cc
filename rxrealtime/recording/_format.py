"""The recording format itself (see :mod:`rxrealtime.recording` for the format and its
guarantees): the header, the record shape, the reference encoder (:func:`encode_line`, which
scrubs every record) and the parser (:func:`parse_line`). No I/O."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, NamedTuple

import attrs
import orjson

from rxrealtime import events as ev
from rxrealtime.masking import scrub

__all__ = [
    "FORMAT_VERSION",
    "HEADER_KEY",
    "JSON_READ_DEPTH",
    "JSON_WRITE_DEPTH",
    "Direction",
    "FrameTap",
    "Record",
    "encode_line",
    "end_record",
    "frame_record",
    "header_record",
    "is_header",
    "json_text",
    "micro",
    "parse_line",
    "read_records",
    "reconnect_record",
    "scrub",
    "wire_field",
]

FORMAT_VERSION = 1
"""The value of the header's ``rxrealtime_recording`` key written by this version."""

HEADER_KEY = "rxrealtime_recording"
"""The key that marks a recording's header line."""

JSON_READ_DEPTH: Final = 1024
"""The deepest JSON value read back (orjson's limit, pinned by the tests): a line or frame
nested deeper is not JSON to a reader or to :func:`rxrealtime.events.decode`."""

JSON_WRITE_DEPTH: Final = 254
"""The deepest value written as nested JSON (orjson's limit, pinned by the tests); a record
nested deeper has its event written as JSON text (see Depth)."""

Direction = str
"""``"in"`` (server → client), ``"out"`` (client → server) or ``"end"`` (end of the stream)."""


@attrs.frozen
class Record:
    """One line of a recording, as :func:`parse_line` / :func:`rxrealtime.replay_records` give it.

    ``frame`` is what went over the wire: JSON text (re-serialised for ``"event"`` records, the
    line itself for plain JSONL, the raw text of an invalid frame) or ``bytes`` for a binary
    frame; :meth:`decode` turns it into a server event. ``fields`` is the whole parsed line
    (empty for a plain event line or a line that is not JSON). ``t``/``ts`` are ``None`` when
    the line has no timestamps.
    """

    dir: Direction
    frame: str | bytes
    t: float | None = None
    ts: float | None = None
    line: int = 0
    """1-based line number in the file."""
    fields: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    parsed: Any = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    """The ``"event"`` object as :func:`parse_line` parsed it (``None`` otherwise), so that
    :meth:`decode` need not parse ``frame`` again; not part of equality."""

    def decode(self) -> ev.ServerEvent:
        """The server event this frame decodes to: ``ev.decode(frame)``, never raises.

        For an ``"event"`` record the already parsed object is structured directly
        (``ev.from_dict``), which gives the same event without parsing the JSON a second time;
        an event that does not hold (an ``InvalidEvent``) is decoded from ``frame``, so its
        ``raw`` is the frame's text exactly as ``ev.decode`` would give it.
        """
        parsed = self.parsed
        if parsed is not None and parsed.__class__ is dict:
            event = ev.from_dict(parsed)
            if event.__class__ is not ev.InvalidEvent:
                return event
        return ev.decode(self.frame)


class FrameTap(NamedTuple):
    """What a recorder offers a session so that every frame is recorded without wrapping the
    session's transport (a recorder's ``tap()``; the session then keeps its fastest receive
    path). The session calls, on its event loop's thread:

    * ``frame_in(frame, event)`` for every frame received, with the event it decoded to, in
      order, before the event is delivered (``frame`` is text, or a bytes-like payload the
      callee must copy if it keeps it beyond the call and it is a ``memoryview``);
    * ``frame_out(frame)`` for every frame sent, once the send succeeded (frames a reconnect
      sends to restore the session included);
    * ``connection(number, close_code, close_reason)`` when connection ``number`` (2, 3, ...)
      of the session is opened, before anything is sent on it, with how the previous one closed
      (``None``, ``None`` for a planned recycle);
    * ``session_ended(terminal)`` once, when the session's stream ends (``terminal``: its
      :class:`~rxrealtime.errors.ConnectionClosed`).

    None of them raises (a recorder counts and logs its own failures), so the session needs no
    guard around them.
    """

    frame_in: Callable[[str | bytes | bytearray | memoryview, ev.ServerEvent], None]
    frame_out: Callable[[str | bytes], None]
    connection: Callable[[int, int | None, str | None], None]
    session_ended: Callable[[BaseException], None]


# -- writing ------------------------------------------------------------------------------------


def header_record(started_at: float, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The header line's object (``meta`` left out when empty)."""
    header: dict[str, Any] = {HEADER_KEY: FORMAT_VERSION, "started_at": started_at}
    if meta:
        header["meta"] = dict(meta)
    return header


def wire_field(frame: object) -> tuple[str, Any]:
    """The record field (``"event"``/``"raw"``/``"raw_base64"``) and value for one frame.

    ``frame`` is raw text or bytes off the wire, a decoded server or client event, or a dict.
    Raises ``TypeError`` for anything else.
    """
    if isinstance(frame, bytes | bytearray | memoryview):
        data = bytes(frame)
        try:
            return wire_field(data.decode("utf-8"))
        except UnicodeDecodeError:
            return "raw_base64", base64.b64encode(data).decode("ascii")
    if isinstance(frame, str):
        try:
            return "event", orjson.loads(frame)
        except orjson.JSONDecodeError:
            return "raw", frame
    if isinstance(frame, ev.InvalidEvent):
        # Verbatim, so a replay decodes exactly the same InvalidEvent.
        raw = frame.raw
        if isinstance(raw, str):
            return "raw", raw
        if isinstance(raw, bytes):
            return "raw_base64", base64.b64encode(raw).decode("ascii")
        return "event", raw
    if isinstance(frame, ev.ServerEvent | ev.ClientEvent):
        return "event", ev.to_dict(frame)
    if isinstance(frame, Mapping):
        return "event", dict(frame)
    raise TypeError(f"cannot record a {type(frame).__name__}; expected an event, dict or frame")


def micro(t: float) -> float:
    """``t`` rounded to the microsecond, as every record's ``"t"`` is (one rule for every
    writer; cheaper than ``round(t, 6)``, equal to it but in the last bit of rare halfway
    cases)."""
    return round(t * 1e6) / 1e6


def frame_record(direction: Direction, frame: object, *, t: float, ts: float) -> dict[str, Any]:
    """The record object for one frame (see :func:`wire_field` for what ``frame`` may be)."""
    field, value = wire_field(frame)
    return {"t": micro(t), "ts": ts, "dir": direction, field: value}


def end_record(reason: str, error: str | None, *, t: float, ts: float) -> dict[str, Any]:
    """The ``"end"`` record: ``reason`` is ``"completed"``, ``"error"``, ``"closed"`` or
    ``"interrupted"``."""
    return {"t": micro(t), "ts": ts, "dir": "end", "reason": reason, "error": error}


def reconnect_record(
    connection: int,
    close_code: int | None,
    close_reason: str | None,
    *,
    t: float,
    ts: float,
) -> dict[str, Any]:
    """The ``"reconnect"`` record that starts connection number ``connection`` (2, 3, …)."""
    return {
        "t": micro(t),
        "ts": ts,
        "dir": "reconnect",
        "connection": connection,
        "close_code": close_code,
        "close_reason": close_reason,
    }


def encode_line(record: Mapping[str, Any], secrets: Iterable[str | None]) -> bytes:
    """``record`` scrubbed of ``secrets`` and serialised as one ``"\\n"``-terminated line.

    Never raises (see the module's Depth section): values JSON cannot hold are written as their
    ``str``; a record too deep (or holding a number or string the fast writer refuses) has its
    values written as JSON text, its ``"event"`` as ``"raw"``; a record that cannot be written
    at all becomes ``{"t", "ts", "dir", "unrecordable": <why>}``.
    """
    try:
        scrubbed = scrub(record, secrets)
    except Exception as error:  # a value whose str() fails, a broken mapping
        return _unrecordable(record, error)
    try:
        return orjson.dumps(scrubbed, default=str, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # orjson.JSONEncodeError: too deep, an int over 64 bits, a surrogate
        pass
    try:
        line = {
            ("raw" if key == "event" else key): value
            if isinstance(value, str | int | float | bool | None)
            else json_text(value)
            for key, value in scrubbed.items()
        }
        return json.dumps(line, ensure_ascii=False).encode("utf-8", "backslashreplace") + b"\n"
    except Exception as error:
        return _unrecordable(record, error)


def _unrecordable(record: Mapping[str, Any], error: Exception) -> bytes:
    safe: dict[str, Any] = {}
    for key in ("t", "ts", "dir"):
        value = record.get(key)
        safe[key] = value if isinstance(value, str | float | int) else None
    safe["unrecordable"] = f"{type(error).__name__}"
    return orjson.dumps(safe, option=orjson.OPT_APPEND_NEWLINE)


def json_text(value: Any) -> str:
    """``value`` (dicts, lists, tuples, scalars; anything else as its ``str``) as JSON text,
    at any depth: iterative, so no nesting reaches a recursion or writer limit."""
    out: list[str] = []
    # a stack of pending work: a value to write, or a literal piece of text
    stack: list[tuple[bool, Any]] = [(False, value)]
    while stack:
        literal, item = stack.pop()
        if literal:
            out.append(item)
        elif isinstance(item, Mapping):
            pieces: list[tuple[bool, Any]] = [(True, "{")]
            for index, (key, member) in enumerate(item.items()):
                prefix = "," if index else ""
                pieces.append((True, prefix + _scalar(str(key)) + ":"))
                pieces.append((False, member))
            pieces.append((True, "}"))
            stack.extend(reversed(pieces))
        elif isinstance(item, list | tuple):
            pieces = [(True, "[")]
            for index, member in enumerate(item):
                if index:
                    pieces.append((True, ","))
                pieces.append((False, member))
            pieces.append((True, "]"))
            stack.extend(reversed(pieces))
        else:
            out.append(_scalar(item))
    return "".join(out)


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "true" if value is True else "false" if value is False else "null"
    if isinstance(value, int):
        return str(int(value))  # any size (orjson stops at 64 bits)
    if isinstance(value, float):
        return orjson.dumps(value).decode()  # NaN and infinities become null, as orjson does
    if not isinstance(value, str):
        value = str(value)
    return json.dumps(value, ensure_ascii=False)


# -- reading ------------------------------------------------------------------------------------


def is_header(value: object) -> bool:
    """Whether a parsed line is a recording's header."""
    return isinstance(value, dict) and HEADER_KEY in value


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def parse_line(raw: bytes | str, number: int = 0) -> Record | None:
    """The record on one line (``number`` is its 1-based line number); ``None`` for a blank
    or header line. Never raises on content (see the module guarantees)."""
    stripped = (raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw).strip()
    if not stripped:
        return None
    try:
        text: str | bytes = stripped.decode("utf-8")
    except UnicodeDecodeError:
        text = stripped
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return Record("in", text, line=number)
    if not isinstance(value, dict):
        return Record("in", text, line=number)
    if HEADER_KEY in value:
        return None
    direction = value.get("dir")
    if not isinstance(direction, str):
        return Record("in", text, line=number)  # a plain server event
    frame: str | bytes = text
    parsed: Any = None
    if "event" in value:
        parsed = value["event"]
        try:
            frame = orjson.dumps(parsed).decode()
        except TypeError:  # deeper than the writer takes (or an int over 64 bits)
            frame = json_text(parsed)
    elif isinstance(value.get("raw"), str):
        frame = value["raw"]
    elif isinstance(value.get("raw_base64"), str):
        try:
            frame = base64.b64decode(value["raw_base64"], validate=True)
        except (binascii.Error, ValueError):
            frame = text
    return Record(
        direction,
        frame,
        _number(value.get("t")),
        _number(value.get("ts")),
        number,
        value,
        parsed=parsed,
    )


def read_records(lines: Iterable[bytes | str]) -> Iterator[Record]:
    """The records of ``lines`` (a binary file, or any iterable of lines), numbered from 1;
    blank and header lines skipped."""
    for number, raw in enumerate(lines, start=1):
        record = parse_line(raw, number)
        if record is not None:
            yield record
