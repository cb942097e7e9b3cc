"""``OffloadedRedisPublisher``: a session published to Redis by a helper process.

::

    async with rr.sinks.OffloadedRedisPublisher(url) as publisher:
        async with rr.connect(model="gpt-realtime", recorder=publisher) as session:
            ...

The same publisher as :class:`~rxrealtime.sinks.RedisPublisher` -- the same options, streams,
records, index and guarantees -- except where the work is done. In the session's process a
frame is only recorded: the tap decides, as ever, whether it is published (audio deltas left
out) and writes it, with its time and flags, straight into the bytes that will cross the pipe
(the format of :mod:`rxrealtime.sinks._redis_wire`). Every ``linger`` seconds one batch of
every offloaded publisher of the event loop goes down a pipe to one helper process per event
loop (``python -m rxrealtime.sinks._redis_sidecar``, started with the first publisher, stopped
:data:`HELPER_IDLE` seconds after the last one closed, so that sessions that follow one another
share it), where a ``RedisPublisher`` per session builds the record lines, scrubs secrets and
writes to Redis. So the process that must keep audio flowing pays for the tap and
one pipe write per ``linger``, not for encoding and Redis round trips.

Guarantees, besides the ``RedisPublisher``'s (which the helper process keeps):

* **Order and timing.** Records reach the helper in the order they were recorded, each with the
  time it was recorded in the session's process (``t`` and ``ts`` are the session's, not the
  helper's).
* **Counts.** :meth:`statistics` adds the helper's counts (published, buffered, dropped,
  errors, retries), which it reports ten times a second, to what the session's process counted
  (frames, omitted audio); after :meth:`aclose` they are final.
* **Bounded.** At most ``64 MiB`` wait in the pipe; past that a batch is dropped (counted in
  ``dropped``, logged), as is everything recorded once the helper process has died (logged as
  an error). The session itself never fails because of either.
* **Closing.** :meth:`aclose` sends what is buffered and waits (at most ``close_timeout`` plus
  five seconds) until the helper has written the session's last record.
* **The helper process.** It stops :data:`HELPER_IDLE` seconds after the loop's last
  offloaded publisher closed, unless another one starts meanwhile, and when the loop shuts down
  (``asyncio.run`` and ``asyncio.Runner`` cancel the task that waits, which then stops it). A
  loop closed without cancelling its tasks leaves the helper to exit when its pipe closes.

Threads: every method runs on the event loop's thread (the one the session runs on). Secrets
cross the pipe to the helper (a child of this process), never anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import marshal
import struct
import sys
import weakref
from typing import Any, ClassVar

import orjson

from rxrealtime.sinks._redis_commands import PublisherStatistics
from rxrealtime.sinks._redis_encode import LINE
from rxrealtime.sinks.redis import RedisPublisher
from rxrealtime.sources.redis_layout import DEFAULT_URL

__all__ = ["OffloadedRedisPublisher"]

log = logging.getLogger("rxrealtime.redis")

HEADER = struct.Struct(">I")
"""Every batch down or up the pipe: its length, then a marshalled list of messages (between
two processes of the same Python: the helper runs ``sys.executable``); down the pipe, the wire
bytes of each ``("wire", session_id, size)`` message follow the list, in order."""
PIPE_SIZE = 1024 * 1024
"""The pipe's capacity asked for (Linux's default maximum; 64 KiB when refused): fewer,
larger writes."""
MAX_BACKLOG = 64 * 1024 * 1024
"""Bytes that may wait in the pipe to the helper before batches are dropped."""
HELPER_IDLE = 5.0
"""Seconds a helper process is kept once its loop has no offloaded publisher left."""
_REPORT_SLACK = 5.0
"""Seconds :meth:`OffloadedRedisPublisher.aclose` allows beyond ``close_timeout``."""

Remote = tuple[int, int, int, int, int, str | None]
"""The helper's counts of one session: published, buffered, dropped, errors, retries, the latest
error."""


class OffloadedRedisPublisher(RedisPublisher):
    """:class:`RedisPublisher` whose record encoding and Redis I/O run in a helper process (see
    the module). Takes the same arguments, except ``client`` (the helper makes its own from
    ``url``)."""

    _WIRE = True

    def __init__(self, url: str = DEFAULT_URL, **options: Any) -> None:
        if options.get("client") is not None:
            raise ValueError("an OffloadedRedisPublisher connects by url, not with a client")
        super().__init__(url, **options)
        self._options = {
            **{k: v for k, v in options.items() if k not in ("secrets", "scrub_env")},
            "session_id": self.session_id,
            # JSON values cross the pipe (a value JSON cannot carry is refused here, at once)
            "meta": orjson.loads(orjson.dumps(dict(options["meta"])))
            if options.get("meta")
            else None,
        }
        self._sidecar: _Sidecar | None = None
        self._remote: Remote = (0, 0, 0, 0, 0, None)
        self._lost = 0  # records dropped on this side (pipe full, helper gone)
        self._done: asyncio.Future[None] | None = None

    # -- what the helper process needs ------------------------------------------------------

    def _opening(self) -> tuple[Any, ...]:
        """The message that creates this session's publisher in the helper."""
        return ("open", self.url, self._options, self.started_at, self._encoder.secrets)

    def _report(self, remote: Remote) -> None:
        self._remote = remote
        self.last_error = remote[5] or self.last_error

    # -- the hooks of RedisPublisher ---------------------------------------------------------

    def _push(self, ts: float, direction: str, frame: object, flags: int) -> None:
        """A record made here (a frame sent or given to ``record_in``, ``"end"``,
        ``"reconnect"``), written after what the tap wrote. A decoded event (which the wire
        does not carry) is encoded to its record line here, by this publisher's encoder: the
        line the helper would write; a value that cannot be recorded is counted as a failure."""
        tap = self._receive
        try:
            try:
                tap.append(ts, direction, frame, flags)
            except ValueError:
                tap.append(ts, LINE, self._encoder.line(ts, direction, frame, flags), 0)
        except Exception as error:
            self.failed(error)
            return
        if not self._queued:
            self._pushed()

    def _pushed(self) -> None:
        """A record was buffered: the helper gets it with the next batch."""
        if not self._queued:
            self._queued = True
            (self._sidecar or self._join()).ready(self)

    def _join(self) -> _Sidecar:
        sidecar = self._sidecar = _Sidecar.of_loop()
        sidecar.open(self)
        return sidecar

    def add_secrets(self, secrets: Any) -> None:
        super().add_secrets(secrets)
        if self._sidecar is not None:
            self._sidecar.control(("secrets", self.session_id, self._encoder.secrets))

    def _check_flushed(self) -> None:
        """(The helper finishes the close.)"""

    def _buffered(self) -> int:
        return self._receive.wire_records + self._remote[1]

    def close(self) -> None:
        """End the stream (reason ``closed`` unless it ended already); the helper still writes
        what is buffered. Idempotent."""
        if self._sidecar is None and not self._receive.wire_records:  # nothing was recorded
            self._ended = self._closing = True
            return
        self._end("closed", None)
        self._closing = True
        sidecar = self._sidecar or self._join()
        if self._done is None:
            self._done = sidecar.finish(self)

    async def aclose(self) -> None:
        """End the stream like :meth:`close` and wait until the helper has written every
        record (at most ``close_timeout`` + 5 seconds; what it has not written then, it counts
        as dropped)."""
        self.close()
        if self._done is None:
            return
        try:
            async with asyncio.timeout(self._close_timeout + _REPORT_SLACK):
                await asyncio.shield(self._done)
        except TimeoutError:
            log.warning(
                "session %s: the publishing process did not confirm its end", self.session_id
            )
        if self._sidecar is not None:
            await self._sidecar.left(self)

    def statistics(self) -> PublisherStatistics:
        """A snapshot of the counters: this process's (frames, omitted audio) and the helper's
        latest report (see the module)."""
        published, _, dropped, errors, retries, _ = self._remote
        return PublisherStatistics(
            session_id=self.session_id,
            frames=self._frames,
            published=published,
            buffered=self._buffered(),
            omitted_audio=self._encoder.omitted,
            dropped=dropped + self._lost,
            errors=errors + self._errors,
            retries=retries,
            ended=self._ended,
        )

    def _lose(self, count: int, why: str) -> None:
        self._lost += count
        if count:
            log.warning("session %s: %d records dropped (%s)", self.session_id, count, why)


