"""Events of many sessions in one stream: what a consumer group delivers, and how to split it.

:func:`rxrealtime.sources.redis_group` emits :class:`SessionEvent` (one server event of one
session) and :class:`SessionEnd` (that session's stream ended). :func:`by_session` splits such
a stream into one ``Observable[ServerEvent]`` per session, so every operator applies to each
session unchanged::

    group.pipe(by_session()).subscribe(
        lambda session: session.events.pipe(ops.usage()).subscribe(print)
    )

:func:`entry_items` turns one stream entry (the fields of :mod:`.redis_layout`) into items;
it never raises on content: an entry without records, or a record that does not parse, becomes
an ``InvalidEvent`` in a :class:`SessionEvent`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import attrs
import reactivex
from reactivex import Observable, abc
from reactivex.subject import Subject

from rxrealtime import events as ev
from rxrealtime.recording import Record, read_records
from rxrealtime.sources.redis_layout import FIELD_RECORDS, FIELD_SESSION, SESSION_FIELD_PREFIX

__all__ = [
    "SessionEnd",
    "SessionEvent",
    "SessionItem",
    "SessionStream",
    "by_session",
    "entry_items",
]


@attrs.frozen
class SessionEvent:
    """One event of one session, as a group reader got it."""

    session_id: str
    event: ev.ServerEvent
    """The decoded frame (``ev.decode``: the same event the session got)."""
    ts: float | None
    """Unix time at which the session received (or sent) the frame."""
    entry_id: str
    """The id of the stream entry that carried it."""
    direction: str = "in"
    """``"in"`` (server event) or ``"out"`` (a client event, decoded as a server frame)."""


@attrs.frozen
class SessionEnd:
    """A session's stream ended (the recording format's ``"end"`` record)."""

    session_id: str
    reason: str
    """``"completed"``, ``"closed"`` or ``"error"``."""
    error: str | None
    ts: float | None
    entry_id: str


SessionItem = SessionEvent | SessionEnd


@attrs.frozen
class SessionStream:
    """One session split out of a group stream by :func:`by_session`."""

    session_id: str
    events: Observable[ev.ServerEvent]
    """Hot: the session's events from the moment it was first seen; completes at its end."""


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def entry_items(
    entry_id: str,
    fields: Mapping[bytes, bytes],
    directions: Collection[str] = ("in",),
    session_id: str | None = None,
) -> list[SessionItem]:
    """The items one stream entry carries, in order (``"end"`` records as :class:`SessionEnd`;
    other directions than ``directions`` and unknown record kinds skipped).

    A session stream's entry (``records``) is ``session_id``'s (else its ``session`` field's);
    a group entry holds one ``s:SID`` field per session (see :mod:`.redis_layout`)."""
    items: list[SessionItem] = []
    data = fields.get(FIELD_RECORDS)
    if data is None:
        for key, value in fields.items():
            if key.startswith(SESSION_FIELD_PREFIX) and isinstance(value, bytes):
                session = _text(key[len(SESSION_FIELD_PREFIX) :])
                _extend(items, value, session, entry_id, directions)
        if items or any(key.startswith(SESSION_FIELD_PREFIX) for key in fields):
            return items
    raw_session = fields.get(FIELD_SESSION)
    session = session_id or (_text(raw_session) if raw_session is not None else "?")
    if not isinstance(data, bytes):
        shown = {_text(key): _text(value) for key, value in fields.items()}
        invalid = ev.InvalidEvent(raw=shown, error=f"stream entry {entry_id} has no records")
        return [SessionEvent(session, invalid, None, entry_id)]
    _extend(items, data, session, entry_id, directions)
    return items


def _extend(
    items: list[SessionItem],
    data: bytes,
    session: str,
    entry_id: str,
    directions: Collection[str],
) -> None:
    for record in read_records(data.split(b"\n")):
        items.extend(_items(record, session, entry_id, directions))


def _items(
    record: Record, session: str, entry_id: str, directions: Collection[str]
) -> list[SessionItem]:
    if record.dir == "end":
        reason = record.fields.get("reason")
        error = record.fields.get("error")
        return [
            SessionEnd(
                session,
                reason if isinstance(reason, str) else "completed",
                error if isinstance(error, str) else None,
                record.ts,
                entry_id,
            )
        ]
    if record.dir in directions:
        return [SessionEvent(session, record.decode(), record.ts, entry_id, record.dir)]
    return []


def by_session() -> Callable[[Observable[SessionItem]], Observable[SessionStream]]:
    """Split a group stream into one :class:`SessionStream` per session.

    ::

        --a1--b1--a2--end(a)--b2--|
        --A---B---------------------|     A.events: --a1--a2--|   B.events: --b1--b2--|

    A session is emitted when its first item arrives (a session whose first item is its end
    is emitted with an empty stream). Its ``events`` is hot and delivers synchronously, on the
    thread that delivered the item: subscribe in the ``on_next`` that receives it to see every
    event. It completes at the session's :class:`SessionEnd`, or when the source completes;
    the source's error errors every open session and the output. Per subscription, state is
    kept only for sessions that have not ended.
    """

    def operator(source: Observable[SessionItem]) -> Observable[SessionStream]:
        def subscribe(
            observer: abc.ObserverBase[SessionStream], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            open_sessions: dict[str, Subject[ev.ServerEvent]] = {}

            def on_next(item: SessionItem) -> None:
                subject = open_sessions.get(item.session_id)
                if isinstance(item, SessionEnd):
                    if subject is None:
                        observer.on_next(SessionStream(item.session_id, reactivex.empty()))
                    else:
                        del open_sessions[item.session_id]
                        subject.on_completed()
                    return
                if subject is None:
                    subject = open_sessions[item.session_id] = Subject()
                    observer.on_next(SessionStream(item.session_id, subject))
                subject.on_next(item.event)

            def on_error(error: Exception) -> None:
                for subject in list(open_sessions.values()):
                    subject.on_error(error)
                open_sessions.clear()
                observer.on_error(error)

            def on_completed() -> None:
                for subject in list(open_sessions.values()):
                    subject.on_completed()
                open_sessions.clear()
                observer.on_completed()

            return source.subscribe(on_next, on_error, on_completed, scheduler=scheduler)

        return Observable(subscribe)

    return operator
