"""The records of an offloaded publisher on their way to its helper process: the wire format.

An :class:`~rxrealtime.sinks.OffloadedRedisPublisher`'s receive tap writes each record straight
into one growing buffer in this format (the C tap, ``rxrealtime._native_tap``, writes the same
bytes; the tests hold the two equal), and the buffer crosses the pipe as it is: no tuple, no
float object and no serialiser per received frame. Both ends are the same machine and the same
Python, so numbers are in native byte order.

Each record is a header, ``=diBI`` -- ``ts`` (a double), ``flags`` (int32), ``code`` (one
byte), ``size`` (uint32) -- followed by ``size`` bytes:

* :data:`IN_BYTES` / :data:`OUT_BYTES`: a frame received / sent, its bytes as they were (a
  ``bytearray`` or ``memoryview`` comes back as ``bytes``);
* :data:`IN_TEXT` / :data:`OUT_TEXT`: a text frame, UTF-8 (it comes back as ``str``);
* :data:`LINE`: a finished record line (direction :data:`rxrealtime.sinks._redis_encode.LINE`);
* :data:`OTHER`: anything else, ``marshal.dumps((direction, frame))`` -- the ``"end"`` and
  ``"reconnect"`` records, a text that is not UTF-8 (a lone surrogate).
"""

from __future__ import annotations

import marshal
import struct
from typing import Any, Final

from rxrealtime.sinks._redis_encode import LINE as LINE_DIRECTION

__all__ = [
    "HEAD",
    "IN_BYTES",
    "IN_TEXT",
    "LINE",
    "OTHER",
    "OUT_BYTES",
    "OUT_TEXT",
    "decode_wire",
    "encode_record",
]

HEAD: Final = struct.Struct("=diBI")
"""A record's header: ts, flags, code, size."""
IN_BYTES: Final = 0
IN_TEXT: Final = 1
OUT_BYTES: Final = 2
OUT_TEXT: Final = 3
LINE: Final = 4
OTHER: Final = 5

_FRAME_CODES: Final = {
    ("in", False): IN_BYTES,
    ("in", True): IN_TEXT,
    ("out", False): OUT_BYTES,
    ("out", True): OUT_TEXT,
}
_DIRECTIONS: Final = {code: direction for (direction, _), code in _FRAME_CODES.items()}
_DIRECTIONS[LINE] = LINE_DIRECTION


def encode_record(ts: float, direction: str, frame: Any, flags: int) -> bytes:
    """One record in the wire format. Raises ``ValueError`` for a frame that is not text,
    bytes-like or marshallable (a decoded event: its line is made before it is recorded)."""
    code: int | None = None
    payload: bytes | None = None
    if direction == LINE_DIRECTION and frame.__class__ is bytes:
        code, payload = LINE, frame
    elif direction in ("in", "out"):
        if isinstance(frame, str):
            try:
                payload = frame.encode()
            except UnicodeEncodeError:
                payload = None
            else:
                code = _FRAME_CODES[direction, True]
        elif isinstance(frame, bytes | bytearray | memoryview):
            code, payload = _FRAME_CODES[direction, False], bytes(frame)
    if code is None or payload is None:
        code, payload = OTHER, marshal.dumps((direction, frame))
    try:
        return HEAD.pack(ts, flags, code, len(payload)) + payload
    except struct.error as error:  # flags beyond 32 bits, a payload of 4 GiB
        raise ValueError(f"a record the wire cannot carry: {error}") from error


def decode_wire(data: bytes) -> list[tuple[float, str, Any, int]]:
    """The records ``data`` holds, in order, as ``(ts, direction, frame, flags)``. Raises
    ``ValueError`` for data that is cut short or holds an unknown code."""
    records: list[tuple[float, str, Any, int]] = []
    view = memoryview(data)
    offset, end, head = 0, len(data), HEAD.size
    while offset < end:
        if offset + head > end:
            raise ValueError("a record header is cut short")
        ts, flags, code, size = HEAD.unpack_from(data, offset)
        offset += head
        if offset + size > end:
            raise ValueError("a record is cut short")
        payload = view[offset : offset + size]
        offset += size
        if code in (IN_TEXT, OUT_TEXT):
            records.append((ts, _DIRECTIONS[code], str(payload, "utf-8"), flags))
        elif code <= LINE:
            records.append((ts, _DIRECTIONS[code], payload.tobytes(), flags))
        elif code == OTHER:
            direction, frame = marshal.loads(payload)
            records.append((ts, direction, frame, flags))
        else:
            raise ValueError(f"unknown record code {code}")
    return records
