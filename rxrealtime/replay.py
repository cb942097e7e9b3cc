"""Replay: recordings back into the same typed ``Observable[ServerEvent]`` a live session gives.

Two input formats are read, line by line, and may even be mixed:

* the :class:`~rxrealtime.sinks.Recorder`'s format (a header line, then
  ``{"t", "ts", "dir", "event" | "raw" | "raw_base64"}`` records; see
  :mod:`rxrealtime.recording`, which parses both formats): ``"in"`` records are server
  events, ``"out"`` records client events, ``"end"`` records how the stream ended;
* plain JSON Lines with one server event (one wire frame) per line, no timestamps.

Every frame goes through :func:`rxrealtime.events.decode`, so a replay yields exactly the
events (classes, fields, ``UnknownEvent``/``InvalidEvent``) the live stream did. Blank lines
are skipped; a line that is not JSON becomes an ``InvalidEvent`` (nothing is lost, nothing
raised). ``on_error`` is only for I/O errors while reading; a missing file is reported by the
call itself (``FileNotFoundError``), before anything is subscribed.

Timing: with ``speed=None`` records are emitted as fast as possible (in batches, yielding to
the scheduler between them so an event loop stays responsive). With ``speed=s`` the record
with time ``t`` is emitted ``(t - t0) / s`` seconds after subscription, ``t0`` being the time
of the first timed record in the file (so the first one comes at once); lines without ``"t"``
(plain JSONL) follow the previous record at once. Times are measured from the subscription on
the scheduler's clock, so there is no drift over long recordings. A timed replay refuses to
wait for a record more than :data:`MAX_REPLAY_SPAN` seconds (a day) after the first timed one
(a corrupt or hostile ``"t"`` such as ``1e12``): the stream errors with a ``ValueError`` naming
the line instead of waiting for ever.

Robustness: a record of any depth or content replays (see :mod:`rxrealtime.recording`); any
failure while reading (I/O, a refused time) ends the stream with ``on_error``, never an
exception escaping into the scheduler.

Scheduler: ``scheduler=`` wins, then the one given to ``subscribe``, then the running loop's
:class:`~rxrealtime.scheduling.LoopScheduler`, then (no loop running) the current thread's
trampoline (which *sleeps* the thread between timed records). Every ``on_next`` runs on that
scheduler. Each subscription re-reads the file (a replay is cold); disposing it stops reading
and closes the file.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Final

import orjson
import reactivex
from reactivex import Observable, abc
from reactivex import operators as rx_ops
from reactivex.disposable import CompositeDisposable, Disposable, SerialDisposable
from reactivex.scheduler import CurrentThreadScheduler

from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from rxrealtime.recording import Direction, Record, read_records
from rxrealtime.scheduling import Backpressure, LoopScheduler, ObservableIterator
from rxrealtime.session import DEFAULT_BUFFER_SIZE, EventHub, SessionBase
from rxrealtime.session.hub import PROPAGATED
from rxrealtime.session.resources import check_frame_size

__all__ = [
    "MAX_REPLAY_SPAN",
    "Record",
    "ReplayIterator",
    "ReplaySession",
    "replay",
    "replay_records",
    "replay_session",
]

_BATCH = 512
"""Records emitted per scheduled action when replaying as fast as possible."""

MAX_REPLAY_SPAN: Final = 24 * 3600.0
"""The longest stretch of recorded time a timed replay waits through (seconds; a Realtime
session lasts at most an hour). See the module docstring."""


def _default_scheduler() -> abc.SchedulerBase:
    try:
        return LoopScheduler.current()
    except RuntimeError:
        return CurrentThreadScheduler.singleton()


def _check_path(path: str | os.PathLike[str]) -> Path:
    resolved = Path(path)
    if not resolved.exists():
        raise FileNotFoundError(f"no recording at {os.fspath(path)!r}")
    if resolved.is_dir():
        raise IsADirectoryError(f"{os.fspath(path)!r} is a directory, not a recording")
    return resolved


class _Cursor:
    """One subscription's walk through the file: reading, timing, emitting."""

    def __init__(
        self,
        source: Path,
        speed: float | None,
        wanted: frozenset[str],
        observer: abc.ObserverBase[Record],
        scheduler: abc.SchedulerBase,
    ) -> None:
        self._source = source
        self._speed = speed
        self._wanted = wanted
        self._observer = observer
        self._scheduler = scheduler
        self._start = scheduler.now
        self._file: IO[bytes] | None = None
        self._records: Iterator[Record] | None = None
        self._next: Record | None = None
        self._t0: float | None = None
        self._offset = 0.0
        self.pending = SerialDisposable()

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()

    def _offset_of(self, record: Record) -> float:
        """Seconds after subscription at which ``record`` is due (never decreasing)."""
        if self._speed is None:
            return 0.0
        if record.t is not None:
            if self._t0 is None:
                self._t0 = record.t
            span = record.t - self._t0
            if not span <= MAX_REPLAY_SPAN:  # also an infinite or NaN time
                raise ValueError(
                    f"line {record.line}: t={record.t:g} is {span:g} s after the first timed "
                    f"record, more than {MAX_REPLAY_SPAN:g} s: not waiting for it "
                    "(replay it without a speed)"
                )
            self._offset = max(self._offset, span / self._speed)
        return self._offset

    def _upcoming(self) -> Record | None:
        """The next wanted record (kept until emitted); ``None`` at the end of the file."""
        if self._next is None:
            if self._records is None:
                self._file = open(self._source, "rb")  # noqa: SIM115 - closed by close()
                self._records = read_records(self._file)
            for record in self._records:
                if record.dir in self._wanted:
                    self._next = record
                    break
                self._offset_of(record)  # skipped records still move the clock
        return self._next

    def step(self, _scheduler: abc.SchedulerBase | None = None, _state: Any = None) -> None:
        """Emit what is due, then schedule the next step (or end the stream)."""
        emitted = 0
        while not self.pending.is_disposed:
            try:
                record = self._upcoming()
                due = None if record is None else self._offset_of(record)
            except Exception as error:  # I/O, a refused time: the stream's end
                self.close()
                self._observer.on_error(error)
                return
            if record is None or due is None:
                self.close()
                self._observer.on_completed()
                return
            elapsed = (self._scheduler.now - self._start).total_seconds()
            wait = due - elapsed
            if wait > 0:
                self.pending.disposable = self._scheduler.schedule_relative(wait, self.step)
                return
            if emitted >= _BATCH:
                self.pending.disposable = self._scheduler.schedule(self.step)
                return
            self._next = None
            emitted += 1
            try:
                self._observer.on_next(record)
            except BaseException:
                self.close()
                raise


