"""Sessions back out of Redis: one session's stream, or every session through a consumer group.

Both sources are cold ``Observable`` s: each subscription opens its own reader (a task on the
running event loop, so subscribe from async code) and disposing it stops the reader and closes
its client. Every ``on_next`` runs on the loop's thread. Records are parsed by
:mod:`rxrealtime.recording` and frames decoded by ``ev.decode``, so the events are exactly the
ones the session saw (classes, fields, ``UnknownEvent``/``InvalidEvent``), and every operator
works on them unchanged. Nothing in a stream's content raises: an entry that is not in the
publisher's format becomes an ``InvalidEvent``. Redis trouble (a lost connection, a restart) is
retried with a backoff from 50 ms to 2 s for up to ``retry_for`` seconds in a row, then the
Observable errors with the last Redis exception.

:func:`redis_session` -- one session (its own stream, in order):

* from the first entry still stored (a replay), or with ``live=True`` only what is published
  after the subscription;
* ``follow=True`` (default) waits for new entries until the session's ``"end"`` record, which
  completes the Observable; ``follow=False`` completes after the entries stored now;
* ``speed=None`` delivers as fast as possible; ``speed=s`` with the original timing (each
  record's receive time, which the entry ids carry to the millisecond), ``s`` times as fast.

:func:`redis_group` -- every session, through a consumer group (``XREADGROUP``):

* each entry goes to one consumer of the group; within a session the order is kept (a session
  always uses one group stream, and a consumer handles an entry's records in order);
* an entry is acknowledged (``XACK``) only after the subscriber returned from ``on_next`` for
  every item in it: **at-least-once** -- a consumer that dies before acknowledging leaves its
  entries pending, and any consumer of the group claims entries pending longer than
  ``claim_idle`` seconds (``XAUTOCLAIM``, every ``claim_idle / 2`` seconds) and delivers them;
  an acknowledged entry is never delivered again (except when the publisher re-wrote it after
  an interrupted write, see :class:`~rxrealtime.sinks.RedisPublisher`);
* a consumer restarting under the same name first re-reads its own pending entries, and so
  does a consumer after any failed call: entries of a read whose reply was lost (a timeout, a
  dropped connection) are delivered at once, not left pending until a claim;
* if the subscriber raises, the entries it finished are acknowledged, the failing one is not
  (another consumer will claim it), and the Observable errors with that exception;
* the group is created when missing (``start="begin"``: from the oldest stored entry, or
  ``"new"``: from now on), also after a Redis restart lost it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING, Any, Literal

import reactivex
from reactivex import Observable, abc
from reactivex.disposable import Disposable

from rxrealtime import events as ev
from rxrealtime.sources.redis_layout import (
    DEFAULT_PREFIX,
    StreamLayout,
    check_session_id,
    entry_ms,
    is_transient,
    open_client,
)
from rxrealtime.sources.sessions import SessionEnd, SessionItem, entry_items

if TYPE_CHECKING:  # pragma: no cover
    from redis.asyncio import Redis

__all__ = ["default_consumer", "redis_group", "redis_session"]

log = logging.getLogger("rxrealtime.redis")

_COUNT = 500


def default_consumer() -> str:
    """A consumer name unique on this network: ``HOSTNAME-PID``."""
    return f"{socket.gethostname()}-{os.getpid()}"


class _Retrier:
    """Retry transient Redis failures for at most ``limit`` seconds in a row."""

    def __init__(self, limit: float) -> None:
        self._limit = limit
        self._since: float | None = None
        self._backoff = 0.05

    def ok(self) -> None:
        self._since, self._backoff = None, 0.05

    async def failed(self, error: BaseException) -> None:
        """Wait before the next try, or raise ``error`` when it is not worth retrying."""
        now = asyncio.get_running_loop().time()
        if self._since is None:
            self._since = now
            log.warning("Redis unavailable (%s: %s); retrying", type(error).__name__, error)
        if not is_transient(error) or now - self._since > self._limit:
            raise error
        await asyncio.sleep(self._backoff)
        self._backoff = min(2.0, self._backoff * 2)


def _start(
    observer: abc.ObserverBase[Any],
    run: Callable[[Redis], Awaitable[None]],
    url: str,
    client: Redis | None,
    cluster: bool,
) -> abc.DisposableBase:
    """Run ``run`` as the subscription's task; its return completes ``observer``, its
    exception errors it."""
    loop = asyncio.get_running_loop()  # RuntimeError outside a loop: subscribe from async code

    async def main() -> None:
        redis = client if client is not None else open_client(url, cluster=cluster)
        failure: Exception | None = None
        try:
            await run(redis)
        except Exception as error:
            failure = error
        finally:
            if client is None:  # closed before the end is told: a subscriber may end the loop
                try:
                    await redis.aclose()
                except asyncio.CancelledError:  # cancelled again while closing (loop shutdown)
                    await redis.aclose()
                    raise
        if failure is None:
            observer.on_completed()
        else:
            observer.on_error(failure)

    task = loop.create_task(main(), name="rxrealtime-redis-source")

    def stop() -> None:
        task.cancel()

    return Disposable(stop)


def redis_session(
    url: str,
    session_id: str,
    *,
    prefix: str = DEFAULT_PREFIX,
    live: bool = False,
    follow: bool = True,
    speed: float | None = None,
    block: float = 1.0,
    retry_for: float = 30.0,
    client: Redis | None = None,
    cluster: bool = False,
) -> Observable[ev.ServerEvent]:
    """The server events of one session, from its stream (see the module for the rules).

    Raises ``ValueError`` at once for a bad ``session_id`` or ``speed``.
    """
    check_session_id(session_id)
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be a positive number or None, not {speed!r}")
    key = StreamLayout(prefix).session_stream(session_id)

    def subscribe(
        observer: abc.ObserverBase[ev.ServerEvent], _: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        async def run(redis: Redis) -> None:
            retrier = _Retrier(retry_for)
            loop = asyncio.get_running_loop()
            started = loop.time()
            first: float | None = None
            last: Any = "0-0"
            if live:
                newest: Any = await redis.xrevrange(key, count=1)
                last = newest[0][0] if newest else "0-0"
            while True:
                try:
                    reply: Any = await redis.xread(
                        {key: last}, count=_COUNT, block=int(block * 1000) if follow else None
                    )
                    retrier.ok()
                except Exception as error:
                    await retrier.failed(error)
                    continue
                entries = reply[0][1] if reply else []
                if not entries and not follow:
                    return
                for entry_id, fields in entries:
                    last = entry_id
                    for item in entry_items(_str(entry_id), fields, session_id=session_id):
                        if isinstance(item, SessionEnd):
                            return
                        if speed is not None:
                            ts = item.ts if item.ts is not None else entry_ms(entry_id) / 1000
                            if first is None:  # the first record comes at once
                                first, started = ts, loop.time()
                            delay = started + (ts - first) / speed - loop.time()
                            if delay > 0:
                                await asyncio.sleep(delay)
                        observer.on_next(item.event)

        return _start(observer, run, url, client, cluster)

    return reactivex.create(subscribe)


def _str(value: bytes | str) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value


def redis_group(
    url: str,
    group: str,
    consumer: str | None = None,
    *,
    prefix: str = DEFAULT_PREFIX,
    shards: int = 1,
    start: Literal["begin", "new"] = "begin",
    count: int = 100,
    block: float = 1.0,
    claim_idle: float = 30.0,
    retry_for: float = 30.0,
    directions: Collection[str] = ("in",),
    client: Redis | None = None,
    cluster: bool = False,
) -> Observable[SessionItem]:
    """Every session's events through the consumer group ``group`` as ``consumer`` (default
    :func:`default_consumer`); see the module for the delivery rules. ``shards`` must match the
    publishers'. ``count`` bounds the entries read per call, ``block`` how long one read waits.
    """
    if start not in ("begin", "new"):
        raise ValueError(f"start must be 'begin' or 'new', not {start!r}")
    if not claim_idle > 0 or count < 1:
        raise ValueError("claim_idle must be > 0 and count >= 1")
    name = consumer or default_consumer()
    streams = StreamLayout(prefix, shards).shard_streams()
    wanted = frozenset(directions)

    def subscribe(
        observer: abc.ObserverBase[SessionItem], _: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        async def run(redis: Redis) -> None:
            readers = [
                _GroupReader(redis, stream, group, name, observer, wanted, start, count, block,
                             claim_idle, retry_for)
                for stream in streams
            ]  # fmt: skip
            tasks = [asyncio.create_task(reader.run()) for reader in readers]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    task.result()  # the first failure, as it was raised
            finally:
                for reader, task in zip(readers, tasks, strict=True):
                    reader.stopped = True  # no retry may outlive the subscription
                    task.cancel()

        return _start(observer, run, url, client, cluster)

    return reactivex.create(subscribe)


class _GroupReader:
    """One group stream, read by one consumer."""

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        consumer: str,
        observer: abc.ObserverBase[SessionItem],
        directions: Collection[str],
        start: str,
        count: int,
        block: float,
        claim_idle: float,
        retry_for: float,
    ) -> None:
        self.redis, self.stream, self.group, self.consumer = redis, stream, group, consumer
        self.observer, self.directions = observer, directions
        self.start_id = "0" if start == "begin" else "$"
        self.count, self.block_ms = count, max(1, int(block * 1000))
        self.claim_idle_ms = max(1, int(claim_idle * 1000))
        self.claim_every = claim_idle / 2
        self.retrier = _Retrier(retry_for)
        self.stopped = False
        self.own_pending = True  # first what this consumer got before a restart and did not ack

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        await self._call(self._create_group)
        next_claim = loop.time() + self.claim_every
        while not self.stopped:
            if loop.time() >= next_claim:
                await self._deliver(await self._call(self._claim))
                next_claim = loop.time() + self.claim_every
            reading_own_pending, reply = await self._call(self._read)
            entries = reply[0][1] if reply else []
            if reading_own_pending and not entries:
                self.own_pending = False
            await self._deliver(entries)

    async def _read(self) -> tuple[bool, Any]:
        """One ``XREADGROUP``: of this consumer's own pending entries while :attr:`own_pending`
        (``0``, no wait), else of new entries (``>``, blocking). Returns which, and the reply."""
        own = self.own_pending
        position = "0" if own else ">"
        block = None if own else min(self.block_ms, int(self.claim_every * 1000) + 1)
        reply = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: position}, self.count, block
        )
        return own, reply

    async def _call(self, command: Callable[[], Awaitable[Any]]) -> Any:
        """``command()``, retried on transient failures (see :class:`_Retrier`). After any
        failure the next read is of this consumer's own pending entries: a ``>`` read whose
        reply was lost (a timeout, a dropped connection) still handed its entries to this
        consumer, and they are delivered from there instead of waiting for a claim."""
        from redis.exceptions import ResponseError

        while not self.stopped:
            try:
                result = await command()
            except Exception as error:
                self.own_pending = True
                if isinstance(error, ResponseError) and "NOGROUP" in str(error):
                    log.warning(
                        "consumer group %s of %s is gone; creating it", self.group, self.stream
                    )
                    self.start_id = "0"
                    await self._create_group()
                else:
                    await self.retrier.failed(error)
                continue
            self.retrier.ok()
            return result
        raise asyncio.CancelledError

    async def _create_group(self) -> None:
        from redis.exceptions import ResponseError

        try:
            await self.redis.xgroup_create(self.stream, self.group, self.start_id, mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def _claim(self) -> list[tuple[Any, Any]]:
        """Entries pending longer than ``claim_idle`` (a dead consumer's), now ours."""
        claimed: list[tuple[Any, Any]] = []
        cursor: Any = "0-0"
        for _round in range(100):  # bounded: at most 100 * count entries per claim
            reply = await self.redis.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                self.claim_idle_ms,
                start_id=cursor,
                count=self.count,
            )
            cursor, entries = reply[0], reply[1]
            claimed.extend(entry for entry in entries if entry[0] is not None)
            if _str(cursor) == "0-0" or not entries:
                break
        if claimed:
            log.info("%s claimed %d entries of %s", self.consumer, len(claimed), self.stream)
        return claimed

    async def _deliver(self, entries: list[tuple[Any, Any]]) -> None:
        done: list[Any] = []
        try:
            for entry_id, fields in entries:
                if fields:
                    for item in entry_items(_str(entry_id), fields, self.directions):
                        self.observer.on_next(item)
                else:
                    log.warning("entry %s of %s was trimmed before delivery", entry_id, self.stream)
                done.append(entry_id)
        finally:
            if done:

                async def ack() -> Any:
                    return await self.redis.xack(self.stream, self.group, *done)

                await self._call(ack)
