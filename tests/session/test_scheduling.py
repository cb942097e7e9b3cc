"""The asyncio<->Rx bridge without a network: scheduler, thread hops, awaiting Observables."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import reactivex
from reactivex import operators as rops
from reactivex.subject import Subject

from rxrealtime.errors import BufferOverflowError
from rxrealtime.scheduling import (
    Backpressure,
    LoopScheduler,
    SequenceContainsNoElementsError,
    first,
    last,
    observe_on_thread,
    to_async_iterable,
    to_list,
)


async def test_scheduler_is_one_per_loop_and_runs_on_the_loop_thread() -> None:
    scheduler = LoopScheduler.current()
    assert scheduler is LoopScheduler.for_loop(asyncio.get_running_loop())
    loop_thread = threading.get_ident()
    seen: list[int] = []
    done = asyncio.Event()

    def action(_: Any, __: Any) -> None:
        seen.append(threading.get_ident())
        if len(seen) == 3:
            done.set()

    scheduler.schedule(action)
    scheduler.schedule_relative(0.01, action)
    # from a foreign thread: still runs on the loop
    worker = threading.Thread(target=lambda: scheduler.schedule_relative(0.005, action))
    worker.start()
    worker.join()
    await asyncio.wait_for(done.wait(), 10)
    assert seen == [loop_thread] * 3


async def test_disposed_items_never_run() -> None:
    scheduler = LoopScheduler.current()
    ran: list[str] = []
    item = scheduler.schedule_relative(0.01, lambda *_: ran.append("late"))
    item.dispose()
    soon = scheduler.schedule(lambda *_: ran.append("soon"))
    soon.dispose()
    marker = asyncio.Event()
    scheduler.schedule_relative(0.03, lambda *_: marker.set())
    await asyncio.wait_for(marker.wait(), 10)
    assert ran == []


async def test_periodic_on_loop() -> None:
    scheduler = LoopScheduler.current()
    ticks: list[int] = []
    done = asyncio.Event()

    def tick(state: Any) -> int:
        ticks.append(threading.get_ident())
        if len(ticks) == 3:
            done.set()
        return int(state or 0) + 1

    handle = scheduler.schedule_periodic(0.005, tick, 0)
    await asyncio.wait_for(done.wait(), 10)
    handle.dispose()
    assert set(ticks) == {threading.get_ident()}


async def test_first_last_to_list() -> None:
    assert await first(reactivex.of(1, 2, 3)) == 1
    assert await last(reactivex.of(1, 2, 3)) == 3
    assert await to_list(reactivex.of(1, 2, 3)) == [1, 2, 3]
    assert await first(reactivex.empty(), default="d") == "d"
    with pytest.raises(SequenceContainsNoElementsError):
        await last(reactivex.empty())
    with pytest.raises(ZeroDivisionError):
        await to_list(reactivex.throw(ZeroDivisionError()))
    # time-based source uses the loop scheduler given at subscribe time
    assert await to_list(reactivex.interval(0.001).pipe(rops.take(3))) == [0, 1, 2]


async def test_first_disposes_and_cancellation_disposes() -> None:
    subject: Subject[int] = Subject()
    task = asyncio.ensure_future(first(subject))
    await asyncio.sleep(0)
    assert len(subject.observers) == 1
    subject.on_next(7)
    assert await task == 7
    assert subject.observers == []
    waiting = asyncio.ensure_future(to_list(subject))
    await asyncio.sleep(0)
    assert len(subject.observers) == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(0)  # disposal runs as the future's done-callback, on the next turn
    assert subject.observers == []


async def test_awaiting_helpers_subscribe_at_call_time_so_hot_values_are_not_missed() -> None:
    # The usual pattern: ask for the answer, send the request, then await. A value pushed by a
    # hot source between the call and the await must not be lost.
    subject: Subject[int] = Subject()
    answer = first(subject)
    everything = to_list(subject)
    final = last(subject)
    assert len(subject.observers) == 3
    subject.on_next(1)
    subject.on_next(2)
    subject.on_completed()
    assert await answer == 1
    assert await everything == [1, 2]
    assert await final == 2
    assert subject.observers == []


async def test_cancelling_first_disposes_its_subscription() -> None:
    subject: Subject[int] = Subject()
    answer = first(subject)
    answer.cancel()
    for _ in range(2):  # cancellation reaches the collecting future, then its subscription
        await asyncio.sleep(0)
    assert subject.observers == []


async def test_values_from_a_foreign_thread_arrive_on_the_loop() -> None:
    subject: Subject[int] = Subject()
    task = asyncio.ensure_future(to_list(subject))
    await asyncio.sleep(0)

    def produce() -> None:
        for i in range(100):
            subject.on_next(i)
        subject.on_completed()

    thread = threading.Thread(target=produce)
    thread.start()
    assert await asyncio.wait_for(task, 5) == list(range(100))
    thread.join()


async def test_to_async_iterable_order_end_and_error() -> None:
    assert [x async for x in to_async_iterable(reactivex.of(1, 2, 3))] == [1, 2, 3]
    subject: Subject[int] = Subject()
    iterator = to_async_iterable(subject)
    subject.on_next(1)
    subject.on_error(KeyError("boom"))
    assert await iterator.__anext__() == 1
    with pytest.raises(KeyError):
        await iterator.__anext__()
    assert subject.observers == []


async def test_to_async_iterable_close_disposes() -> None:
    subject: Subject[int] = Subject()
    async with to_async_iterable(subject) as iterator:
        subject.on_next(5)
        assert await iterator.__anext__() == 5
    assert subject.observers == []


@pytest.mark.parametrize(
    ("overflow", "expected"),
    [("drop_oldest", [3, 4]), ("drop_newest", [0, 1])],
)
async def test_to_async_iterable_drop_policies(overflow: Any, expected: list[int]) -> None:
    subject: Subject[int] = Subject()
    iterator = to_async_iterable(subject, maxsize=2, overflow=overflow)
    for i in range(5):
        subject.on_next(i)
    subject.on_completed()
    assert [x async for x in iterator] == expected


async def test_to_async_iterable_error_policy() -> None:
    subject: Subject[int] = Subject()
    iterator = to_async_iterable(subject, maxsize=1, overflow="error")
    subject.on_next(0)
    with pytest.raises(BufferOverflowError):
        subject.on_next(1)
    assert await iterator.__anext__() == 0
    with pytest.raises(BufferOverflowError):
        await iterator.__anext__()


async def test_block_policy_holds_the_loop_gate_until_drained() -> None:
    gate = Backpressure.for_loop(asyncio.get_running_loop())
    subject: Subject[int] = Subject()
    iterator = to_async_iterable(subject, maxsize=2, overflow="block")
    for i in range(3):
        subject.on_next(i)
    assert gate.blocked  # producers that honour the gate now wait
    waiter = asyncio.ensure_future(gate.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    assert await iterator.__anext__() == 0  # still at maxsize: held
    await asyncio.sleep(0)
    assert not waiter.done()
    assert await iterator.__anext__() == 1  # below maxsize: released
    await asyncio.wait_for(waiter, 10)
    assert not gate.blocked
    await iterator.aclose()
    # a producer that ignores the gate fails at 2 * maxsize
    other = to_async_iterable(subject, maxsize=2, overflow="block")
    for i in range(4):
        subject.on_next(i)
    with pytest.raises(BufferOverflowError):
        subject.on_next(99)
    await other.aclose()
    assert not gate.blocked


async def test_thread_hop_runs_the_sink_on_a_worker_in_order() -> None:
    loop_thread = threading.get_ident()
    seen: list[tuple[int, int]] = []
    completed = threading.Event()
    hop = observe_on_thread(
        lambda v: seen.append((v, threading.get_ident())), on_completed=completed.set
    )
    reactivex.range(100).subscribe(hop)
    await hop.wait_done()
    assert completed.is_set()
    assert [v for v, _ in seen] == list(range(100))
    assert loop_thread not in {t for _, t in seen}
    stats = hop.statistics()
    assert stats.delivered == 100 and stats.done and stats.dropped == 0


class _Stalled:
    """A hop whose sink blocks until ``release`` is set; ``busy`` fires when it first blocks."""

    def __init__(self, overflow: Any, maxsize: int = 2) -> None:
        loop = asyncio.get_running_loop()
        self.release = threading.Event()
        self.busy = asyncio.Event()
        self.seen: list[int] = []

        def slow(value: int) -> None:
            loop.call_soon_threadsafe(self.busy.set)
            self.release.wait(60)  # the test sets it; the bound only keeps a broken test finite
            self.seen.append(value)

        self.hop = observe_on_thread(slow, maxsize=maxsize, overflow=overflow)


async def _stalled_hop(overflow: Any, maxsize: int = 2) -> tuple[Any, threading.Event, list[int]]:
    stalled = _Stalled(overflow, maxsize)
    return stalled.hop, stalled.release, stalled.seen


async def _stalled_after_first(overflow: Any, maxsize: int) -> _Stalled:
    stalled = _Stalled(overflow, maxsize)
    stalled.hop.on_next(0)
    await asyncio.wait_for(stalled.busy.wait(), 5)  # the worker holds 0 and is stuck in the sink
    return stalled


@pytest.mark.parametrize(
    ("overflow", "kept"),
    [("drop_oldest", [0, 3, 4]), ("drop_newest", [0, 1, 2])],
)
async def test_thread_hop_drop_policies(overflow: Any, kept: list[int]) -> None:
    stalled = await _stalled_after_first(overflow, 2)
    hop, release, seen = stalled.hop, stalled.release, stalled.seen
    for i in range(1, 5):
        hop.on_next(i)
    hop.on_completed()
    release.set()
    await hop.wait_done()
    assert seen == kept
    assert hop.statistics().dropped == 2


async def test_thread_hop_error_policy() -> None:
    stalled = await _stalled_after_first("error", 1)
    hop, release, seen = stalled.hop, stalled.release, stalled.seen
    errors: list[Exception] = []
    hop._sink_error = errors.append
    hop.on_next(1)
    with pytest.raises(BufferOverflowError):
        hop.on_next(2)
    hop.on_next(3)  # ignored: the hop has failed
    release.set()
    await hop.wait_done()
    assert seen == [0, 1]
    assert len(errors) == 1 and isinstance(errors[0], BufferOverflowError)


async def test_thread_hop_block_policy_never_blocks_the_loop() -> None:
    hop, release, seen = await _stalled_hop("block", maxsize=2)
    gate = Backpressure.for_loop(asyncio.get_running_loop())
    for i in range(4):
        hop.on_next(i)  # on the loop thread: accepted, gate held, no blocking
    # Had on_next blocked, it could only have returned once the sink was released, and the
    # sink would have seen values by now; it is still stalled on its first one.
    assert seen == [] and not release.is_set()
    assert gate.blocked
    release.set()
    await asyncio.wait_for(gate.wait(), 5)
    hop.on_completed()
    await hop.wait_done()
    assert seen == [0, 1, 2, 3]
    assert not gate.blocked


async def test_thread_hop_block_from_a_plain_thread_really_blocks() -> None:
    hop, release, seen = await _stalled_hop("block", maxsize=1)

    def produce() -> None:
        for i in range(4):
            hop.on_next(i)
        hop.on_completed()

    thread = threading.Thread(target=produce)
    thread.start()
    # the producer cannot finish while the sink is stalled: it blocks on the full buffer
    # (the join returns after its timeout with the thread still alive, whatever the load)
    thread.join(0.05)
    assert thread.is_alive() and seen == []
    release.set()
    await hop.wait_done()
    thread.join(5)
    assert seen == [0, 1, 2, 3]


async def test_thread_hop_sink_error_stops_the_hop(caplog: pytest.LogCaptureFixture) -> None:
    def bad(value: int) -> None:
        if value == 1:
            raise RuntimeError("sink failed")

    hop = observe_on_thread(bad)
    for i in range(3):
        hop.on_next(i)
    await hop.wait_done()
    stats = hop.statistics()
    assert stats.sink_errors == 1 and stats.delivered == 1
    assert "sink raised" in caplog.text


async def test_thread_hop_accepts_an_observer_and_dispose_stops_it() -> None:
    got: list[int] = []
    done = threading.Event()
    sink = reactivex.Observer(got.append, None, done.set)
    hop = observe_on_thread(sink)
    reactivex.of(1, 2).subscribe(hop)
    await hop.wait_done()
    assert got == [1, 2] and done.is_set()
    stopped, release, seen = await _stalled_hop("block", maxsize=10)
    for i in range(3):
        stopped.on_next(i)
    stopped.dispose()
    release.set()
    await stopped.wait_done()
    assert len(seen) <= 1


def test_bad_policy_arguments() -> None:
    with pytest.raises(ValueError, match="overflow"):
        observe_on_thread(print, overflow="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maxsize"):
        observe_on_thread(print, maxsize=0)
