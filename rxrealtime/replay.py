"""Replay: recordings back into the same typed ``Observable[ServerEvent]`` a live session gives.

Two input formats are read, line by line, and may even be mixed:

* the :class:`~rxrealtime.sinks.Recorder`'s format (a header line, then
  ``{"t", "ts", "dir", "event" | "raw" | "raw_base64"}`` records; see
  :mod:`rxrealtime.sinks._recorder`): ``"in"`` records are server events, ``"out"`` records
  client events, ``"end"`` records how the stream ended;
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
the scheduler's clock, so there is no drift over long recordings.

Scheduler: ``scheduler=`` wins, then the one given to ``subscribe``, then the running loop's
:class:`~rxrealtime.scheduling.LoopScheduler`, then (no loop running) the current thread's
trampoline (which *sleeps* the thread between timed records). Every ``on_next`` runs on that
scheduler. Each subscription re-reads the file (a replay is cold); disposing it stops reading
and closes the file.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import attrs
import orjson
import reactivex
from reactivex import Observable, abc
from reactivex import operators as rx_ops
from reactivex.disposable import CompositeDisposable, Disposable, SerialDisposable
from reactivex.scheduler import CurrentThreadScheduler
from reactivex.subject import Subject

from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosedOK
from rxrealtime.scheduling import LoopScheduler
from rxrealtime.session import (
    ConversationResource,
    InputAudioBufferResource,
    OutputAudioBufferResource,
    ResponseResource,
    SessionObservable,
    SessionResource,
)
from rxrealtime.sinks._recorder import HEADER_KEY

__all__ = [
    "Record",
    "ReplayIterator",
    "ReplaySession",
    "replay",
    "replay_records",
    "replay_session",
]

_BATCH = 512
"""Records emitted per scheduled action when replaying as fast as possible."""

Direction = str
"""``"in"`` (server → client), ``"out"`` (client → server) or ``"end"`` (end of the stream)."""


@attrs.frozen
class Record:
    """One line of a recording, as :func:`replay_records` yields it.

    ``frame`` is what went over the wire: JSON text (re-serialised for ``"event"`` records, the
    line itself for plain JSONL, the raw text of an invalid frame) or ``bytes`` for a binary
    frame; :meth:`decode` turns it into a server event. ``fields`` is the whole parsed line
    (empty for a plain event line or a line that is not JSON). ``t``/``ts`` are ``None`` when
    the line has no timestamps.
    """

    dir: Direction
    frame: str | bytes
    t: float | None = None
    ts: float | None = None
    line: int = 0
    """1-based line number in the file."""
    fields: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    def decode(self) -> ev.ServerEvent:
        """The server event this frame decodes to (``ev.decode``; never raises)."""
        return ev.decode(self.frame)


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _parse_line(raw: bytes, number: int) -> Record | None:
    """The record on one line; ``None`` for a blank or header line."""
    stripped = raw.strip()
    if not stripped:
        return None
    try:
        text: str | bytes = stripped.decode("utf-8")
    except UnicodeDecodeError:
        text = stripped
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return Record("in", text, line=number)
    if not isinstance(value, dict):
        return Record("in", text, line=number)
    if HEADER_KEY in value:
        return None
    direction = value.get("dir")
    if not isinstance(direction, str):
        return Record("in", text, line=number)  # a plain server event
    frame: str | bytes = text
    if "event" in value:
        frame = orjson.dumps(value["event"]).decode()
    elif isinstance(value.get("raw"), str):
        frame = value["raw"]
    elif isinstance(value.get("raw_base64"), str):
        try:
            frame = base64.b64decode(value["raw_base64"], validate=True)
        except (binascii.Error, ValueError):
            frame = text
    return Record(
        direction, frame, _number(value.get("t")), _number(value.get("ts")), number, value
    )


def _read(file: IO[bytes]) -> Iterator[Record]:
    for number, raw in enumerate(file, start=1):
        record = _parse_line(raw, number)
        if record is not None:
            yield record


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
            self._offset = max(self._offset, (record.t - self._t0) / self._speed)
        return self._offset

    def _upcoming(self) -> Record | None:
        """The next wanted record (kept until emitted); ``None`` at the end of the file."""
        if self._next is None:
            if self._records is None:
                self._file = open(self._source, "rb")  # noqa: SIM115 - closed by close()
                self._records = _read(self._file)
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
            except OSError as error:
                self.close()
                self._observer.on_error(error)
                return
            if record is None:
                self.close()
                self._observer.on_completed()
                return
            elapsed = (self._scheduler.now - self._start).total_seconds()
            wait = self._offset_of(record) - elapsed
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


class _Inbox:
    """An unbounded queue of events for one async consumer (``recv`` or one ``async for``)."""

    def __init__(self) -> None:
        self._items: collections.deque[ev.ServerEvent] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._error: Exception | None = None
        self.subscription: abc.DisposableBase | None = None

    def on_next(self, event: ev.ServerEvent) -> None:
        self._items.append(event)
        self._wake()

    def on_end(self, error: Exception | None = None) -> None:
        self._ended = True
        self._error = error
        self._wake()

    def close(self) -> None:
        """Drop what is queued and end: ``get`` raises ``StopAsyncIteration`` from now on."""
        self._items.clear()
        self.on_end()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> ev.ServerEvent:
        """The next event; ``StopAsyncIteration`` at the end; the stream's error if it failed."""
        while not self._items:
            if self._error is not None:
                raise self._error
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class ReplayIterator(AsyncIterator[ev.ServerEvent]):
    """One consumer's async iterator over a :class:`ReplaySession`; closing it (``aclose()``,
    ``async with``) unsubscribes it."""

    def __init__(self, inbox: _Inbox) -> None:
        self._inbox = inbox

    def __aiter__(self) -> ReplayIterator:
        return self

    async def __anext__(self) -> ev.ServerEvent:
        try:
            return await self._inbox.get()
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        subscription, self._inbox.subscription = self._inbox.subscription, None
        if subscription is not None:
            subscription.dispose()
        self._inbox.close()

    async def __aenter__(self) -> ReplayIterator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class ReplaySession:
    """A session-shaped object driven by a recording, so code written for ``rr.connect()``
    sessions runs unchanged on it.

    It mirrors :class:`~rxrealtime.session.RealtimeSession`'s consumer rules:

    * ``events`` is hot and shared; ``async for event in session`` gives each loop its own
      queue; ``await recv()`` reads one shared queue. Each consumer sees the events from the
      moment it joins. The replay starts when the **first** consumer joins (or at
      :meth:`start`), and its first event is delivered at a later turn of the event loop, so
      every consumer that joins in the same synchronous block sees the whole recording (a live
      session keeps a backlog for its first consumers in the same way).
    * At the end of the recording every consumer completes: ``async for`` stops and ``recv()``
      raises :class:`~rxrealtime.errors.ConnectionClosedOK`. (A recording of a failed session
      replays as a completed one; its ``"end"`` record, read with :func:`replay_records`, says
      how it ended.) An I/O error reading the file errors ``events`` and is raised by
      ``recv()``/``async for``.
    * ``await send(event)`` validates and encodes exactly like a live send (``ev.encode``) and
      appends the wire dict to :attr:`sent`; it does **not** steer the replay: the recorded
      server events come whatever is sent. The typed helpers (``session.response.create()``,
      ``session.conversation.item.create(...)``, …) are the live session's and go through it.
      After :meth:`close` sending raises ``ConnectionClosedOK``.
    * ``await close()`` (also leaving ``async with``) stops the replay and completes every
      consumer; idempotent.

    Queues are unbounded (a recording is finite). ``path``, ``speed`` and ``scheduler`` are
    :func:`replay`'s; the file is checked at construction. Use it from async code on one loop
    (everything is delivered on that loop's thread) or with a virtual ``scheduler``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        speed: float | None = None,
        *,
        scheduler: abc.SchedulerBase | None = None,
    ) -> None:
        if scheduler is None:
            scheduler = _default_scheduler()
        self.scheduler = scheduler
        """The scheduler the replay runs on (the running loop's ``LoopScheduler`` by default)."""
        self._source = replay(path, speed, scheduler=scheduler)
        self._subject: Subject[ev.ServerEvent] = Subject()
        self._subscription: abc.DisposableBase | None = None
        self._recv_inbox: _Inbox | None = None
        self._closed = False
        self.sent: list[dict[str, Any]] = []
        """Every client event given to :meth:`send`, as wire dicts, in order."""
        self.events: Observable[ev.ServerEvent] = SessionObservable(
            self._subscribe_events, scheduler
        )
        self.session = SessionResource(self)
        self.response = ResponseResource(self)
        self.conversation = ConversationResource(self)
        self.input_audio_buffer = InputAudioBufferResource(self)
        self.output_audio_buffer = OutputAudioBufferResource(self)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def start(self) -> None:
        """Start the replay now (idempotent); normally the first consumer starts it."""
        if self._subscription is None and not self._closed:
            self._subscription = self._source.subscribe(self._subject)

    async def send(self, event: ev.ClientEvent | Mapping[str, Any]) -> None:
        """Encode ``event`` as a live session would and keep it in :attr:`sent`."""
        await self._send_frame("", ev.encode(event))

    async def _send_frame(self, kind: str, frame: str) -> None:
        """Keep an encoded client event (the typed helpers' fast path) in :attr:`sent`."""
        if self._closed:
            raise ConnectionClosedOK(1000, "the replay session is closed")
        self.sent.append(orjson.loads(frame))

    def _join(self) -> _Inbox:
        inbox = _Inbox()
        inbox.subscription = self._subject.subscribe(inbox.on_next, inbox.on_end, inbox.on_end)
        self.start()
        return inbox

    async def recv(self) -> ev.ServerEvent:
        """The next event not yet returned by ``recv()``; ``ConnectionClosedOK`` at the end."""
        if self._recv_inbox is None:
            self._recv_inbox = self._join()
        try:
            return await self._recv_inbox.get()
        except StopAsyncIteration:
            raise ConnectionClosedOK(1000, "end of recording") from None

    def iterate(self, **_options: Any) -> ReplayIterator:
        """An async iterator over every event from now on (``async for e in session`` uses one).

        Accepts and ignores the live session's ``maxsize``/``overflow`` options: the queue is
        unbounded.
        """
        return ReplayIterator(self._join())

    def __aiter__(self) -> ReplayIterator:
        return self.iterate()

    async def close(self) -> None:
        """Stop the replay and complete every consumer; idempotent."""
        if self._closed:
            return
        self._closed = True
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.dispose()
        self._subject.on_completed()

    async def __aenter__(self) -> ReplaySession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _subscribe_events(
        self, observer: abc.ObserverBase[ev.ServerEvent], _: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        subscription = self._subject.subscribe(observer)
        self.start()
        return subscription


def replay_session(
    path: str | os.PathLike[str],
    speed: float | None = None,
    *,
    scheduler: abc.SchedulerBase | None = None,
) -> ReplaySession:
    """Same as ``ReplaySession(path, speed, scheduler=scheduler)``."""
    return ReplaySession(path, speed, scheduler=scheduler)
