"""What the Redis writer sends, packed: a publisher's batches (:class:`Batch`, :data:`Entry`),
one session's commands (:class:`SessionCommands`, their constant parts packed once), a group
stream's entries (:func:`group_entry`), and the publisher's counters
(:class:`PublisherStatistics`). Sans-I/O; packing by hand (RESP: arrays of bulk strings) costs a
fraction of redis-py's packer."""

from __future__ import annotations

import functools
from typing import Any

import attrs

from rxrealtime.sources.redis_layout import (
    FIELD_COUNT,
    FIELD_RECORDS,
    FIELD_SESSION,
    SESSION_FIELD_PREFIX,
)

__all__ = [
    "Batch",
    "Command",
    "Entry",
    "PublisherStatistics",
    "SessionCommands",
    "group_entry",
    "group_head",
]


@attrs.frozen
class PublisherStatistics:
    """A snapshot of one publisher (see :meth:`RedisPublisher.statistics`)."""

    session_id: str
    frames: int
    """Frames recorded (both directions, before audio was left out)."""
    published: int
    """Records confirmed stored in Redis (including the end record)."""
    buffered: int
    """Records waiting to be written, or being written."""
    omitted_audio: int
    dropped: int
    """Records dropped by the overflow policy (or still unwritten when ``aclose`` gave up)."""
    errors: int
    """Records Redis refused for good (a non-transient error reply), and failures to record
    (a bug, a value that is not a frame: each counted, logged, never raised)."""
    retries: int
    """Writes that failed transiently and were retried."""
    ended: bool


Entry = tuple[bytes, list[bytes]]
"""One stream entry: ``(entry id, its record lines)``; the id never changes, and the oldest
lines of an entry waiting for a retry may be dropped by the overflow policy."""


class Batch:
    """What one publisher hands to one pipeline: entries plus index updates."""

    __slots__ = ("count", "entries", "info", "records", "start")

    def __init__(
        self,
        entries: list[Entry],
        info: dict[str, Any] | None,
        start: float | None,
        records: bytes | None = None,
        count: int | None = None,
    ) -> None:
        self.entries = entries
        """``(entry id, record lines)`` in order."""
        self.info = info
        """Fields to set in the session's info hash, or ``None``."""
        self.start = start
        """The session's start time, when it still has to be added to the index."""
        self.records = records
        """The usual case, set by the publisher: one entry, no index update, and its lines
        joined (the writer packs it without looking at the lines); else ``None``."""
        self.count = sum(len(entry[1]) for entry in entries) if count is None else count
        """How many records the entries hold (in flight while the batch is written)."""


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _arg(value: bytes | str | int | float) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return repr(value).encode()


def _pack(command: tuple[bytes | str | int | float, ...]) -> bytes:
    """One command in the Redis protocol (RESP): an array of bulk strings."""
    return b"*%d\r\n" % len(command) + b"".join(_bulk(_arg(value)) for value in command)


Command = bytes | tuple[bytes | str | int | float, ...]
"""A command packed in RESP (for a plain client) or as arguments (for a Cluster client)."""


class SessionCommands:
    """One session's Redis commands, their constant parts packed once (redis-py's packer costs
    tens of microseconds a command, more than everything else a record costs)."""

    __slots__ = (
        "_expire",
        "_head",
        "_index",
        "_info_key",
        "_maxlen",
        "_middle",
        "_stream",
        "group_field",
        "group_key",
        "group_maxlen",
        "session",
        "shard",
    )

    def __init__(
        self,
        session_id: str,
        stream: str,
        info_key: str,
        index_key: str,
        shard: str,
        maxlen: int,
        group_maxlen: int,
        retention: float | None,
    ) -> None:
        self.session = session_id.encode()
        self.shard = shard
        self.group_maxlen = group_maxlen
        self.group_key = (shard, group_maxlen)
        """Which group stream (and bound) this session's records go to."""
        self._stream, self._maxlen = stream, maxlen
        self._info_key, self._index = info_key, index_key
        self._expire = None if retention is None else max(1, int(retention))
        self._head = b"*12\r\n" + b"".join(
            _bulk(_arg(value)) for value in (b"XADD", stream, b"MAXLEN", b"~", maxlen)
        )
        self._middle = _bulk(FIELD_SESSION) + _bulk(self.session) + _bulk(FIELD_COUNT)
        self.group_field = _bulk(SESSION_FIELD_PREFIX + self.session)
        """This session's field of a group entry, packed."""

    def entry(self, entry_id: bytes, count: int, records: bytes, packed: bool) -> Command:
        """``XADD`` of one entry to the session's own stream."""
        if packed:
            return self.packed_entry(entry_id, count, records)
        return (b"XADD", self._stream, b"MAXLEN", b"~", self._maxlen, entry_id, FIELD_SESSION,
                self.session, FIELD_COUNT, count, FIELD_RECORDS, records)  # fmt: skip

    def packed_entry(self, entry_id: bytes, count: int, records: bytes) -> bytes:
        """:meth:`entry`, packed in RESP (one format operation)."""
        number = b"%d" % count
        return b"%b$%d\r\n%b\r\n%b$%d\r\n%b\r\n%b$%d\r\n%b\r\n" % (
            self._head, len(entry_id), entry_id, self._middle, len(number), number,
            _RECORDS, len(records), records,
        )  # fmt: skip

    def index(self, out: list[Command], batch: Batch, packed: bool) -> int:
        """Append the batch's index commands (``ZADD``, ``HSET``, ``EXPIRE``); how many."""
        commands: list[tuple[bytes | str | int | float, ...]] = []
        if batch.start is not None:
            commands.append((b"ZADD", self._index, batch.start, self.session))
        if batch.info:
            fields: list[bytes | str | int | float] = []
            for key, value in batch.info.items():
                fields += (key, value if isinstance(value, str | int | float) else str(value or ""))
            commands.append((b"HSET", self._info_key, *fields))
            if self._expire is not None and batch.info.get("status") == "ended":
                commands.append((b"EXPIRE", self._info_key, self._expire))
                commands.append((b"EXPIRE", self._stream, self._expire))
        out.extend(_pack(command) if packed else command for command in commands)
        return len(commands)


_RECORDS = _bulk(FIELD_RECORDS)


def group_entry(shard: str, maxlen: int, fields: dict[bytes, list[bytes]], packed: bool) -> Command:
    """``XADD`` of one group-stream entry: one ``s:SESSION`` field per session, holding that
    session's records in order (``fields``: each session's packed field name, as
    :attr:`SessionCommands.group_field`, or its id when not ``packed``, to its records)."""
    if packed:
        out = [b"*%d\r\n" % (6 + 2 * len(fields)), group_head(shard, maxlen)]
        for field, pieces in fields.items():
            records = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            out += (field, b"$%d\r\n" % len(records), records, b"\r\n")
        return b"".join(out)
    args: list[bytes | str | int | float] = [b"XADD", shard, b"MAXLEN", b"~", maxlen, b"*"]
    for session, pieces in fields.items():
        records = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        args += (SESSION_FIELD_PREFIX + session, records)
    return tuple(args)


@functools.lru_cache(maxsize=256)
def group_head(shard: str, maxlen: int) -> bytes:
    """The packed arguments of a group-stream ``XADD`` before its fields (cached)."""
    return b"".join(_bulk(_arg(value)) for value in (b"XADD", shard, b"MAXLEN", b"~", maxlen, b"*"))
