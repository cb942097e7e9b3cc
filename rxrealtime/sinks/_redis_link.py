"""The writer behind every :class:`~rxrealtime.sinks.RedisPublisher` of one event loop.

All publishers of one loop that use the same Redis (same URL, or the same client object) share
one :class:`Link`: one client and one background task that takes what every publisher has
buffered and writes it in one pipelined round trip (``XADD`` to each session's stream and to its
group stream, ``HSET``/``ZADD`` for the index). The receive loops only append to in-memory
buffers; nothing on their path waits for Redis.

Failure handling (the policy the publisher documents):

* a transient failure (connection refused or lost, timeout, ``LOADING``, ``OOM``, …) puts the
  batch back at the front of its publisher's buffer and retries after a backoff that doubles from
  50 ms up to ``max_backoff``; the buffers stay bounded meanwhile (their overflow policy applies);
* the session stream's entry ids are chosen here and never change across retries, so an entry
  that reached Redis before the connection broke is recognised (``ERR … equal or smaller``) and
  not stored twice; the group stream gets the entry again (at-least-once);
* any other error reply drops that entry, counted as an error and logged.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs
from websockets.exceptions import ConnectionClosed as WebSocketClosed

from rxrealtime.sources.redis_layout import is_transient, open_client
from rxrealtime.transport import FrameTransport, TransportClosed, WebSocketTransport, closed_from

if TYPE_CHECKING:  # pragma: no cover
    from redis.asyncio import Redis

__all__ = [
    "Batch",
    "Entry",
    "Link",
    "PublisherStatistics",
    "PublishingTransport",
    "Writable",
    "link_for",
]

log = logging.getLogger("rxrealtime.redis")

_MIN_BACKOFF = 0.05


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
    """Records Redis refused for good (a non-transient error reply)."""
    retries: int
    """Writes that failed transiently and were retried."""
    ended: bool


Entry = tuple[bytes, list[bytes]]
"""One stream entry: ``(entry id, its record lines)``; the id never changes, and the oldest
lines of an entry waiting for a retry may be dropped by the overflow policy."""


class Batch:
    """What one publisher hands to one pipeline: entries plus index updates."""

    __slots__ = ("entries", "info", "start")

    def __init__(
        self,
        entries: list[Entry],
        info: dict[str, Any] | None,
        start: float | None,
    ) -> None:
        self.entries = entries
        """``(entry id, records, number of records)`` in order."""
        self.info = info
        """Fields to set in the session's info hash, or ``None``."""
        self.start = start
        """The session's start time, when it still has to be added to the index."""


