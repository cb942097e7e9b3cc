"""The writer behind every :class:`~rxrealtime.sinks.RedisPublisher` of one event loop.

All publishers of one loop that use the same Redis (same URL, or the same client object) share
one :class:`Link`: one client and one background task that takes what every publisher has
buffered and writes it in one pipelined round trip: an ``XADD`` per entry to each session's
stream, one ``XADD`` per group stream carrying every session's records of the round trip (see
:mod:`rxrealtime.sources.redis_layout`), ``HSET``/``ZADD`` for the index. The receive loops only
append to in-memory buffers; nothing on their path waits for Redis.

Failure handling (the policy the publisher documents):

* a transient failure (connection refused or lost, timeout, ``LOADING``, ``OOM``, …) puts the
  batch back at the front of its publisher's buffer and retries after a backoff that doubles from
  50 ms up to ``max_backoff``; the buffers stay bounded meanwhile (their overflow policy applies);
* the session stream's entry ids are chosen here and never change across retries, so an entry
  that reached Redis before the connection broke is recognised (``ERR … equal or smaller``) and
  not stored twice; the group stream gets the records again (at-least-once);
* any other error reply drops that entry, counted as an error and logged.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from rxrealtime.sinks._redis_commands import (
    Batch,
    Command,
    Entry,
    PublisherStatistics,
    SessionCommands,
    group_entry,
    group_head,
)
from rxrealtime.sources.redis_layout import is_transient, open_client

if TYPE_CHECKING:  # pragma: no cover
    from redis.asyncio import Redis

__all__ = [
    "Batch",
    "Command",
    "Entry",
    "Link",
    "PublisherStatistics",
    "SessionCommands",
    "Writable",
    "group_entry",
    "link_for",
]

log = logging.getLogger("rxrealtime.redis")

_MIN_BACKOFF = 0.05
_GROUP_ENTRY_BYTES = 256 * 1024


class Writable(Protocol):
    """What the link needs of a publisher."""

    @property
    def commands(self) -> SessionCommands:
        """The session's command builder."""

    def take(self) -> Batch | None:
        """What to write now (entries move to "in flight"); ``None`` if nothing."""

    def written(self, batch: Batch) -> None:
        """The usual outcome: every record of ``batch`` stored, no index update failed."""

    def settle(self, batch: Batch, written: int, retry: list[Entry], index_failed: bool) -> None:
        """The outcome: ``written`` records stored, ``retry`` entries to write again (back at the
        front of the buffer), the index updates to redo if ``index_failed``."""

    def refused(self, entry: Entry, error: BaseException) -> None:
        """``entry`` was refused for good (a non-transient error reply)."""