class _Sidecar:
    """The helper process of one event loop and the batches on their way to it."""

    _of_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sidecar]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def of_loop(cls) -> _Sidecar:
        loop = asyncio.get_running_loop()
        sidecar = cls._of_loop.get(loop)
        if sidecar is None or sidecar._dead is not None:  # none yet, or it died: a new one
            sidecar = cls._of_loop[loop] = cls(loop)
        return sidecar

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._publishers: dict[str, OffloadedRedisPublisher] = {}
        self._controls: list[tuple[Any, ...]] = []  # sent before the batch's records
        self._ready: list[OffloadedRedisPublisher] = []
        self._finishing: list[tuple[Any, ...]] = []  # sent after them
        self._done: dict[str, asyncio.Future[None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._linger: float | None = None  # the shortest of its publishers'
        self._process: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._dead: str | None = None
        self._idle: asyncio.Task[None] | None = None  # waits to stop the helper, when idle

    # -- from the publishers ------------------------------------------------------------------

    def open(self, publisher: OffloadedRedisPublisher) -> None:
        if self._idle is not None:  # a new session: the helper stays
            self._idle.cancel()
            self._idle = None
        self._publishers[publisher.session_id] = publisher
        linger = publisher._linger
        self._linger = linger if self._linger is None else min(self._linger, linger)
        self.control(publisher._opening())

    def control(self, message: tuple[Any, ...]) -> None:
        self._controls.append(message)
        self._schedule()

    def ready(self, publisher: OffloadedRedisPublisher) -> None:
        self._ready.append(publisher)
        self._schedule()

    def finish(self, publisher: OffloadedRedisPublisher) -> asyncio.Future[None]:
        """The session ended: after its last records, the helper closes its publisher."""
        done = self._done[publisher.session_id] = self._loop.create_future()
        self._finishing.append(
            ("close", publisher.session_id, publisher._encoder.omitted, publisher._connections)
        )
        if self._dead is not None:
            self._send()
        else:
            self._schedule()
        return done

    async def left(self, publisher: OffloadedRedisPublisher) -> None:
        """``publisher`` is closed; once the last one has left, the helper process is stopped
        after :data:`HELPER_IDLE` seconds unless a new publisher comes."""
        self._publishers.pop(publisher.session_id, None)
        if self._publishers or self._ready or self._finishing or self._idle is not None:
            return
        self._idle = self._loop.create_task(self._stop_when_idle(), name="rxrealtime-helper-idle")

    async def _stop_when_idle(self) -> None:
        idle = asyncio.current_task()
        try:
            await asyncio.sleep(HELPER_IDLE)
        finally:  # also when the loop shuts down and cancels this task
            if self._idle is idle:  # no publisher came meanwhile
                self._idle = None
                if self._of_loop.get(self._loop) is self:
                    del self._of_loop[self._loop]
                await self._stop()

    # -- batches ------------------------------------------------------------------------------

    def _schedule(self) -> None:
        if self._timer is None:
            self._timer = self._loop.call_later(self._linger or 0.0, self._send)

    def _send(self) -> None:
        """Send everything recorded since the last batch, in one write."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._process is None and self._dead is None:
            if self._starting is None:
                self._starting = self._loop.create_task(self._start())
            return  # sent once the helper runs
        messages, self._controls = self._controls, []
        records: list[tuple[OffloadedRedisPublisher, int]] = []
        wires: list[bytes] = []
        for publisher in self._ready:
            tap = publisher._receive
            publisher._queued = False
            count = tap.wire_records
            if count:
                wire = tap.take_wire()
                messages.append(("wire", publisher.session_id, len(wire)))
                records.append((publisher, count))
                wires.append(wire)
        self._ready = []
        messages += self._finishing
        self._finishing = []
        stdin = self._process.stdin if self._process is not None else None
        if self._dead is not None or stdin is None:
            self._lost(records, f"the publishing process is gone: {self._dead}")
            return
        if stdin.transport.get_write_buffer_size() > MAX_BACKLOG:
            self._lost(records, "the publishing process is behind by more than 64 MiB")
            messages = [m for m in messages if m[0] != "wire"]
            wires = []
        try:
            payload = marshal.dumps(messages)
        except Exception as error:  # a bug of ours: this batch is lost, the session goes on
            log.exception("cannot send a batch to the publishing process")
            self._lost(records, f"{type(error).__name__}: {error}")
            return
        stdin.write(HEADER.pack(len(payload)) + payload)
        for wire in wires:
            stdin.write(wire)

    def _lost(self, records: list[tuple[OffloadedRedisPublisher, int]], why: str) -> None:
        for publisher, count in records:
            publisher._lose(count, why)
        if self._dead is not None:  # no session's end will be confirmed now
            for done in self._done.values():
                if not done.done():
                    done.set_result(None)
            self._done.clear()

    # -- the helper process -------------------------------------------------------------------

    async def _start(self) -> None:
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "rxrealtime.sinks._redis_sidecar",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        except OSError as error:
            self._died(f"cannot start it: {error}")
        else:
            _widen(self._process)
            self._reader = self._loop.create_task(self._read(self._process))
        self._send()

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        """The helper's reports: counts, and each session's end."""
        assert process.stdout is not None
        try:
            while True:
                header = await process.stdout.readexactly(HEADER.size)
                payload = await process.stdout.readexactly(HEADER.unpack(header)[0])
                for kind, session_id, remote in marshal.loads(payload):
                    publisher = self._publishers.get(session_id)
                    if publisher is not None:
                        publisher._report(remote)
                    if kind == "closed" and session_id in self._done:
                        self._done.pop(session_id).set_result(None)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        code = await process.wait()
        if self._publishers or self._done:
            self._died(f"it exited with code {code}")

    def _died(self, why: str) -> None:
        if self._dead is None:
            self._dead = why
            log.error("the Redis publishing process failed (%s); records are dropped", why)
        self._send()

    async def _stop(self) -> None:
        process, self._process = self._process, None
        self._dead = self._dead or "stopped"
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        await process.wait()
        if self._reader is not None:
            await self._reader


def _widen(process: asyncio.subprocess.Process) -> None:
    """Ask for a :data:`PIPE_SIZE` pipe to the helper (Linux; elsewhere, or when refused, the
    pipe keeps its size)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not a Unix
        return
    setting = getattr(fcntl, "F_SETPIPE_SZ", None)
    pipe = process.stdin.transport.get_extra_info("pipe") if process.stdin else None
    if setting is None or pipe is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(pipe.fileno(), setting, PIPE_SIZE)