class Writable(Protocol):
    """What the link needs of a publisher."""

    def take(self) -> Batch | None:
        """What to write now (entries move to "in flight"); ``None`` if nothing."""

    def commands(self, out: list[tuple[bytes | str | int | float, ...]], batch: Batch) -> int:
        """Append the batch's commands to ``out``: two per entry (the session stream, then the
        group stream), in entry order, then the index commands; return how many index
        commands."""

    def settle(
        self, batch: Batch, written: int, retry: list[Entry], index_failed: bool
    ) -> None:
        """The outcome: ``written`` records stored, ``retry`` entries to write again (back at the
        front of the buffer), the index updates to redo if ``index_failed``."""

    def failed(self, entry: Entry, error: BaseException) -> None:
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
        self.client = client
        self._linger = linger
        self._owned = owned
        self._on_close = on_close
        self._max_backoff = max_backoff
        self._ready: dict[Writable, None] = {}
        self._members: set[Writable] = set()
        self._wake = asyncio.Event()
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
        if member not in self._ready:
            self._ready[member] = None
            self.flushed.clear()
            self._wake.set()

    async def _run(self) -> None:
        backoff = _MIN_BACKOFF
        try:
            while self._members or self._ready:
                if not self._ready:
                    self.flushed.set()
                    self._wake.clear()
                    await self._wake.wait()
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
            if self._owned:
                try:
                    await self.client.aclose()
                except Exception:  # closing a broken client must not mask anything
                    log.debug("closing the Redis client failed", exc_info=True)

    async def _write_once(self) -> bool:
        if self._linger > 0:
            await asyncio.sleep(self._linger)  # let more records gather: fewer round trips
        members = list(self._ready)
        self._ready.clear()
        taken: list[tuple[Writable, Batch, int]] = []
        commands: list[tuple[bytes | str | int | float, ...]] = []
        for member in members:
            batch = member.take()
            if batch is not None:
                taken.append((member, batch, member.commands(commands, batch)))
        if not taken:
            return True
        try:
            results = await self._execute(commands)
        except Exception as error:
            if not is_transient(error):
                log.error("writing to Redis failed: %s: %s", type(error).__name__, error)
            self._outage(error)
            for member, batch, _ in taken:
                member.settle(batch, 0, batch.entries, True)
                self.ready(member)
            return False
        position = 0
        healthy = True
        for member, batch, index_commands in taken:
            size = 2 * len(batch.entries) + index_commands
            healthy = self._settle(member, batch, results[position : position + size]) and healthy
            position += size
        return healthy

    async def _execute(self, commands: list[tuple[bytes | str | int | float, ...]]) -> list[Any]:
        """Every command in one round trip; error replies come back as exceptions in place.

        A plain client gets the commands as one buffer packed here (redis-py's packer costs
        tens of microseconds a command, more than everything else a record costs); a Cluster
        client routes them itself (its pipeline splits them by slot).
        """
        from redis.asyncio import Redis
        from redis.exceptions import ResponseError

        client: Any = self.client
        if not isinstance(client, Redis):
            pipe: Any = client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            results: list[Any] = await pipe.execute(raise_on_error=False)
            return results
        pool = client.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await connection.send_packed_command(_pack(commands), check_health=False)
            results = []
            for _ in commands:
                try:
                    results.append(await connection.read_response(disable_decoding=True))
                except ResponseError as error:
                    results.append(error)
            return results
        except BaseException:
            await connection.disconnect(nowait=True)
            raise
        finally:
            await pool.release(connection)

    def _settle(self, member: Writable, batch: Batch, results: list[Any]) -> bool:
        """Sort one publisher's results into written / retry / failed; ``False`` on a retry."""
        retry: list[Entry] = []
        written = 0
        first_error: BaseException | None = None
        for number, entry in enumerate(batch.entries):
            stored, grouped = results[2 * number], results[2 * number + 1]
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
                member.failed(entry, problem)
        index_errors = [r for r in results[2 * len(batch.entries) :] if isinstance(r, Exception)]
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


def _arg(value: bytes | str | int | float) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return repr(value).encode()


def _pack(commands: list[tuple[bytes | str | int | float, ...]]) -> bytes:
    """``commands`` in the Redis protocol (RESP): arrays of bulk strings."""
    parts: list[bytes] = []
    for command in commands:
        parts.append(b"*%d\r\n" % len(command))
        for value in command:
            data = _arg(value)
            parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


class PublishingTransport:
    """A :class:`~rxrealtime.transport.FrameTransport` that reports the frames of another:
    ``on_frame("in", frame)`` for each frame received, ``on_frame("out", data)`` once a send
    succeeded, ``on_closed(closed)`` when ``recv`` finds the connection closed."""

    __slots__ = ("_inner", "_on_closed", "_on_frame", "_recv")

    def __init__(
        self,
        inner: FrameTransport,
        on_frame: Callable[[str, str | bytes], None],
        on_closed: Callable[[TransportClosed], None],
    ) -> None:
        self._inner = inner
        self._on_frame = on_frame
        self._on_closed = on_closed
        # a websockets connection is read directly (one coroutine less per frame, as the
        # session itself does); its close is translated as WebSocketTransport.recv does
        self._recv: Callable[[], Awaitable[str | bytes]] = (
            inner.connection.recv if isinstance(inner, WebSocketTransport) else inner.recv
        )

    @property
    def description(self) -> str:
        return self._inner.description

    async def recv(self) -> str | bytes:
        try:
            frame = await self._recv()
        except TransportClosed as ended:
            self._on_closed(ended)
            raise
        except WebSocketClosed as exc:
            translated = closed_from(exc)
            self._on_closed(translated)
            raise translated from None
        self._on_frame("in", frame)
        return frame

    async def send(self, data: str | bytes) -> None:
        await self._inner.send(data)
        self._on_frame("out", data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._inner.close(code, reason)

    def abort(self) -> None:
        self._inner.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
