"""``RedisPublisher``: a session's events, both directions, to a Redis Stream per session.

::

    async with rr.sinks.RedisPublisher("redis://127.0.0.1:6379/0") as publisher:
        async with rr.connect(model="gpt-realtime", recorder=publisher) as session:
            ...

It plugs in where a :class:`~rxrealtime.sinks.Recorder` does (``connect(recorder=...)`` wraps
every connection's transport, so each frame is published as received and as sent) and can
also be subscribed to ``session.events`` like one. Where things go, and the entry fields, are
in :mod:`rxrealtime.sources.redis_layout`; every record is in the recording format of
:mod:`rxrealtime.recording`, so :func:`rxrealtime.sources.redis_session` gives back the very
events the session saw.

Guarantees
----------

* **The receive loop never waits for Redis.** Recording a frame appends it to an in-memory
  buffer (the JSON lines are built from it in batches, on the same loop). One background task
  per event loop and Redis (shared by every publisher of that loop) writes what all its
  publishers have buffered in one pipelined round trip, ``linger`` seconds after it is woken
  and as soon as the previous round trip is done: batches grow with the load, one ``XADD``
  carrying up to ``entry_records`` records of one session.
* **Order.** A session's records are stored in the order they were received and sent, in its
  own stream and in its group stream. Entry ids carry the receive time (ms) of their first
  record and only grow.
* **Bounded buffer, stated overflow policy.** At most ``buffer_size`` records wait (plus the
  batch in flight). When more arrive -- only during a Redis outage or when Redis is slower than
  the sessions -- the **oldest** waiting records are dropped (the end record never is); drops
  are counted (``statistics().dropped``, the info hash's ``dropped``) and logged as a warning on
  the ``rxrealtime.redis`` logger (the first time, then at every doubling).
* **Outages.** A lost connection, a restart (``LOADING``) or a full Redis (``OOM``) is retried
  with a backoff doubling from 50 ms to ``max_backoff``; nothing within the buffer bound is
  lost, and nothing is stored twice in the session's stream (ids are fixed before the first
  attempt). The group stream may get an entry twice after an interrupted write (at-least-once).
  Errors are logged and counted, never raised into the session: **the session never fails
  because of Redis**.
* **Memory.** Each session stream is trimmed to about ``maxlen`` entries and each group stream
  to about ``group_maxlen`` (``XADD MAXLEN ~``: Redis trims whole nodes, so a stream may exceed
  the bound by up to one node, 100 entries by default); an entry holds at most
  ``entry_records`` records and about 64 KiB. ``retention`` also expires a session's keys that
  many seconds after it ended.
* **No secrets.** Every record is scrubbed as the recording format requires (the connection's
  secrets, which ``connect`` passes on, ``secrets=``, and ``OPENAI_API_KEY`` unless
  ``scrub_env=False``); frames that cannot hold one are written without a copy.
* **Audio.** Unless ``include_audio=True``, audio deltas are left out (``input_audio_buffer
  .append`` sent, ``response.output_audio.delta`` received), counted in
  ``statistics().omitted_audio``; only the first audio delta of each response is kept, with its
  ``delta`` emptied, so time-to-first-audio can still be measured on the other side.
* **The end.** The stream ends with the recording format's ``"end"`` record: ``completed`` on a
  normal close, ``closed`` on :meth:`close`/:meth:`aclose`, ``error`` on an abnormal close --
  written ``reconnect_grace`` seconds later unless the session reconnects meanwhile (then the
  same stream goes on). :meth:`aclose` waits (at most ``timeout`` seconds) until everything is
  written; use ``async with`` so a program does not exit with records still buffered.

Threads: every method runs on the event loop's thread (the one the session runs on).

(This module is a little over 500 lines on purpose: the buffer's invariants -- the bound, the
batch in flight, the entries waiting for a retry, the end record -- are kept in one class so
they can be read together; the encoding and the writer live in ``_redis_encode`` and
``_redis_link``.)
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from reactivex import abc

from rxrealtime import events as ev
from rxrealtime.masking import ordered_secrets
from rxrealtime.recording import encode_line
from rxrealtime.sinks._redis_encode import RecordEncoder
from rxrealtime.sinks._redis_link import (
    Batch,
    Entry,
    Link,
    PublisherStatistics,
    PublishingTransport,
    link_for,
)
from rxrealtime.sources.redis_layout import (
    DEFAULT_PREFIX,
    DEFAULT_URL,
    FIELD_COUNT,
    FIELD_ENTRY,
    FIELD_RECORDS,
    FIELD_SESSION,
    StreamLayout,
    check_session_id,
)
from rxrealtime.transport import FrameTransport, TransportClosed

if TYPE_CHECKING:  # pragma: no cover
    from redis.asyncio import Redis

__all__ = ["PublisherStatistics", "RedisPublisher"]

log = logging.getLogger("rxrealtime.redis")

_ENTRY_BYTES = 64 * 1024
_ENTRIES_PER_TAKE = 64
_RAW_LIMIT = 256


class RedisPublisher(abc.ObserverBase[ev.ServerEvent]):
    """Publish one session to Redis (see the module for the guarantees).

    Args:
        url: the Redis URL (``redis://``, ``rediss://``, ``unix://``); ignored with ``client``.
        session_id: the id in key names and the index (default: a random hex id).
        model: the model, for the index (default: learnt from ``session.created``).
        meta: JSON-serialisable details kept in the session's info hash (scrubbed).
        prefix, shards: the deployment's key layout (:class:`StreamLayout`).
        maxlen: about how many entries a session's stream keeps (``XADD MAXLEN ~``).
        group_maxlen: about how many entries each group stream keeps.
        include_audio: also publish audio deltas (both directions).
        buffer_size: at most this many records wait for Redis (the overflow policy drops the
            oldest).
        entry_records: at most this many records per stream entry.
        retention: expire the session's keys this many seconds after it ended (default: keep).
        reconnect_grace: seconds an abnormal close waits for a reconnect before it ends the
            stream.
        secrets, scrub_env: what to mask besides the connection's own secrets.
        client: a ``redis.asyncio`` client to use (not closed here); else one per loop and URL
            is opened, shared by the publishers of that loop, and closed when the last is.
        cluster: open a ``RedisCluster`` client for ``url``.
        max_backoff: the longest wait between retries, in seconds.
        close_timeout: how long :meth:`aclose` waits for the last records to be written.
        linger: how long the writer waits, once woken, for more records before a round trip
            (fewer, larger writes; the first publisher of a loop and Redis sets it).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        session_id: str | None = None,
        model: str | None = None,
        meta: Mapping[str, Any] | None = None,
        prefix: str = DEFAULT_PREFIX,
        shards: int = 1,
        maxlen: int = 1_000,
        group_maxlen: int = 100_000,
        include_audio: bool = False,
        buffer_size: int = 10_000,
        entry_records: int = 100,
        retention: float | None = None,
        reconnect_grace: float = 5.0,
        secrets: Iterable[str | None] = (),
        scrub_env: bool = True,
        client: Redis | None = None,
        cluster: bool = False,
        max_backoff: float = 2.0,
        close_timeout: float = 10.0,
        linger: float = 0.005,
    ) -> None:
        if buffer_size < 1 or entry_records < 1 or maxlen < 1 or group_maxlen < 1:
            raise ValueError("buffer_size, entry_records, maxlen and group_maxlen must be >= 1")
        self.session_id = check_session_id(uuid.uuid4().hex if session_id is None else session_id)
        self.layout = StreamLayout(prefix, shards)
        self.url = url
        self.model = model
        self._stream = self.layout.session_stream(self.session_id)
        self._info_key = self.layout.session_info(self.session_id)
        self._shard_key = self.layout.shard_stream(self.layout.shard_of(self.session_id))
        self._session_b = self.session_id.encode()
        self._maxlen, self._group_maxlen = maxlen, group_maxlen
        self._buffer_size = buffer_size
        self._entry_records = min(entry_records, buffer_size)
        self._retention = retention
        self._grace = reconnect_grace
        self._client, self._cluster, self._max_backoff = client, cluster, max_backoff
        self._close_timeout = close_timeout
        self._linger = linger
        env_key = os.environ.get("OPENAI_API_KEY") if scrub_env else None
        self.started_at = time.time()
        self._encoder = RecordEncoder(
            self.started_at, include_audio, ordered_secrets([*secrets, env_key])
        )
        self._raw: list[tuple[float, str, Any]] = []
        self._records: collections.deque[tuple[float, bytes]] = collections.deque()
        self._retry: list[Entry] = []
        self._retry_records = 0
        self._inflight = 0
        self._last_ms = 0
        self._seq = 0
        self._link: Link | None = None
        self._ended = False
        self._closing = False
        self._pending_end: asyncio.TimerHandle | None = None
        self._pending_reason: tuple[str, float] | None = None
        self._flushed: asyncio.Event | None = None
        self._index_start: float | None = self.started_at
        self._info: dict[str, Any] = {
            "id": self.session_id,
            "model": model or "",
            "started_at": self.started_at,
            "status": "active",
            "stream": self._stream,
            "shard": self.layout.shard_of(self.session_id),
        }
        if meta:
            self._info["meta"] = dict(meta)  # serialised (and scrubbed) when first written
        self._final_info = False
        self._frames = self._published = self._dropped = 0
        self._errors = self._retries = 0
        self._next_drop_log = 1

    # -- what connect(recorder=...) uses ---------------------------------------------------

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        """Also mask ``secrets`` in every record published from now on."""
        self._encoder.secrets = ordered_secrets([*secrets, *self._encoder.secrets])

    def wrap(self, transport: FrameTransport) -> FrameTransport:
        """A transport that publishes every frame ``transport`` receives and sends.

        Called again for a new connection of the same session (a reconnect), it goes on
        publishing into the same stream.
        """
        if self._pending_end is not None:
            self._pending_end.cancel()
            self._pending_end = self._pending_reason = None
        return PublishingTransport(transport, self._add, self._closed)

    # -- recording ---------------------------------------------------------------------------

    def record_in(self, frame: str | bytes | ev.ServerEvent | Mapping[str, Any]) -> None:
        """Publish a frame received from the server (raw text, bytes, or a decoded event)."""
        self._add("in", frame)

    def record_out(self, frame: str | bytes | ev.ClientEvent | Mapping[str, Any]) -> None:
        """Publish a frame sent to the server (its text, or the client event / dict)."""
        self._add("out", frame)

    def on_next(self, value: ev.ServerEvent) -> None:
        """As an observer of ``session.events``: publish the event as received."""
        self._add("in", value)

    def on_completed(self) -> None:
        self._end("completed", None)

    def on_error(self, error: Exception) -> None:
        self._end("error", f"{type(error).__name__}: {error}")

    def _add(self, direction: str, frame: object) -> None:
        if self._ended:
            return
        self._frames += 1
        raw = self._raw
        raw.append((time.time(), direction, frame))
        if len(raw) >= _RAW_LIMIT:
            self._encode()
        link = self._link
        if link is None:
            link = self._attach()
        link.ready(self)

    def _attach(self) -> Link:
        link = link_for(
            self.url,
            client=self._client,
            cluster=self._cluster,
            max_backoff=self._max_backoff,
            linger=self._linger,
        )
        self._link = link
        self._flushed = asyncio.Event()
        link.join(self)
        return link

    # -- ending ---------------------------------------------------------------------------

    def _end(self, reason: str, error: str | None, ts: float | None = None) -> None:
        if self._ended:
            return
        if self._pending_end is not None:
            self._pending_end.cancel()
            self._pending_end = self._pending_reason = None
        ts = time.time() if ts is None else ts
        self._raw.append((ts, "end", (reason, error)))
        self._ended = self._closing = True  # nothing is published after the end record
        self._info.update(status="ended", ended_at=ts, reason=reason, error=error or "")
        (self._link or self._attach()).ready(self)

    def _closed(self, closed: TransportClosed) -> None:
        """The connection closed: a normal close ends the stream; an abnormal one ends it
        unless a reconnect comes within the grace."""
        if closed.code == 1000 or not closed.by_peer:
            self._end("completed", None)
            return
        if self._ended or self._pending_end is not None:
            return
        ts, message = time.time(), f"{type(closed).__name__}: {closed}"
        if self._grace <= 0:
            self._end("error", message, ts)
            return

        self._pending_reason = (message, ts)
        self._pending_end = asyncio.get_running_loop().call_later(self._grace, self._end_pending)

    def _end_pending(self) -> None:
        if self._pending_reason is not None:
            message, ts = self._pending_reason
            self._end("error", message, ts)

    def close(self) -> None:
        """End the stream (reason ``closed`` unless it ended already); what is buffered is
        still written in the background. Idempotent."""
        self._end_pending()  # an abnormal close waiting for a reconnect ends now, at its own time
        if self._link is None and not self._raw:
            self._ended = self._closing = True
            return
        self._end("closed", None)
        self._closing = True
        self._check_flushed()

    def dispose(self) -> None:
        self.close()

    async def aclose(self) -> None:
        """End the stream like :meth:`close` and wait until every record is written, at most
        ``close_timeout`` seconds; what is still unwritten then is counted as dropped (and
        logged)."""
        self.close()
        timeout = self._close_timeout
        link = self._link
        if self._flushed is None or link is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await self._flushed.wait()
        except TimeoutError:
            left = self._buffered()
            self._dropped += left
            log.warning(
                "session %s: Redis did not take the last %d records within %.1f s; dropped",
                self.session_id,
                left,
                timeout,
            )
            self._raw.clear()
            self._records.clear()
            self._retry.clear()
            self._retry_records = 0
            self._leave()
        await link.wait_idle(timeout)

    async def __aenter__(self) -> RedisPublisher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def statistics(self) -> PublisherStatistics:
        """A consistent snapshot of the counters (see :class:`PublisherStatistics`)."""
        return PublisherStatistics(
            session_id=self.session_id,
            frames=self._frames,
            published=self._published,
            buffered=self._buffered(),
            omitted_audio=self._encoder.omitted,
            dropped=self._dropped,
            errors=self._errors,
            retries=self._retries,
            ended=self._ended,
        )

    def __repr__(self) -> str:
        return f"<RedisPublisher session {self.session_id} -> {self._stream}>"

    def _buffered(self) -> int:
        return len(self._raw) + len(self._records) + self._retry_records + self._inflight

    def _check_flushed(self) -> None:
        if self._closing and self._ended and not self._buffered():
            if not self._final_info:
                self._final_info = True  # the last counts, written once everything else is
                self._info.update(self._counts())
                if self._link is not None:
                    self._link.ready(self)
                return
            if self._info or self._index_start is not None:
                return
            self._leave()

    def _leave(self) -> None:
        if self._flushed is not None:
            self._flushed.set()
        if self._link is not None:
            self._link.leave(self)

    def _counts(self) -> dict[str, Any]:
        return {
            "records": self._published,
            "dropped": self._dropped,
            "omitted_audio": self._encoder.omitted,
        }

    # -- encoding (on the loop, off the receive path when the load allows) ------------------

    def _encode(self) -> None:
        raw, self._raw = self._raw, []
        records = self._records
        encoder = self._encoder
        for ts, direction, frame in raw:
            if direction == "end":
                reason, error = frame
                records.append((ts, encoder.end(ts, reason, error)))
                continue
            line = encoder.line(ts, direction, frame)
            if line is not None:
                records.append((ts, line))
        if encoder.model is not None and encoder.model != self.model:
            self.model = encoder.model
            self._info["model"] = self.model
        self._enforce_bound()

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
        if self._raw:
            self._encode()
        entries = self._retry
        self._retry, self._retry_records = [], 0
        records = self._records
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
        info = self._info if self._info else None
        self._info = {}
        if info is not None and isinstance(info.get("meta"), dict):
            info["meta"] = encode_line(info["meta"], self._encoder.secrets).decode().rstrip("\n")
        start, self._index_start = self._index_start, None
        if not entries and info is None and start is None:
            return None
        self._inflight += sum(len(entry[1]) for entry in entries)
        if records:
            assert self._link is not None
            self._link.ready(self)
        return Batch(entries, info, start)

    def _next_id(self, ts: float) -> bytes:
        ms = int(ts * 1000)
        if ms > self._last_ms:
            self._last_ms, self._seq = ms, 0
        else:
            self._seq += 1
        return b"%d-%d" % (self._last_ms, self._seq)

    def commands(self, out: list[tuple[bytes | str | int | float, ...]], batch: Batch) -> int:
        session, stream, shard = self._session_b, self._stream, self._shard_key
        maxlen, group_maxlen = self._maxlen, self._group_maxlen
        for entry_id, lines in batch.entries:
            count, records = len(lines), b"".join(lines)
            out.append(
                (b"XADD", stream, b"MAXLEN", b"~", maxlen, entry_id, FIELD_SESSION, session,
                 FIELD_COUNT, count, FIELD_RECORDS, records)
            )  # fmt: skip
            out.append(
                (b"XADD", shard, b"MAXLEN", b"~", group_maxlen, b"*", FIELD_SESSION, session,
                 FIELD_COUNT, count, FIELD_RECORDS, records, FIELD_ENTRY, entry_id)
            )  # fmt: skip
        index_commands = 0
        if batch.start is not None:
            out.append((b"ZADD", self.layout.index(), batch.start, session))
            index_commands += 1
        if batch.info:
            fields: list[bytes | str | int | float] = []
            for key, value in _hash_values(batch.info).items():
                fields += (key, value)
            out.append((b"HSET", self._info_key, *fields))
            index_commands += 1
            if self._retention is not None and batch.info.get("status") == "ended":
                seconds = max(1, int(self._retention))
                out.append((b"EXPIRE", self._info_key, seconds))
                out.append((b"EXPIRE", self._stream, seconds))
                index_commands += 2
        return index_commands

    def settle(self, batch: Batch, written: int, retry: list[Entry], index_failed: bool) -> None:
        self._inflight -= sum(len(entry[1]) for entry in batch.entries)
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
        self._check_flushed()

    def failed(self, entry: Entry, error: BaseException) -> None:
        self._errors += len(entry[1])
        log.error(
            "session %s: Redis refused %d records: %s", self.session_id, len(entry[1]), error
        )


def _hash_values(info: Mapping[str, Any]) -> dict[str, str | int | float]:
    return {
        key: value if isinstance(value, str | int | float) else str(value or "")
        for key, value in info.items()
    }
