"""The consumer fan-out rules, sans-I/O: an :class:`EventHub` fed by hand, no socket, no task.

Most tests run without an event loop at all: ``call_soon`` is a list the test drains itself,
so "the next turn of the loop" is an explicit step. Only iterators and ``recv()`` (which await)
need a running loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
import reactivex
from reactivex import operators as rops

from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosedError, ConnectionClosedOK
from rxrealtime.session import EventHub

SECRET = "sk-hub-secret-0123456789"


def frame(kind: str, n: int = 0, **fields: Any) -> str:
    return ev.encode({"type": kind, "event_id": f"event_{n}", **fields})  # type: ignore[arg-type]


def cleared(n: int) -> tuple[str, ev.ServerEvent]:
    text = frame("input_audio_buffer.cleared", n)
    return text, ev.decode(text)


class Turns:
    """A hand-driven ``call_soon``: callbacks wait until :meth:`run` (the next loop turn)."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, callback: Callable[[], None]) -> None:
        self.pending.append(callback)

    def run(self) -> None:
        pending, self.pending = self.pending, []
        for callback in pending:
            callback()


class Sink:
    """An Rx subscriber that records everything."""

    def __init__(self) -> None:
        self.events: list[ev.ServerEvent] = []
        self.errors: list[Exception] = []
        self.completed = False

    def subscribe(self, hub: EventHub) -> Any:
        return hub.subscribe(reactivex.Observer(self.events.append, self.errors.append, self.done))

    def done(self) -> None:
        self.completed = True

    def ids(self) -> list[str | None]:
        return [e.event_id for e in self.events]


def make_hub(buffer_size: int = 8) -> tuple[EventHub, Turns]:
    turns = Turns()
    return EventHub(call_soon=turns, buffer_size=buffer_size, secrets=(SECRET,)), turns


def test_the_backlog_goes_to_every_consumer_of_the_first_turn() -> None:
    hub, turns = make_hub()
    for n in range(3):
        hub.receive(*cleared(n))
    assert hub.statistics().buffered == 3
    a, b, late = Sink(), Sink(), Sink()
    a.subscribe(hub)
    b.subscribe(hub)  # the same synchronous block
    assert a.events == [] and len(turns.pending) == 1  # handed over at the next turn, once
    turns.run()
    late.subscribe(hub)  # a later turn: live events only
    hub.receive(*cleared(3))
    assert a.ids() == b.ids() == ["event_0", "event_1", "event_2", "event_3"]
    assert late.ids() == ["event_3"]
    assert hub.statistics().buffered == 0 and hub.statistics().dropped == 0


def test_a_live_event_before_the_hand_over_comes_after_the_backlog() -> None:
    hub, turns = make_hub()
    hub.receive(*cleared(0))
    a = Sink()
    a.subscribe(hub)
    hub.receive(*cleared(1))  # arrives before the scheduled hand-over: the backlog goes first
    turns.run()
    assert a.ids() == ["event_0", "event_1"]


def test_backlog_overflow_drops_the_oldest_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub, turns = make_hub(buffer_size=3)
    for n in range(5):
        hub.receive(*cleared(n))
    stats = hub.statistics()
    assert (stats.buffered, stats.dropped, stats.frames_in) == (3, 2, 5)
    assert "dropped 1 event(s) so far" in caplog.text  # the first drop is logged at once
    a = Sink()
    a.subscribe(hub)
    turns.run()
    assert a.ids() == ["event_2", "event_3", "event_4"]


def test_a_raising_subscriber_is_detached_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub, turns = make_hub()
    calls: list[ev.ServerEvent] = []

    def explode(event: ev.ServerEvent) -> None:
        calls.append(event)
        raise RuntimeError(f"subscriber bug with {SECRET}")

    good = Sink()
    hub.subscribe(reactivex.Observer(explode))
    good.subscribe(hub)
    turns.run()
    for n in range(3):
        hub.receive(*cleared(n))
    stats = hub.statistics()
    assert len(calls) == 1 and good.ids() == ["event_0", "event_1", "event_2"]
    assert stats.subscriber_errors == 1 and stats.subscribers == 1
    assert stats.last_error is not None and "RuntimeError" in stats.last_error
    assert SECRET not in stats.last_error
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None


def test_an_operator_error_without_on_error_is_caught_by_the_guard() -> None:
    hub, turns = make_hub()
    events = reactivex.Observable(hub.subscribe)
    events.pipe(rops.map(lambda _: 1 / 0)).subscribe(lambda _: None)  # reactivex re-raises
    good = Sink()
    good.subscribe(hub)
    turns.run()
    hub.receive(*cleared(0))
    hub.receive(*cleared(1))
    assert good.ids() == ["event_0", "event_1"]
    assert hub.statistics().subscriber_errors == 1


def test_disposing_a_subscription_stops_delivery() -> None:
    hub, turns = make_hub()
    a = Sink()
    subscription = a.subscribe(hub)
    turns.run()
    hub.receive(*cleared(0))
    subscription.dispose()
    hub.receive(*cleared(1))
    assert a.ids() == ["event_0"] and hub.statistics().subscribers == 0


def test_a_normal_end_completes_and_an_error_end_errors_with_the_same_object() -> None:
    hub, turns = make_hub()
    a = Sink()
    a.subscribe(hub)
    turns.run()
    assert hub.end(ConnectionClosedOK(1000, "bye"))
    assert a.completed and a.errors == []
    assert not hub.end(ConnectionClosedError(1006, "late"))  # the first end stays
    stats = hub.statistics()
    assert stats.closed and (stats.close_code, stats.close_reason) == (1000, "bye")

    failing, turns = make_hub()
    b = Sink()
    b.subscribe(failing)
    turns.run()
    error = ConnectionClosedError(1011, "server error")
    failing.end(error)
    assert b.errors == [error] and not b.completed
    assert failing.statistics().last_error == str(error)
    after = Sink()
    after.subscribe(failing)  # joining after the end: the end at once
    assert after.errors == [error]