class Link:
    """One client and one writer task for every publisher of one loop and one Redis."""

    def __init__(
        self,
        client: Redis,
        owned: bool,
        on_close: Callable[[], None],
        max_backoff: float,
        linger: float,
    ) -> None:
        from redis.asyncio import Redis

        self.client = client
        self._packed = isinstance(client, Redis)  # else a Cluster client: it routes commands
        self._timeout: float | None = (
            client.connection_pool.connection_kwargs.get("socket_timeout") if self._packed else None
        )
        self._linger = linger
        self._connection: Any = None  # the pool's connection this writer holds (plain client)
        self._owned = owned
        self._on_close = on_close
        self._max_backoff = max_backoff
        self._ready: dict[Writable, None] = {}
        self._members: set[Writable] = set()
        self._wake = asyncio.Event()
        self._idle = True  # the writer waits for ``_wake`` (or has not started)
        self._task: asyncio.Task[None] | None = None
        self.outages = 0
        self.flushed = asyncio.Event()
        """Set whenever no publisher has anything left to write."""

    def join(self, member: Writable) -> None:
        self._members.add(member)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="rxrealtime-redis-writer"
            )

    def leave(self, member: Writable) -> None:
        self._members.discard(member)
        self._ready.pop(member, None)
        if not self._members:
            self._wake.set()  # the writer ends when nobody is left

    async def wait_idle(self, limit: float) -> None:
        """When nobody is left: wait (at most ``limit`` s) until the writer has closed the
        client, so a program may end right after its last publisher closed."""
        task = self._task
        if not self._members and task is not None and not task.done():
            await asyncio.wait({task}, timeout=limit)

    def ready(self, member: Writable) -> None:
        """``member`` has something to write (cheap; called on every receive)."""
        ready = self._ready
        if member not in ready:
            ready[member] = None
            if self._idle:  # else the writer looks at ``_ready`` after its round trip anyway
                self._idle = False
                self.flushed.clear()
                self._wake.set()

    async def _run(self) -> None:
        backoff = _MIN_BACKOFF
        try:
            while self._members or self._ready:
                if not self._ready:
                    self.flushed.set()
                    self._wake.clear()
                    self._idle = True
                    await self._wake.wait()
                    self._idle = False
                    continue
                ok = await self._write_once()
                if ok:
                    backoff = _MIN_BACKOFF
                else:
                    await asyncio.sleep(backoff)
                    backoff = min(self._max_backoff, backoff * 2)
        finally:
            self.flushed.set()
            self._on_close()
            try:
                await self._release()
            except Exception:  # a broken connection must not mask anything
                log.debug("releasing the Redis connection failed", exc_info=True)
            if self._owned:
                try:
                    await self.client.aclose()
                except Exception:  # closing a broken client must not mask anything
                    log.debug("closing the Redis client failed", exc_info=True)

    async def _write_once(self) -> bool:
        if self._linger > 0:
            await asyncio.sleep(self._linger)  # let more records gather: fewer round trips
        members, self._ready = self._ready, {}
        taken: list[tuple[Writable, Batch]] = []
        simple = self._packed
        for member in members:
            batch = member.take()
            if batch is not None:
                taken.append((member, batch))
                if batch.records is None:
                    simple = False
        if not taken:
            return True
        if simple:
            return await self._write_simple(taken)
        return await self._write_general(taken)

    async def _write_simple(self, taken: list[tuple[Writable, Batch]]) -> bool:
        """The usual round trip (a plain client; each publisher one entry, no index update):
        every command packed in one pass, in one payload; settled in bulk."""
        payload: list[bytes] = []
        append = payload.append
        # per group stream: the fields of its entry being built, and their size
        groups: dict[tuple[str, int], tuple[list[bytes], list[int]]] = {}
        finished: list[tuple[tuple[str, int], list[bytes]]] = []
        chunk_of: list[list[bytes]] = []  # per publisher: the group entry holding its records
        for member, batch in taken:
            session = member.commands
            entry_id, lines = batch.entries[0]
            records: bytes = batch.records  # type: ignore[assignment]
            append(session.packed_entry(entry_id, len(lines), records))
            key = session.group_key
            group = groups.get(key)
            if group is None or group[1][0] >= _GROUP_ENTRY_BYTES:
                group = groups[key] = ([], [0])
                finished.append((key, group[0]))
            fields, size = group
            fields.append(b"%b$%d\r\n%b\r\n" % (session.group_field, len(records), records))
            size[0] += len(records)
            chunk_of.append(fields)
        for (shard, maxlen), fields in finished:
            append(b"*%d\r\n%b" % (6 + 2 * len(fields), group_head(shard, maxlen)))
            payload += fields
        count = len(taken) + len(finished)
        try:
            results = await self._execute_packed(b"".join(payload), count)
        except Exception as error:
            return self._failed(taken, error)
        for result in results:
            if isinstance(result, Exception):
                break
        else:  # the usual case: everything stored
            for member, batch in taken:
                member.written(batch)
            return True
        healthy = True
        sessions = len(taken)
        group_index = {id(fields): sessions + n for n, (_, fields) in enumerate(finished)}
        for number, (member, batch) in enumerate(taken):
            grouped = results[group_index[id(chunk_of[number])]]
            outcome = [(results[number], grouped)]
            healthy = self._settle(member, batch, outcome, []) and healthy
        return healthy

    def _failed(self, taken: list[tuple[Writable, Batch]], error: Exception) -> bool:
        """A round trip that failed as a whole: every batch back, to be retried."""
        if not is_transient(error):
            log.error("writing to Redis failed: %s: %s", type(error).__name__, error)
        self._outage(error)
        for member, batch in taken:
            member.settle(batch, 0, batch.entries, True)
            self.ready(member)
        return False

    async def _write_general(self, taken: list[tuple[Writable, Batch]]) -> bool:
        """Any round trip (several entries per publisher, index updates, a Cluster client)."""
        packed = self._packed
        commands: list[Command] = []
        append = commands.append
        plans: list[tuple[int, int]] = []  # per member: its first command, its index commands
        # the group streams: one entry per stream and round trip (split past a size), holding
        # every session's records of this batch: (member number, entry position, field, records)
        groups: dict[tuple[str, int], list[tuple[int, int, bytes, bytes]]] = {}
        for number, (member, batch) in enumerate(taken):
            session = member.commands
            first = len(commands)
            key = (session.shard, session.group_maxlen)
            pieces = groups.get(key)
            if pieces is None:
                pieces = groups[key] = []
            field = session.group_field if packed else session.session
            for position, (entry_id, lines) in enumerate(batch.entries):
                records = lines[0] if len(lines) == 1 else b"".join(lines)
                append(session.entry(entry_id, len(lines), records, packed))
                pieces.append((number, position, field, records))
            plans.append((first, 0 if batch.info is None and batch.start is None else
                          session.index(commands, batch, packed)))  # fmt: skip
        grouped_in: dict[tuple[int, int], int] = {}
        for (shard, maxlen), pieces in groups.items():
            fields: dict[bytes, list[bytes]] = {}
            size = 0
            for number, position, field, records in pieces:
                held = fields.get(field)
                if held is None:
                    fields[field] = [records]
                else:
                    held.append(records)
                grouped_in[number, position] = len(commands)
                size += len(records)
                if size >= _GROUP_ENTRY_BYTES:
                    append(group_entry(shard, maxlen, fields, packed))
                    fields, size = {}, 0
            if fields:
                append(group_entry(shard, maxlen, fields, packed))
        try:
            results = await self._execute(commands)
        except Exception as error:
            return self._failed(taken, error)
        if not any(isinstance(result, Exception) for result in results):
            for member, batch in taken:
                member.written(batch)
            return True
        healthy = True
        for number, (member, batch) in enumerate(taken):
            first, index_commands = plans[number]
            entries = len(batch.entries)
            outcome = [
                (results[first + position], results[grouped_in[number, position]])
                for position in range(entries)
            ]
            index = results[first + entries : first + entries + index_commands]
            healthy = self._settle(member, batch, outcome, index) and healthy
        return healthy

    async def _execute(self, commands: list[Command]) -> list[Any]:
        """Every command in one round trip; error replies come back as exceptions in place.

        A plain client gets the commands packed here, and its replies are read in one go (the
        connection's hiredis reader, when there is one: redis-py's per-reply path costs about
        ten microseconds a reply); a Cluster client routes them itself (its pipeline splits
        them by slot).
        """
        client: Any = self.client
        if not self._packed:
            pipe: Any = client.pipeline(transaction=False)
            for command in commands:
                name, *args = command  # redis-py's Cluster client needs the name as str
                pipe.execute_command(name.decode() if isinstance(name, bytes) else name, *args)
            results: list[Any] = await pipe.execute(raise_on_error=False)
            return results
        packed: list[bytes] = commands  # type: ignore[assignment]
        return await self._execute_packed(b"".join(packed), len(commands))

    async def _execute_packed(self, payload: bytes, count: int) -> list[Any]:
        """``count`` commands packed in ``payload``, in one round trip (a plain client)."""
        from redis.exceptions import ResponseError

        client: Any = self.client
        # one connection of the pool, kept by this writer between round trips (taking one from
        # the pool and giving it back costs more than a small round trip)
        connection = self._connection
        if connection is None:
            connection = self._connection = await client.connection_pool.get_connection()
        try:
            await _send(connection, payload, self._timeout)
            replies = await _read_replies(connection, count, self._timeout)
            if replies is not None:
                return replies
            results: list[Any] = []
            for _ in range(count):
                try:
                    results.append(await connection.read_response(disable_decoding=True))
                except ResponseError as error:
                    results.append(error)
            return results
        except BaseException:
            self._connection = None
            try:
                await connection.disconnect(nowait=True)
            finally:
                await client.connection_pool.release(connection)
            raise

    async def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self.client.connection_pool.release(connection)

    def _settle(
        self,
        member: Writable,
        batch: Batch,
        outcome: list[tuple[Any, Any]],
        index_results: list[Any],
    ) -> bool:
        """Sort one publisher's results into written / retry / refused; ``False`` on a retry."""
        retry: list[Entry] = []
        written = 0
        first_error: BaseException | None = None
        for entry, (stored, grouped) in zip(batch.entries, outcome, strict=True):
            if isinstance(stored, Exception) and "equal or smaller" in str(stored):
                stored = None  # already stored by an earlier, interrupted attempt
            problem = stored if isinstance(stored, Exception) else None
            if problem is None and isinstance(grouped, Exception):
                problem = grouped
            if problem is None:
                written += len(entry[1])
            elif is_transient(problem):
                retry.append(entry)
                first_error = first_error or problem
            else:
                member.refused(entry, problem)
        index_errors = [r for r in index_results if isinstance(r, Exception)]
        for error in index_errors:
            if not is_transient(error):
                log.warning("updating the Redis session index failed: %s", error)
        transient = [error for error in index_errors if is_transient(error)]
        index_failed = bool(transient)
        member.settle(batch, written, retry, index_failed)
        if retry or index_failed:
            self._outage(first_error or transient[0])
            self.ready(member)
            return False
        return True

    def _outage(self, error: BaseException) -> None:
        self.outages += 1
        if self.outages == 1 or self.outages % 100 == 0:
            log.warning(
                "Redis unavailable (%s: %s); buffering and retrying",
                type(error).__name__,
                error,
            )


