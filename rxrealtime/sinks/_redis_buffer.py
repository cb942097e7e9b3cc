"""The buffer of one :class:`~rxrealtime.sinks.RedisPublisher`: what it recorded, encoded
into record lines, cut into stream entries for the writer, settled after each round trip.

Its invariants are kept here, together: at most ``buffer_size`` records wait (recorded and not
yet encoded, encoded, waiting for a retry, in flight), the oldest waiting records are dropped
first (never the end record), entry ids only grow and never change across retries. The
publisher (``redis.py``) owns the state (its ``__init__`` sets every attribute declared below)
and the public surface; this class is its half that the writer (:class:`._redis_link.Link`)
drives.
"""

from __future__ import annotations

import collections
import logging
import operator
from typing import Any, cast

from rxrealtime.masking import redact
from rxrealtime.recording import encode_line
from rxrealtime.sinks._redis_commands import Batch, Entry, SessionCommands
from rxrealtime.sinks._redis_encode import RecordEncoder
from rxrealtime.sinks._redis_link import Link

__all__ = ["PublisherBuffer"]

log = logging.getLogger("rxrealtime.redis")

_ENTRY_BYTES = 64 * 1024
_ENTRIES_PER_TAKE = 64
_RAW_LIMIT = 256
_LOG_EVERY = 100
_first = operator.itemgetter(0)


