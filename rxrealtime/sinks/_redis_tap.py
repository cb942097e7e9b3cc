"""The Redis publisher's receive tap: what a session calls with every frame it receives.

:class:`ReceiveTap` is the hot path of publishing -- one call per received frame -- so it does
only what must happen in order, on the session's path: count the frame, let the publisher's
encoder decide the few frame types the audio policy looks at, stamp the record with the clock
and append it to the publisher's buffer. Everything else (record lines, Redis) is done later,
in batches.

In *wire* mode (an :class:`~rxrealtime.sinks.OffloadedRedisPublisher`'s tap) each record is
written straight into the buffer that crosses the pipe to the helper process, in the format of
:mod:`rxrealtime.sinks._redis_wire`, instead of being appended to :attr:`PyReceiveTap.raw`.

It has a C twin in the optional extension ``rxrealtime._native_tap`` (the same behaviour; the
tests run both). :data:`ReceiveTap` is the C one when it is built and ``RXREALTIME_PURE_PYTHON``
is not ``1``, else :class:`PyReceiveTap`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast

from rxrealtime import events as ev
from rxrealtime.sinks._redis_encode import OMIT, VALID
from rxrealtime.sinks._redis_wire import encode_record

try:
    from rxrealtime import _native_tap
except ImportError:  # not compiled (no C compiler at install time): the pure-Python tap
    _native_tap = None  # type: ignore[assignment]

__all__ = ["NATIVE", "PyReceiveTap", "ReceiveTap", "Record"]

Record = tuple[float, str, Any, int]
"""A recorded item: ``(ts, direction, frame, flags)``."""


NATIVE: bool = _native_tap is not None and os.environ.get("RXREALTIME_PURE_PYTHON") != "1"
"""Whether :data:`ReceiveTap` is the C twin."""


class PyReceiveTap:
    """Called as ``tap(frame, event)`` with every frame a session receives and its event.

    Args:
        kinds: the event types (besides ``session.*`` and invalid events) ``admit`` decides.
        admit: ``admit("in", type, frame)`` -> flags, or ``-1`` to leave the frame out (the
            publisher's :meth:`RecordEncoder.admit`, which keeps the audio-marker state).
        wake: called after an append that made :attr:`raw` hold one item (the writer must
            learn there is something to write) or at least :attr:`limit` items.
        failed: called with whatever a call raised (``KeyboardInterrupt`` and ``SystemExit``
            aside, which propagate); the tap itself never raises otherwise.
        clock: the time each record is stamped with.
        invalid: the class of events that did not validate (``InvalidEvent``): ``admit``
            decides them and they get no ``VALID`` flag.
        wire: write the records in the wire format (see the module) instead of to :attr:`raw`;
            ``wake`` is then called when the buffer holds one record.

    Guarantees: records are appended to :attr:`raw` in call order as
    ``(clock(), "in", frame, flags)`` (in wire mode, to the wire buffer, with :meth:`append`'s
    records in call order); a ``memoryview`` frame is copied (the session may reuse its
    buffer); nothing is recorded or counted once :attr:`ended` is true. Runs on the caller's
    thread (the session's event loop), no locking.
    """

    __slots__ = (
        "_admit",
        "_clock",
        "_failed",
        "_invalid",
        "_kinds",
        "_wake",
        "_wire",
        "ended",
        "frames",
        "limit",
        "raw",
    )

    def __init__(
        self,
        kinds: frozenset[str],
        admit: Callable[[str, str | None, object], int],
        wake: Callable[[], None],
        failed: Callable[[BaseException], None],
        clock: Callable[[], float],
        *,
        invalid: type,
        wire: bool = False,
    ) -> None:
        self._kinds = kinds
        self._admit = admit
        self._wake = wake
        self._failed = failed
        self._clock = clock
        self._invalid = invalid
        self.raw: list[Record] = []
        """The records appended since the publisher last took them (it swaps in a new list)."""
        self.limit = 1
        """The length of :attr:`raw` from which every append calls ``wake``."""
        self.frames = 0
        """Frames this tap was called with (left-out ones included) while not :attr:`ended`."""
        self.ended = False
        self._wire: list[bytes] | None = [] if wire else None

    def __call__(self, frame: Any, event: ev.ServerEvent) -> None:
        try:
            if self.ended:
                return
            self.frames += 1
            kind: Any = event.type
            invalid = event.__class__ is self._invalid
            if invalid or kind in self._kinds or kind[:8] == "session.":
                flags = self._admit("in", kind, frame)
                if flags == OMIT:
                    return
                if not invalid:
                    flags |= VALID
            else:
                flags = VALID
            wire = self._wire
            if wire is not None:
                wire.append(encode_record(self._clock(), "in", frame, flags))
                if len(wire) == 1:
                    self._wake()
                return
            if frame.__class__ is memoryview:
                frame = bytes(frame)
            raw = self.raw
            raw.append((self._clock(), "in", frame, flags))
            if len(raw) == 1 or len(raw) >= self.limit:
                self._wake()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:
            self._failed(error)

    # -- wire mode ---------------------------------------------------------------------------

    def append(self, ts: float, direction: str, frame: Any, flags: int) -> None:
        """Write a record the publisher made itself (sent frames, ``"end"``, ...) after those
        before it; calls nothing back. Raises ``ValueError`` for a frame the wire cannot carry
        (see :func:`~rxrealtime.sinks._redis_wire.encode_record`), ``TypeError`` when not in
        wire mode."""
        self._wire_buffer().append(encode_record(ts, direction, frame, flags))

    @property
    def wire_records(self) -> int:
        """How many records the wire buffer holds."""
        return len(self._wire_buffer())

    def take_wire(self) -> bytes:
        """The wire buffer's bytes; it is empty afterwards."""
        data = b"".join(self._wire_buffer())
        self._wire = []
        return data

    def _wire_buffer(self) -> list[bytes]:
        if self._wire is None:
            raise TypeError("not a wire tap")
        return self._wire


ReceiveTap: type[PyReceiveTap] = (
    cast("type[PyReceiveTap]", _native_tap.ReceiveTap) if NATIVE else PyReceiveTap
)
"""The receive tap the publisher uses (see the module)."""