_links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[object, Link]] = (
    weakref.WeakKeyDictionary()
)


def link_for(
    url: str, *, client: Redis | None, cluster: bool, max_backoff: float, linger: float
) -> Link:
    """The running loop's link for ``client`` (or for ``url``), created on first use (its
    ``max_backoff`` and ``linger`` are those of the publisher that created it)."""
    loop = asyncio.get_running_loop()
    links = _links.setdefault(loop, {})
    key: object = ("client", id(client)) if client is not None else ("url", url, cluster)
    link = links.get(key)
    if link is None:

        def forget() -> None:
            if links.get(key) is link:
                del links[key]

        owned = client is None
        link = Link(
            client if client is not None else open_client(url, cluster=cluster),
            owned,
            forget,
            max_backoff,
            linger,
        )
        links[key] = link
    return link


async def _send(connection: Any, payload: bytes, limit: float | None) -> None:
    """``payload`` to the connection's socket. Written to its stream directly when it is open
    (redis-py's ``send_packed_command`` runs every write in a task of its own when the client
    has a ``socket_timeout``: a task and two loop iterations per round trip); waits for the
    transport to drain (at most ``limit`` seconds) only when its buffer is full."""
    writer = getattr(connection, "_writer", None)
    if writer is None or not connection.is_connected or writer.transport.is_closing():
        await connection.send_packed_command(payload, check_health=False)
        return
    writer.write(payload)
    transport = writer.transport
    if transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]:
        async with asyncio.timeout(limit):
            await writer.drain()


