"""The record lines of many frames at once: :class:`FrameEncoder`, the one encoder of frame
records for every writer that records many frames (the Redis publisher; any recorder)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, TypeVar

import orjson

from rxrealtime.recording._format import (
    JSON_WRITE_DEPTH,
    Direction,
    encode_line,
    frame_record,
)

try:
    from rxrealtime import _native_records
except ImportError:  # not compiled (no C compiler at install time): the pure-Python encoder
    _native_records = None  # type: ignore[assignment]

__all__ = ["NATIVE", "FrameEncoder", "micro_time"]

NATIVE: bool = _native_records is not None and os.environ.get("RXREALTIME_PURE_PYTHON") != "1"
"""Whether :meth:`FrameEncoder.lines` uses its C twin (``rxrealtime._native_records``, an
optional extension: the same bytes, written without a Python call per plain frame)."""


def _micro_time() -> float:
    return (time.time_ns() + 500) // 1000 / 1e6


micro_time: Callable[[], float] = _native_records.now if NATIVE else _micro_time
"""The system clock's time (as :func:`time.time`) rounded to the microsecond: the stamp a
writer gives each frame (below a microsecond it means nothing, and a whole number of
microseconds is written without a general float formatter by the C encoder)."""

_TEMPLATES = {
    "in": b'{"t":%b,"ts":%b,"dir":"in","event":%b}\n',
    "out": b'{"t":%b,"ts":%b,"dir":"out","event":%b}\n',
}

_UNSAFE_IN_SECRET = frozenset('"\\/') | frozenset(chr(code) for code in range(0x20))
"""Characters JSON text may escape (or writes as ``\\/``): a secret holding one might not
appear verbatim in a frame's text, so the text search of the fast path cannot be trusted."""

_LIMIT: Final = 2 * JSON_WRITE_DEPTH
_FRAME_DIRECTIONS = frozenset({"in", "out"})
_T = TypeVar("_T")
_dumps = orjson.dumps


def _vouched(item: tuple[float, str, Any, int]) -> bool:
    """Whether a batch item is a frame vouched for (direction ``"in"``/``"out"``, flags ``1``):
    one :meth:`FrameEncoder.lines_with` encodes itself."""
    return item[3] == 1 and item[1] in _FRAME_DIRECTIONS


