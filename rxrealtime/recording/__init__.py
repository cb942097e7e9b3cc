"""The recording format: one home for the header, the record shape, scrubbing and parsing.

Every writer (:class:`~rxrealtime.sinks.Recorder`, and any publisher that uses the same record
shape) builds its lines here, and every reader (:func:`rxrealtime.replay`, the ``replay``
command) parses them here. This module does no I/O: writers pass the bytes of
:func:`encode_line` to their file or broker, readers pass lines to :func:`parse_line` /
:func:`read_records`.

Format (JSON Lines, UTF-8, one object per line, ``"\\n"``-terminated)
---------------------------------------------------------------------

The first line is a header::

    {"rxrealtime_recording": 1, "started_at": <unix time, float>, "meta": {...}}

Every frame is then one record::

    {"t": <seconds since the recording started, float>, "ts": <unix time, float>,
     "dir": "in" | "out", "event": <the wire dict>}

``"in"`` is a server event, ``"out"`` a client event, ``"event"`` exactly what went over the
wire (the event layer's ``to_dict``). A frame that is not a JSON value, and any frame that
decoded to an ``InvalidEvent``, is kept verbatim: ``"raw": <text>`` instead of ``"event"``, or
``"raw_base64": <base64>`` for a binary (or non-UTF-8) frame. When the stream ends, a last
record says how::

    {"t": ..., "ts": ..., "dir": "end",
     "reason": "completed" | "error" | "closed" | "interrupted", "error": <message> | null}

(``"interrupted"``: the recording's owner was stopped by the user, e.g. Ctrl-C in the CLI.)
A session that reconnects goes on in the same recording: each new connection starts with ::

    {"t": ..., "ts": ..., "dir": "reconnect", "connection": <2, 3, ...>,
     "close_code": <how the previous one closed> | null, "close_reason": <text> | null}

(``null`` when the new connection replaced one that was still open: a planned recycle).

Readers also accept plain JSON Lines with one server event per line (no header, no ``dir``),
and skip records whose ``dir`` they do not know, so later versions may add kinds.

Depth
-----

A frame is recorded whatever its nesting. Values up to :data:`JSON_WRITE_DEPTH` levels deep
are written as nested JSON (``"event"``); a record nested deeper is written with its event as
JSON *text* (``"raw"``, masked like any record), which replays to the same event; a value that
cannot be written at all (never one that came off the wire) leaves a record that keeps its
``t``/``ts``/``dir`` and says why in ``"unrecordable"``. :data:`JSON_READ_DEPTH` is the
deepest value a reader (and the event decoder) parses: a frame nested deeper is not JSON to
them, so it is an ``InvalidEvent`` live and in a replay alike.

Guarantees
----------

* **No secrets.** :func:`encode_line` scrubs every record with :func:`scrub` (the one masking
  implementation, :mod:`rxrealtime.masking`) before serialising it.
* **Writing never raises** on content, whatever its depth, size or values (see Depth): every
  writer (the recorder, the Redis publisher) goes through :func:`encode_line`.
* **Parsing never raises** on content: a blank or header line is skipped, a line that is not a
  JSON object, or not a record, is an ``"in"`` frame holding the line itself (so decoding it
  gives the same ``InvalidEvent``/event the live stream would have); a record of any depth
  gives its frame.
"""

from __future__ import annotations

from rxrealtime.recording._format import (
    FORMAT_VERSION,
    HEADER_KEY,
    JSON_READ_DEPTH,
    JSON_WRITE_DEPTH,
    Direction,
    FrameTap,
    Record,
    encode_line,
    end_record,
    frame_record,
    header_record,
    is_header,
    json_text,
    micro,
    parse_line,
    read_records,
    reconnect_record,
    scrub,
    wire_field,
)
from rxrealtime.recording._frames import FrameEncoder, micro_time

__all__ = [
    "FORMAT_VERSION",
    "HEADER_KEY",
    "JSON_READ_DEPTH",
    "JSON_WRITE_DEPTH",
    "Direction",
    "FrameEncoder",
    "FrameTap",
    "Record",
    "encode_line",
    "end_record",
    "frame_record",
    "header_record",
    "is_header",
    "json_text",
    "micro",
    "micro_time",
    "parse_line",
    "read_records",
    "reconnect_record",
    "scrub",
    "wire_field",
]