async def _read_replies(connection: Any, count: int, limit: float | None) -> list[Any] | None:
    """``count`` replies straight from the connection's hiredis reader (error replies as
    exceptions in place), or ``None`` when the connection has none (the caller reads them one
    by one through redis-py). Uses redis-py's parser internals, checked here, so a redis-py
    that changes them falls back instead of failing."""
    parser = getattr(connection, "_parser", None)
    reader = getattr(parser, "_reader", None)
    fill = getattr(parser, "read_from_socket", None)
    gets = getattr(reader, "gets", None)
    sentinel = _hiredis_sentinel()
    if sentinel is None or gets is None or fill is None:
        return None
    results: list[Any] = []
    async with asyncio.timeout(limit):  # the client's socket_timeout, for all of them
        while len(results) < count:
            reply = gets(False)
            if reply is sentinel:
                await fill()
            else:
                results.append(reply)
    return results


@functools.cache
def _hiredis_sentinel() -> object | None:
    """What the connection's hiredis reader returns while a reply is incomplete (imported on
    first use: importing this module must not import ``redis``)."""
    try:
        from redis._parsers.hiredis import NOT_ENOUGH_DATA
    except ImportError:  # pragma: no cover - another redis-py layout: the slow path
        return None
    return NOT_ENOUGH_DATA