def test_an_end_before_anyone_listened_comes_after_the_backlog() -> None:
    hub, turns = make_hub()
    hub.receive(*cleared(0))
    hub.end(ConnectionClosedError(1006, "dropped"))
    a = Sink()
    a.subscribe(hub)
    assert a.events == [] and a.errors == []
    turns.run()
    assert a.ids() == ["event_0"] and isinstance(a.errors[0], ConnectionClosedError)


def test_a_subscriber_re_raising_the_end_is_no_news(caplog: pytest.LogCaptureFixture) -> None:
    hub, turns = make_hub()
    hub.subscribe(reactivex.Observer(lambda _: None))  # default on_error re-raises
    turns.run()
    hub.end(ConnectionClosedError(1006, "dropped"))
    assert hub.statistics().subscriber_errors == 0
    assert not [r for r in caplog.records if r.levelno == logging.ERROR]


def test_counters_and_the_error_before_a_close() -> None:
    hub, _ = make_hub()
    seen: list[ev.ServerEvent] = []
    hub.observe = seen.append
    details = {"type": "invalid_request_error", "code": "bad", "message": "m"}
    error = frame("error", 1, error=details)
    hub.receive(error, ev.decode(error))
    assert isinstance(hub.preceding_error, ev.ErrorEvent)
    text = frame("no.such.type", 2, note="é")  # non-ASCII: counted in UTF-8 bytes
    hub.receive(text, ev.decode(text))
    assert hub.preceding_error is None
    hub.receive(b"\x00\x01", ev.decode(b"\x00\x01"))
    hub.count_sent(10)
    hub.count_reconnect()
    hub.publish(ev.decode(frame("input_audio_buffer.cleared", 3)))  # a marker: not a frame
    stats = hub.statistics()
    assert (stats.frames_in, stats.error_events, stats.unknown_events, stats.invalid_events) == (
        3,
        1,
        1,
        1,
    )
    assert stats.bytes_in == len(error) + len(text.encode()) + 2
    assert (stats.frames_out, stats.bytes_out, stats.reconnects) == (1, 10, 1)
    assert [type(e) for e in seen] == [ev.ErrorEvent, ev.UnknownEvent, ev.InvalidEvent]
    assert stats.buffered == 4  # nobody listened: the marker is kept like the frames


def test_joined_is_called_for_every_consumer() -> None:
    hub, _ = make_hub()
    joins: list[int] = []
    hub.joined = lambda: joins.append(1)
    Sink().subscribe(hub)
    Sink().subscribe(hub)
    assert joins == [1, 1]


def test_buffer_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="buffer_size"):
        EventHub(call_soon=Turns(), buffer_size=0)


# -- iterators and recv() await, so these run on a loop -------------------------------------


async def test_iterators_are_bounded_and_block_holds_the_gate() -> None:
    hub = EventHub(call_soon=asyncio.get_running_loop().call_soon, buffer_size=2)
    blocking = hub.iterate()
    dropping = hub.iterate(maxsize=1, overflow="drop_oldest")
    await asyncio.sleep(0)  # the (empty) backlog hand-over
    for n in range(3):
        hub.receive(*cleared(n))
    assert hub.gate.blocked  # the producer must wait now
    assert [(await anext(blocking)).event_id for _ in range(2)] == ["event_0", "event_1"]
    assert not hub.gate.blocked  # below maxsize again
    assert (await anext(dropping)).event_id == "event_2"
    hub.end(ConnectionClosedOK(1000, ""))
    assert [e.event_id async for e in blocking] == ["event_2"]
    assert hub.statistics().dropped == 2 and hub.statistics().iterators == 0


async def test_an_overflowing_error_iterator_is_detached() -> None:
    hub = EventHub(call_soon=asyncio.get_running_loop().call_soon, buffer_size=4)
    strict = hub.iterate(maxsize=1, overflow="error")
    await asyncio.sleep(0)
    hub.receive(*cleared(0))
    hub.receive(*cleared(1))  # overflow: the iterator fails, the hub goes on
    hub.receive(*cleared(2))
    assert (await anext(strict)).event_id == "event_0"
    with pytest.raises(Exception, match="buffer full"):
        await anext(strict)
    stats = hub.statistics()
    assert stats.subscriber_errors == 1 and stats.iterators == 0


async def test_recv_shares_one_queue_and_reports_the_end() -> None:
    hub = EventHub(call_soon=asyncio.get_running_loop().call_soon)
    text, event = cleared(0)
    hub.receive(text, event)
    assert await hub.recv() == event  # the first recv() gets the backlog
    hub.receive(*cleared(1))
    assert await hub.recv_bytes() == frame("input_audio_buffer.cleared", 1).encode()
    hub.end(ConnectionClosedOK(1000, "done"))
    with pytest.raises(ConnectionClosedOK) as info:
        await hub.recv()
    assert info.value.reason == "done"

    failed = EventHub(call_soon=asyncio.get_running_loop().call_soon)
    failed.end(ConnectionClosedError(1006, "dropped"))
    with pytest.raises(ConnectionClosedError):
        await failed.recv()
    with pytest.raises(ConnectionClosedError):  # so does an iterator joining after it
        await anext(failed.iterate())