class FrameEncoder:
    """The record line of each frame.

    :meth:`line` returns what ``encode_line(frame_record(direction, frame, t=t, ts=ts),
    secrets)`` writes -- the same JSON value, scrubbed identically -- and, for most frames,
    builds it around the frame's own text instead of parsing it and writing it again. It does
    so only when that is provably the same record (every rule is checked on the text):

    * the frame is text (``str``, or UTF-8 bytes) that is valid JSON (``valid=True`` says the
      caller knows: ``ev.decode`` of this very text gave an event, not an ``InvalidEvent``;
      otherwise ``orjson`` checks it);
    * it cannot be nested deeper than :data:`JSON_WRITE_DEPTH` - 1 levels (the record adds
      one): it is shorter than twice the limit, or holds fewer ``[``/``{`` than the limit;
    * it has no line break (the record stays one line) and no ``\\u`` or ``\\/`` escape (an
      escaped secret or key would escape a text search);
    * no secret occurs in it, no secret holds a character JSON may escape, and nothing in it
      lower-cased contains ``bearer``, ``authorization``, ``api_key``, ``api-key`` or
      ``apikey`` (what :func:`~rxrealtime.masking.scrub` masks whole).

    :meth:`lines` does the same for a batch; where the optional C extension
    ``rxrealtime._native_records`` is built (:data:`NATIVE`), it checks and writes the plain
    frames of the batch (the same rules, the same bytes: the tests hold the two equal) and hands
    every other item back to the pure-Python encoder. Anything not provably plain goes through
    :func:`frame_record` and :func:`encode_line` (whose fallback rules cover any depth and
    content). Never raises on content; ``TypeError`` for a value that is not a frame, event or
    dict, as :func:`wire_field`.
    """

    __slots__ = ("_fast", "_secrets")

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        self._fast = True
        self.secrets = tuple(secret for secret in secrets if secret)

    @property
    def secrets(self) -> tuple[str, ...]:
        """What is masked, longest first."""
        return self._secrets

    @secrets.setter
    def secrets(self, secrets: Iterable[str | None]) -> None:
        ordered = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
        self._secrets = ordered
        self._fast = not any(_UNSAFE_IN_SECRET.intersection(secret) for secret in ordered)

    def line(
        self, direction: Direction, frame: object, *, t: float, ts: float, valid: bool = False
    ) -> bytes:
        """The record line of one frame (see the class for the rules)."""
        return self.lines([(ts, direction, frame, valid)], ts - t)[0]

    def lines(
        self, frames: Sequence[tuple[float, Direction, object, int]], origin: float
    ) -> list[bytes]:
        """The record lines of many frames, in order: ``(ts, direction, frame, valid)`` each
        (``valid`` true or false), ``t`` being ``ts - origin`` (one call for a batch: the same
        rules, less overhead)."""
        if self._fast and NATIVE:
            return _native_records.encode_lines(
                frames, origin, self._secrets, _LIMIT, JSON_WRITE_DEPTH, _dumps, self._one_line
            )
        return self.python_lines(frames, origin)

    def lines_with(
        self,
        items: Sequence[tuple[float, str, Any, int]],
        origin: float,
        other: Callable[[tuple[float, str, Any, int], float], _T],
    ) -> list[bytes | _T]:
        """Like :meth:`lines`, for a batch that also holds other items: each item
        ``(ts, direction, frame, flags)`` whose direction is ``"in"`` or ``"out"`` and whose
        ``flags`` is ``1`` (a frame vouched for, as ``valid=True``) gets its record line here;
        every other item gets ``other(item, origin)``, in order (one call for the batch)."""
        if self._fast and NATIVE:
            one = self._one_line

            def fallback(item: tuple[float, str, Any, int], origin: float) -> bytes | _T:
                if _vouched(item):  # a frame the C encoder declined
                    return one(item, origin)
                return other(item, origin)

            return _native_records.encode_lines(
                items, origin, self._secrets, _LIMIT, JSON_WRITE_DEPTH, _dumps, fallback
            )
        out: list[bytes | _T] = []
        run: list[tuple[float, Direction, object, int]] = []
        for item in items:
            if _vouched(item):
                run.append(item)
                continue
            if run:
                out += self.python_lines(run, origin)
                run = []
            out.append(other(item, origin))
        if run:
            out += self.python_lines(run, origin)
        return out

    def _one_line(self, item: tuple[float, Direction, object, int], origin: float) -> bytes:
        return self.python_lines((item,), origin)[0]

    def python_lines(
        self, frames: Iterable[tuple[float, Direction, object, int]], origin: float
    ) -> list[bytes]:
        """:meth:`lines` in pure Python (what the C encoder must equal, byte for byte)."""
        out: list[bytes] = []
        append = out.append
        secrets = self._secrets
        templates = _TEMPLATES if self._fast else {}
        dumps = orjson.dumps
        for ts, direction, frame, valid in frames:
            template = templates.get(direction)
            if template is not None:
                # every check runs on str: a substring test on bytes costs several times more
                kind = frame.__class__
                text: str | None = None
                data: Any = frame
                if kind is str:
                    try:
                        data = frame.encode()  # type: ignore[attr-defined]
                        text = frame  # type: ignore[assignment]
                    except UnicodeEncodeError:  # a lone surrogate: not text JSON can carry
                        text = None
                elif kind is bytes or kind is bytearray or kind is memoryview:
                    if kind is memoryview:
                        data = bytes(frame)  # type: ignore[call-overload]
                    try:
                        text = data.decode()
                    except UnicodeDecodeError:  # not UTF-8: the reference encoder decides
                        text = None
                if text is not None and _provably_plain(text, secrets):
                    if not valid:
                        try:
                            orjson.loads(data)
                        except orjson.JSONDecodeError:
                            text = None
                    if text is not None:
                        t = round((ts - origin) * 1e6) / 1e6  # micro(), inline
                        append(template % (dumps(t), dumps(ts), data))
                        continue
            record = frame_record(direction, frame, t=ts - origin, ts=ts)
            append(encode_line(record, secrets))
        return out


def _provably_plain(text: str, secrets: tuple[str, ...]) -> bool:
    """Whether JSON ``text`` can be embedded in a record as it is (see :class:`FrameEncoder`):
    shallow enough, one line, no escape that could hide a secret or a key, no secret, no
    ``Bearer``/credential key. Single-character tests (``memchr``) go first."""
    if len(text) >= _LIMIT and text.count("{") + text.count("[") >= JSON_WRITE_DEPTH:
        return False
    if "\n" in text or "\r" in text or ("\\" in text and ("\\u" in text or "\\/" in text)):
        return False
    for secret in secrets:
        if secret in text:
            return False
    if text.isascii():  # O(1); then only A-Z lower-case to a-z: look for a word's letter first
        z = "z" in text or "Z" in text
        k = "k" in text or "K" in text
        if not (z or k or "b" in text or "B" in text):
            return True
    else:
        z = k = True
    lowered = text.lower()
    if "bearer" in lowered:
        return False
    if z and "authorization" in lowered:
        return False
    return not (k and ("api_key" in lowered or "api-key" in lowered or "apikey" in lowered))