class PublisherBuffer:
    """The buffer half of a publisher (see the module)."""

    session_id: str
    model: str | None
    last_error: str | None
    _encoder: RecordEncoder
    commands: SessionCommands
    """How this session's batches become Redis commands (for the link)."""
    _buffer_size: int
    _entry_records: int
    # recorded, not yet encoded: (ts, direction, frame, flags); "end"/"reconnect" too
    _raw: list[tuple[float, str, Any, int]]
    _raw_limit: int
    """How many recorded items the tap lets wait before encoding them (and applying the
    bound): the room left in the buffer, at least ``_RAW_LIMIT``."""
    _records: collections.deque[tuple[float, bytes]]
    _retry: list[Entry]
    _retry_records: int
    _inflight: int
    _closing: bool
    _last_ms: int
    _seq: int
    _link: Link | None
    _queued: bool
    _info: dict[str, Any]
    _index_start: float | None
    _published: int
    _dropped: int
    _errors: int
    _retries: int
    _next_drop_log: int

    def _attach(self) -> Link:
        """The writer of this loop and Redis, joined (the publisher's)."""
        raise NotImplementedError

    def _check_flushed(self) -> None:
        """Called after every settlement (the publisher finishes its close there)."""
        raise NotImplementedError

    def _push(self, ts: float, direction: str, frame: object, flags: int) -> None:
        raw = self._raw
        raw.append((ts, direction, frame, flags))
        if not self._queued or len(raw) >= self._raw_limit:
            self._pushed()

    def _pushed(self) -> None:
        """After a record was appended to ``_raw``: encode a full raw buffer, tell the writer."""
        if len(self._raw) >= self._raw_limit:
            self._encode()
        if not self._queued:
            (self._link or self._attach()).ready(self)
            self._queued = True

    def failed(self, error: BaseException) -> None:
        """Count and log one failure to record (see the guarantees); never raises."""
        try:
            self._errors += 1
            self.last_error = redact(f"{type(error).__name__}: {error}", self._encoder.secrets)
            if self._errors == 1 or self._errors % _LOG_EVERY == 0:
                log.warning(
                    "session %s: %d publishing failure(s) so far, the latest: %s "
                    "(the session goes on)",
                    self.session_id,
                    self._errors,
                    self.last_error,
                )
        except Exception:  # even the report failing must not reach the session
            log.exception("rxrealtime Redis publisher failed")

    def _buffered(self) -> int:
        return len(self._raw) + len(self._records) + self._retry_records + self._inflight

    # -- encoding (on the loop, off the receive path when the load allows) ------------------

    def _room(self) -> None:
        """Update ``_raw_limit`` (after what waits changed)."""
        waiting = len(self._records) + self._retry_records + self._inflight
        self._raw_limit = max(_RAW_LIMIT, self._buffer_size - waiting)

    def _other(self, item: tuple[float, str, Any, int], origin: float) -> bytes | None:
        """The line of a recorded item the batch encoder leaves to Python (an ``"end"`` or
        ``"reconnect"`` record, a flagged or unvouched frame); ``None`` when it cannot be
        recorded (not a frame, or a bug of ours: counted and logged)."""
        ts, direction, frame, flags = item
        encoder = self._encoder
        try:
            if direction == "end":
                reason, error = frame
                return encoder.end(ts, reason, error)
            if direction == "reconnect":
                return encoder.reconnect(ts, *frame)
            return encoder.line(ts, direction, frame, flags)
        except Exception as error:
            self.failed(error)
            return None

    def _lines(self, raw: list[tuple[float, str, Any, int]]) -> list[bytes | None]:
        """Every recorded item's line, in order (``None`` for one that cannot be recorded): the
        plain frames in one call, the others through :meth:`_other`."""
        try:
            lines = self._encoder.lines_with(raw, self._other)
        except Exception:  # a bug of ours: one at a time, each failure counted
            lines = [self._other(item, 0.0) for item in raw]
        encoder = self._encoder
        if encoder.model is not None and encoder.model != self.model:
            self.model = encoder.model
            self._info["model"] = self.model
        return lines

    def _encode(self) -> None:
        raw, self._raw = self._raw, []
        errors = self._errors
        lines = self._lines(raw)
        records = self._records
        if self._errors == errors:  # every item has its line
            records.extend(zip(map(_first, raw), lines, strict=True))  # type: ignore[arg-type]
        else:
            self._keep(raw, lines)
        if len(records) + self._retry_records + self._inflight > self._buffer_size:
            self._enforce_bound()
        self._room()

    def _enforce_bound(self) -> None:
        excess = len(self._records) + self._retry_records + self._inflight - self._buffer_size
        if excess <= 0:
            return
        dropped = 0
        while excess > 0 and self._retry:
            lines = self._retry[0][1]  # the oldest waiting entry keeps its id, loses lines
            cut = min(excess, len(lines))
            del lines[:cut]
            if not lines:
                del self._retry[0]
            self._retry_records -= cut
            dropped += cut
            excess -= cut
        records = self._records
        while excess > 0 and len(records) > 1:
            records.popleft()
            dropped += 1
            excess -= 1
        if dropped:
            self._dropped += dropped
            if self._dropped >= self._next_drop_log:
                self._next_drop_log = 2 * self._dropped
                log.warning(
                    "session %s: Redis is behind; %d records dropped so far (buffer of %d, "
                    "oldest dropped first)",
                    self.session_id,
                    self._dropped,
                    self._buffer_size,
                )

    # -- what the link calls ---------------------------------------------------------------

    def take(self) -> Batch | None:
        self._queued = False
        raw = self._raw
        if raw and not self._records and not self._retry:
            batch = self._take_raw(raw)  # the usual case: only what was recorded since
            if batch is not None:
                return batch
        if self._raw:
            self._encode()
        records = self._records
        if (
            len(records) <= self._entry_records
            and not self._retry
            and not self._info
            and self._index_start is None
        ):  # what a round trip's linger gathered fits one entry
            if not records:
                return None
            whole = [record[1] for record in records]
            joined = whole[0] if len(whole) == 1 else b"".join(whole)
            if len(joined) <= _ENTRY_BYTES:
                entry = (self._next_id(records[0][0]), whole)
                records.clear()
                self._inflight += len(whole)
                self._room()
                return Batch([entry], None, None, joined, len(whole))
        entries = self._retry
        self._retry, self._retry_records = [], 0
        limit = self._entry_records
        while records and len(entries) < _ENTRIES_PER_TAKE:
            first_ts = records[0][0]
            lines: list[bytes] = []
            size = 0
            while records and len(lines) < limit and size < _ENTRY_BYTES:
                line = records.popleft()[1]
                lines.append(line)
                size += len(line)
            entries.append((self._next_id(first_ts), lines))
        info, start = self._index_updates()
        if not entries and info is None and start is None:
            return None
        batch = Batch(entries, info, start)
        self._inflight += batch.count
        self._room()
        if records:
            assert self._link is not None
            self._link.ready(self)
            self._queued = True
        return batch

    def _take_raw(self, raw: list[tuple[float, str, Any, int]]) -> Batch | None:
        """:meth:`take` when everything waiting was recorded since the last round trip:
        encoded in one call and cut into entries by count; ``None`` (the general path takes
        over) when that does not fit (too many, an entry too large, an item not recorded)."""
        count = len(raw)
        limit = self._entry_records
        if count > limit * _ENTRIES_PER_TAKE or count + self._inflight > self._buffer_size:
            return None
        errors = self._errors
        lines = self._lines(raw)
        self._raw = []
        joined: bytes | None = None
        if self._errors == errors:  # every item has its line
            whole = cast(list[bytes], lines)
            if count <= limit:
                joined = whole[0] if count == 1 else b"".join(whole)
                fits = len(joined) <= _ENTRY_BYTES
            else:
                fits = all(
                    sum(map(len, whole[n : n + limit])) <= _ENTRY_BYTES
                    for n in range(0, count, limit)
                )
            if fits:
                entries: list[Entry] = [
                    (self._next_id(raw[n][0]), whole[n : n + limit]) for n in range(0, count, limit)
                ]
                info, start = self._index_updates()
                self._inflight += count
                self._room()
                if info is None and start is None and joined is not None:
                    return Batch(entries, None, None, joined, count)
                return Batch(entries, info, start, None, count)
        self._keep(raw, lines)
        return None

    def _keep(self, raw: list[tuple[float, str, Any, int]], lines: list[bytes | None]) -> None:
        """Append the items' lines to the encoded records, those that have one."""
        pairs = zip(raw, lines, strict=True)
        self._records.extend((item[0], line) for item, line in pairs if line is not None)

    def _index_updates(self) -> tuple[dict[str, Any] | None, float | None]:
        """The info-hash fields and index start a batch carries (taken: they go with it)."""
        info = self._info if self._info else None
        self._info = {}
        if info is not None and isinstance(info.get("meta"), dict):
            info["meta"] = encode_line(info["meta"], self._encoder.secrets).decode().rstrip("\n")
        start, self._index_start = self._index_start, None
        return info, start

    def _next_id(self, ts: float) -> bytes:
        ms = int(ts * 1000)
        if ms > self._last_ms:
            self._last_ms, self._seq = ms, 0
        else:
            self._seq += 1
        return b"%d-%d" % (self._last_ms, self._seq)

    def written(self, batch: Batch) -> None:
        """The usual outcome, settled cheaply: every record of ``batch`` stored, no index
        update failed (nothing waits longer, so the bound needs no check)."""
        count = batch.count
        self._inflight -= count
        self._published += count
        if self._closing:
            self._check_flushed()

    def settle(self, batch: Batch, written: int, retry: list[Entry], index_failed: bool) -> None:
        self._inflight -= batch.count
        self._published += written
        if retry:
            self._retries += 1
            self._retry = retry + self._retry
            self._retry_records += sum(len(entry[1]) for entry in retry)
        if index_failed:
            self._info = {**(batch.info or {}), **self._info}
            if batch.start is not None:
                self._index_start = batch.start
        self._enforce_bound()
        self._room()
        self._check_flushed()

    def refused(self, entry: Entry, error: BaseException) -> None:
        """Redis refused ``entry`` for good (a non-transient error reply)."""
        self._errors += len(entry[1])
        self.last_error = redact(f"{type(error).__name__}: {error}", self._encoder.secrets)
        log.error("session %s: Redis refused %d records: %s", self.session_id, len(entry[1]), error)
