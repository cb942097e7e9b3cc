"""``RedisPublisher``: a session's events, both directions, to a Redis Stream per session.

::

    async with rr.sinks.RedisPublisher("redis://127.0.0.1:6379/0") as publisher:
        async with rr.connect(model="gpt-realtime", recorder=publisher) as session:
            ...

It plugs in where a :class:`~rxrealtime.sinks.Recorder` does: ``connect(recorder=...)`` takes
its frame tap (:meth:`RedisPublisher.tap`, which the session calls directly, so the session
keeps its fastest receive path) or wraps every connection's transport
(:meth:`RedisPublisher.wrap`); several recorders and publishers at once are fine. It can also be
subscribed to ``session.events`` or fed with :meth:`record_in`/:meth:`record_out`. Where things
go, and the entry fields, are in :mod:`rxrealtime.sources.redis_layout`; every record is in the
recording format of :mod:`rxrealtime.recording`, so :func:`rxrealtime.sources.redis_session`
gives back the very events the session saw.

Guarantees
----------

* **The receive loop never waits for Redis.** Recording a frame appends it to an in-memory
  buffer (the record lines are built from it in batches). One background task per event loop
  and Redis (shared by every publisher of that loop) writes what all its publishers have
  buffered in one pipelined round trip, ``linger`` seconds after it is woken and as soon as the
  previous round trip is done: batches grow with the load.
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
  attempt). The group stream may get records twice after an interrupted write (at-least-once).
* **The session never fails because of the publisher.** Redis errors are logged and counted,
  never raised. Every call the session makes (the tap's four callbacks, the wrapping transport's
  calls) is guarded: whatever goes wrong in the publisher (a bug, a value that cannot be
  recorded; ``KeyboardInterrupt`` and ``SystemExit`` aside) is counted in
  ``statistics().errors`` and :attr:`RedisPublisher.last_error` and logged (the first failure
  and every 100th), and the frame still reaches the session.
* **Memory.** Each session stream is trimmed to about ``maxlen`` entries and each group stream
  to about ``group_maxlen`` (``XADD MAXLEN ~``: Redis trims whole nodes, so a stream may exceed
  the bound by up to one node, 100 entries by default); an entry holds at most
  ``entry_records`` records and about 64 KiB. ``retention`` also expires a session's keys that
  many seconds after it ended.
* **No secrets.** Every record is scrubbed as the recording format requires (the connection's
  secrets, which ``connect`` passes on, ``secrets=``, and ``OPENAI_API_KEY`` unless
  ``scrub_env=False``).
* **Audio.** Unless ``include_audio=True``, audio deltas are left out (``input_audio_buffer
  .append`` sent, ``response.output_audio.delta`` received), counted in
  ``statistics().omitted_audio``; only the first audio delta of each response is kept, with its
  ``delta`` emptied, so time-to-first-audio can still be measured on the other side.
* **Every connection, one end.** A session that reconnects goes on in the same stream: each new
  connection starts with the recording format's ``"reconnect"`` record (how the previous one
  closed). The stream ends with one ``"end"`` record, written when the *session* ends (the
  session tells its tap, or the transport it used last): ``completed`` for a normal end,
  ``error`` with the session's error otherwise; ``closed`` when :meth:`close`/:meth:`aclose`
  comes first. The index (the info hash) says the same. :meth:`aclose` waits (at most
  ``close_timeout`` seconds) until everything is written; use ``async with`` so a program does
  not exit with records still buffered.

Threads: every method runs on the event loop's thread (the one the session runs on).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from reactivex import abc

from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosedOK
from rxrealtime.masking import ordered_secrets, redact
from rxrealtime.recording import FrameTap, micro_time
from rxrealtime.sinks._redis_buffer import _RAW_LIMIT, PublisherBuffer
from rxrealtime.sinks._redis_commands import Entry, PublisherStatistics, SessionCommands
from rxrealtime.sinks._redis_encode import AUDIO_IN, LINE, OMIT, RecordEncoder, kind_of
from rxrealtime.sinks._redis_link import Link, link_for
from rxrealtime.sinks._redis_tap import ReceiveTap, Record
from rxrealtime.sinks._redis_wrap import PublishingTransport
from rxrealtime.sources.redis_layout import (
    DEFAULT_PREFIX,
    DEFAULT_URL,
    StreamLayout,
    check_session_id,
)
from rxrealtime.transport import FrameTransport, TransportClosed

if TYPE_CHECKING:  # pragma: no cover
    from redis.asyncio import Redis

__all__ = ["PublisherStatistics", "RedisPublisher"]

log = logging.getLogger("rxrealtime.redis")

_time = micro_time  # every record's "ts": the clock rounded to the microsecond
_ADMIT = AUDIO_IN | {"response.created"}
"""Received event types the audio policy looks at (and ``session.*``, which name the model)."""
_APPEND = '{"type":"input_audio_buffer.append"'


class RedisPublisher(PublisherBuffer, abc.ObserverBase[ev.ServerEvent]):
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
        secrets, scrub_env: what to mask besides the connection's own secrets.
        client: a ``redis.asyncio`` client to use (not closed here); else one per loop and URL
            is opened, shared by the publishers of that loop, and closed when the last is.
        cluster: open a ``RedisCluster`` client for ``url``.
        max_backoff: the longest wait between retries, in seconds.
        close_timeout: how long :meth:`aclose` waits for the last records to be written.
        linger: how long the writer waits, once woken, for more records before a round trip
            (fewer, larger writes; the first publisher of a loop and Redis sets it).
    """

    _WIRE: ClassVar[bool] = False
    """Whether the receive tap writes the wire format (an offloaded publisher's) instead of
    appending to ``_raw``."""

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
        secrets: Iterable[str | None] = (),
        scrub_env: bool = True,
        client: Redis | None = None,
        cluster: bool = False,
        max_backoff: float = 2.0,
        close_timeout: float = 10.0,
        linger: float = 0.025,
    ) -> None:
        if buffer_size < 1 or entry_records < 1 or maxlen < 1 or group_maxlen < 1:
            raise ValueError("buffer_size, entry_records, maxlen and group_maxlen must be >= 1")
        self.session_id = check_session_id(uuid.uuid4().hex if session_id is None else session_id)
        self.layout = StreamLayout(prefix, shards)
        self.url = url
        self.model = model
        self._stream = self.layout.session_stream(self.session_id)
        self.commands = SessionCommands(
            self.session_id,
            self._stream,
            self.layout.session_info(self.session_id),
            self.layout.index(),
            self.layout.shard_stream(self.layout.shard_of(self.session_id)),
            maxlen,
            group_maxlen,
            retention,
        )
        self._buffer_size = buffer_size
        self._entry_records = min(entry_records, buffer_size)
        self._client, self._cluster, self._max_backoff = client, cluster, max_backoff
        self._close_timeout = close_timeout
        self._linger = linger
        env_key = os.environ.get("OPENAI_API_KEY") if scrub_env else None
        self.started_at = _time()
        self._encoder = RecordEncoder(
            self.started_at, include_audio, ordered_secrets([*secrets, env_key])
        )
        # every frame received goes through it; it holds what is recorded, not yet encoded
        # (``_raw``: (ts, direction, frame, flags); "end"/"reconnect" too), the frame count
        # (``_frames``) and whether the stream ended (``_ended``)
        self._receive = ReceiveTap(
            _ADMIT,
            self._encoder.admit,
            self._pushed,
            self.failed,
            _time,
            invalid=ev.InvalidEvent,
            wire=self._WIRE,
        )
        self._raw_limit = max(_RAW_LIMIT, buffer_size)  # encoded in the tap past it
        self._records: collections.deque[tuple[float, bytes]] = collections.deque()
        self._retry: list[Entry] = []
        self._retry_records = 0
        self._inflight = 0
        self._last_ms = 0
        self._seq = 0
        self._link: Link | None = None
        self._queued = False  # the link knows this publisher has something to write
        self._closing = False
        self._flushed: asyncio.Event | None = None
        self._index_start: float | None = self.started_at
        self._connections = 0
        self._last_close: tuple[int, str] | None = None
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
        self._published = self._dropped = 0
        self._errors = self._retries = 0
        self.last_error: str | None = None
        """The latest failure to record or write, one line, secrets masked."""
        self._next_drop_log = 1

    # -- what connect(recorder=...) uses ---------------------------------------------------

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        """Also mask ``secrets`` in every record published from now on."""
        self._encoder.secrets = ordered_secrets([*secrets, *self._encoder.secrets])

    def tap(self) -> FrameTap:
        """The callbacks a session calls directly for every frame and connection (see
        :class:`~rxrealtime.recording.FrameTap`); each never raises. Each call to ``tap()``
        counts as one more connection of the same session (a reconnect), as :meth:`wrap`
        does."""
        self._new_connection()
        return FrameTap(self._receive, self._tap_out, self._tap_connection, self.session_ended)

    def wrap(self, transport: FrameTransport) -> FrameTransport:
        """A transport that publishes every frame ``transport`` receives and sends.

        Called again for a new connection of the same session (a reconnect, a planned
        recycle), the stream goes on: a ``"reconnect"`` record comes first, with how the
        previous connection closed when it did.
        """
        self._new_connection()
        return PublishingTransport(transport, self)

    def _new_connection(self) -> None:
        self._connections += 1
        if self._connections > 1:
            code, reason = self._last_close or (None, None)
            self._last_close = None
            self._tap_connection(self._connections, code, reason)

    def _tap_connection(
        self, connection: int, code: int | None, reason: str | None, ts: float | None = None
    ) -> None:
        """Connection number ``connection`` (2, 3, ...) starts; the previous one closed with
        ``code``/``reason`` (``None`` for a planned recycle)."""
        try:
            if not self._ended:
                self._connections = max(self._connections, connection)
                ts = _time() if ts is None else ts
                self._push(ts, "reconnect", (connection, code, reason), 0)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:
            self.failed(error)

    def connection_closed(self, closed: TransportClosed) -> None:
        """The newest connection closed (what the wrapping transport reports): remembered for
        the next ``"reconnect"`` record; the stream goes on until the session ends."""
        self._last_close = (closed.code, redact(closed.reason, self._encoder.secrets))

    def session_ended(self, terminal: BaseException) -> None:
        """The session ended with ``terminal`` (its ``ConnectionClosed``): write the ``"end"``
        record (``completed`` for a normal end, ``error`` otherwise). Never raises."""
        try:
            if isinstance(terminal, ConnectionClosedOK):
                self._end("completed", None)
            else:
                message = redact(f"{type(terminal).__name__}: {terminal}", self._encoder.secrets)
                self._end("error", message)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:
            self.failed(error)

    # -- recording ---------------------------------------------------------------------------

    # the receive tap's state, which the rest of the publisher reads and sets
    @property
    def _raw(self) -> list[Record]:
        return self._receive.raw

    @_raw.setter
    def _raw(self, raw: list[Record]) -> None:
        self._receive.raw = raw

    @property
    def _raw_limit(self) -> int:
        return self._receive.limit

    @_raw_limit.setter
    def _raw_limit(self, limit: int) -> None:
        self._receive.limit = limit

    @property
    def _frames(self) -> int:
        return self._receive.frames

    @_frames.setter
    def _frames(self, frames: int) -> None:
        self._receive.frames = frames

    @property
    def _ended(self) -> bool:
        return self._receive.ended

    @_ended.setter
    def _ended(self, ended: bool) -> None:
        self._receive.ended = ended

    def _tap_out(self, frame: str | bytes) -> None:
        """A frame sent (after the send succeeded)."""
        try:
            encoder = self._encoder
            if (
                frame.__class__ is str
                and frame.startswith(_APPEND)
                and not encoder.include_audio
                and not self._ended
            ):  # the most frequent frame sent, left out (what admit() decides, sooner)
                self._frames += 1
                encoder.omitted += 1
                return
            self._add("out", frame)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:
            self.failed(error)

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
        self._end("error", redact(f"{type(error).__name__}: {error}", self._encoder.secrets))

    def _add(self, direction: str, frame: object) -> None:
        if self._ended:
            return
        self._frames += 1
        flags = self._encoder.admit(direction, kind_of(frame), frame)
        if flags != OMIT:
            self._push(_time(), direction, frame, flags)

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
        ts = _time() if ts is None else ts
        self._push(ts, "end", (reason, error), 0)
        self._ended = self._closing = True  # nothing is published after the end record
        self._info.update(status="ended", ended_at=ts, reason=reason, error=error or "")

    def close(self) -> None:
        """End the stream (reason ``closed`` unless it ended already); what is buffered is
        still written in the background. Idempotent."""
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
        return f"<{type(self).__name__} session {self.session_id} -> {self._stream}>"

    def _adopt_start(self, started_at: float) -> None:
        """Take ``started_at`` as the session's start: the helper process of an
        :class:`~rxrealtime.sinks.OffloadedRedisPublisher` publishes a session that started in
        another process (every record's ``t`` counts from it, the index shows it)."""
        self.started_at = self._encoder.started_at = started_at
        self._info["started_at"] = started_at
        if self._index_start is not None:
            self._index_start = started_at

    def _adopt_records(self, records: list[tuple[float, str, Any, int]]) -> None:
        """Publish what the session's process of an offloaded publisher buffered, with its
        times: frames (as its tap admitted them), ``"reconnect"`` and ``"end"`` records, and
        finished lines (:data:`LINE`)."""
        for ts, direction, frame, flags in records:
            if direction == LINE:
                self._encode()  # what came before it first
                self._records.append((ts, frame))
            elif direction == "end":
                self._end(frame[0], frame[1], ts)
            elif direction == "reconnect":
                connection, code, reason = frame
                self._tap_connection(connection, code, reason, ts)
            else:
                self._push(ts, direction, frame, flags)

    def _adopt_counts(self, omitted_audio: int, connections: int) -> None:
        """The counts the session's process of an offloaded publisher kept, for the index."""
        self._encoder.omitted = omitted_audio
        self._connections = max(self._connections, connections)

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
            "connections": max(1, self._connections),
            "failures": self._errors,
        }