def replay_records(
    path: str | os.PathLike[str],
    speed: float | None = None,
    *,
    scheduler: abc.SchedulerBase | None = None,
    directions: Iterable[Direction] = ("in", "out"),
) -> Observable[Record]:
    """Every record of ``path`` whose ``dir`` is in ``directions``, timed as the module says.

    Raises ``FileNotFoundError``/``IsADirectoryError`` at once for a path that is not a file,
    ``ValueError`` for a ``speed`` that is not positive. Records of other directions are
    skipped but still count for timing.
    """
    source = _check_path(path)
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be a positive number or None, not {speed!r}")
    wanted = frozenset(directions)

    def subscribe(
        observer: abc.ObserverBase[Record], subscribe_scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        sched = scheduler or subscribe_scheduler or _default_scheduler()
        cursor = _Cursor(source, speed, wanted, observer, sched)
        cursor.pending.disposable = sched.schedule(cursor.step)
        return CompositeDisposable(cursor.pending, Disposable(cursor.close))

    return reactivex.create(subscribe)


def replay(
    path: str | os.PathLike[str],
    speed: float | None = None,
    *,
    scheduler: abc.SchedulerBase | None = None,
) -> Observable[ev.ServerEvent]:
    """The server events recorded in ``path``, decoded, with the timing described above.

    ``speed=None`` replays as fast as possible; ``speed=1.0`` with the original timing,
    ``2.0`` twice as fast. Only ``"in"`` records (and plain event lines) become events; use
    :func:`replay_records` for the client side. Raises ``FileNotFoundError`` at once when
    ``path`` does not exist.
    """
    records = replay_records(path, speed, scheduler=scheduler, directions=("in",))
    return records.pipe(rx_ops.map(Record.decode))


ReplayIterator = ObservableIterator
"""The iterator a :class:`ReplaySession` gives (``iterate()``, ``async for``): the live
session's own :class:`~rxrealtime.scheduling.ObservableIterator`."""


class ReplaySession(SessionBase):
    """A session-shaped object driven by a recording, so code written for ``rr.connect()``
    sessions runs unchanged on it.

    Its consumer side *is* the live session's: the same
    :class:`~rxrealtime.session.EventHub` and :class:`~rxrealtime.session.SessionBase`, so
    every rule of :mod:`rxrealtime.session` holds as it does live:

    * ``events`` is hot and shared (subscribers guarded: one that raises is logged and
      detached); ``async for event in session`` and :meth:`iterate` give each loop its own
      bounded queue (``buffer_size``, ``overflow``); ``await recv()``/``recv_bytes()`` read one
      shared queue (``recv_bytes()`` gives the recorded frame). Each consumer sees the events
      from the moment it joins. The replay starts when the **first** consumer joins (or at
      :meth:`start`, or :meth:`wait_closed`), and its first event is delivered at a later turn
      of the event loop, so every consumer that joins in the same synchronous block sees the
      whole recording; events replayed before anyone listens wait in the bounded backlog.
    * Back-pressure: while an iterator with ``overflow="block"`` is full (or a thread hop on the
      loop is), the replay holds the next events back, as a full consumer pauses a live
      receive task: nothing is dropped, however large the recording.
    * At the end of the recording every consumer completes (``recv()`` raises
      :class:`~rxrealtime.errors.ConnectionClosedOK`), ``closed`` turns true and
      ``close_code`` is 1000. (A recording of a failed session replays as a completed one; its
      ``"end"`` record, read with :func:`replay_records`, says how it ended.) An I/O error
      reading the file ends the stream with :class:`~rxrealtime.errors.ConnectionClosedError`
      (code 1011, the ``OSError`` as its ``__cause__``), as :meth:`exception` reports.
    * ``statistics()`` counts as live: ``frames_in``/``bytes_in`` the recorded server frames,
      ``frames_out``/``bytes_out`` what was sent, ``dropped``, ``subscriber_errors``, …
    * ``await send(event)`` and the typed helpers (``session.response.create()``, …) validate,
      size-check and encode exactly like a live send, then keep the frame in :attr:`sent`
      (wire dicts) and :attr:`sent_frames` (as sent); ``send_raw`` keeps its frame. Nothing
      sent steers the replay: the recorded server events come whatever is sent. Sending works
      until :meth:`close` (the recording may end while the driver code still sends), then
      raises ``ConnectionClosedOK``.
    * ``await close()`` (also leaving ``async with``) stops the replay and completes every
      consumer; idempotent.

    ``path``, ``speed`` and ``scheduler`` are :func:`replay`'s; the file is checked at
    construction. Use it from async code on one loop (everything is delivered on that loop's
    thread) or with a virtual ``scheduler`` (iterators and ``recv()`` need a running loop).
    """

    replayed = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        speed: float | None = None,
        *,
        scheduler: abc.SchedulerBase | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
    ) -> None:
        if scheduler is None:
            scheduler = _default_scheduler()
        self._path = os.fspath(path)
        self._source = replay_records(path, speed, scheduler=scheduler, directions=("in",))
        loop: asyncio.AbstractEventLoop | None = None
        if isinstance(scheduler, LoopScheduler):
            loop = scheduler.loop
            self._call_soon: Callable[[Callable[[], None]], object] = loop.call_soon
        else:
            self._call_soon = functools.partial(_schedule_call, scheduler)
        hub = EventHub(call_soon=self._call_soon, buffer_size=buffer_size, loop=loop)
        hub.joined = self.start
        self._init_base(hub, scheduler)
        self._gates = (hub.gate,) if loop is None else (hub.gate, Backpressure.for_loop(loop))
        self._pending: collections.deque[Record] = collections.deque()
        self._waiting = False  # a drain is scheduled or waits for a gate to open
        self._source_end: ConnectionClosed | None = None
        self._subscription: abc.DisposableBase | None = None
        self._stopped = False
        self._ended = asyncio.Event()
        self.sent: list[dict[str, Any]] = []
        """Every client event sent (``send``, the typed helpers, JSON objects given to
        ``send_raw``), as wire dicts, in order."""
        self.sent_frames: list[str | bytes] = []
        """Every frame sent, exactly as it would have gone over the wire, in order."""

    def __repr__(self) -> str:
        return f"<ReplaySession {self._path!r} {'closed' if self.closed else 'open'}>"

    def start(self) -> None:
        """Start the replay now (idempotent); normally the first consumer starts it."""
        if self._subscription is None and not self._stopped:
            self._subscription = self._source.subscribe(
                self._on_record, self._on_source_error, self._on_source_end
            )

    # -- the recording into the hub, honouring back-pressure ----------------------------------

    def _blocked(self) -> bool:
        return any(gate.holders for gate in self._gates)

    def _on_record(self, record: Record) -> None:
        if self._pending or self._blocked():
            self._pending.append(record)
            self._wait_for_room()
        else:
            self._deliver(record)

    def _deliver(self, record: Record) -> None:
        try:
            self._hub.receive(record.frame, record.decode())
        except PROPAGATED as exc:  # a consumer asked the process to stop: end, then let it go
            self._stopped = True
            subscription, self._subscription = self._subscription, None
            if subscription is not None:
                subscription.dispose()
            self._pending.clear()
            why = f"stopped: a consumer raised {type(exc).__name__}"
            self._end(ConnectionClosedError(1011, why))
            raise

    def _wait_for_room(self) -> None:
        if self._waiting:
            return
        self._waiting = True
        held = [gate for gate in self._gates if gate.holders]
        if held:
            held[0].when_open(self._room)
        else:
            self._call_soon(self._drain)

    def _room(self) -> None:
        self._call_soon(self._drain)  # not inside the consumer's release: at the next turn

    def _drain(self) -> None:
        self._waiting = False
        pending = self._pending
        while pending:
            if self._blocked():
                self._wait_for_room()
                return
            self._deliver(pending.popleft())
        if self._source_end is not None:
            self._end(self._source_end)

    def _on_source_end(self) -> None:
        self._finish_source(ConnectionClosedOK(1000, "end of recording"))

    def _on_source_error(self, error: Exception) -> None:
        terminal = ConnectionClosedError(1011, f"reading the recording failed: {error}")
        terminal.__cause__ = error
        self._finish_source(terminal)

    def _finish_source(self, terminal: ConnectionClosed) -> None:
        self._source_end = terminal
        if not self._pending:
            self._end(terminal)

    def _end(self, terminal: ConnectionClosed) -> None:
        if self._hub.end(terminal):
            self._ended.set()

    # -- send ----------------------------------------------------------------------------------

    async def _send_frame(self, kind: str, frame: str) -> None:
        """Keep an encoded client event (``send`` and the typed helpers)."""
        await self.send_raw(frame)

    async def send_raw(self, data: str | bytes) -> None:
        """Keep one frame as a live ``send_raw`` would send it: over 15 MiB raises
        :class:`~rxrealtime.errors.EventTooLargeError`, after :meth:`close`
        :class:`~rxrealtime.errors.ConnectionClosedOK`."""
        size = check_frame_size(data)
        if self._stopped:
            raise ConnectionClosedOK(1000, "the replay session is closed")
        self.sent_frames.append(data)
        if isinstance(data, str):
            try:
                value = orjson.loads(data)
            except orjson.JSONDecodeError:
                value = None
            if isinstance(value, dict):
                self.sent.append(value)
        self._hub.count_sent(size)

    # -- close ---------------------------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Stop the replay and complete every consumer; idempotent. Sending raises from now
        on."""
        if self._stopped:
            return
        self._stopped = True
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.dispose()
        self._pending.clear()
        self._end(ConnectionClosedOK(code, reason))

    async def wait_closed(self) -> None:
        """Start the replay if no consumer did, and wait until it has ended (end of the
        recording, an I/O error, or :meth:`close`); never raises the end's error."""
        self.start()
        await self._ended.wait()


def _schedule_call(scheduler: abc.SchedulerBase, callback: Callable[[], None]) -> None:
    scheduler.schedule(lambda _scheduler, _state: callback())


def replay_session(
    path: str | os.PathLike[str],
    speed: float | None = None,
    *,
    scheduler: abc.SchedulerBase | None = None,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
) -> ReplaySession:
    """Same as ``ReplaySession(path, speed, scheduler=scheduler, buffer_size=buffer_size)``."""
    return ReplaySession(path, speed, scheduler=scheduler, buffer_size=buffer_size)
