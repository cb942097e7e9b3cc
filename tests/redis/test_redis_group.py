"""Consumer groups: every event to one worker, at-least-once across a killed worker."""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis
from reactivex import operators as rx_ops
from redis_helpers import RedisServer, wait_for

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.scheduling import to_list
from rxrealtime.sinks import RedisPublisher
from rxrealtime.sources import SessionEnd, SessionEvent, SessionStream, by_session, redis_group

WORKER = Path(__file__).with_name("group_worker.py")
SESSIONS = 12
EVENTS = 60
_NEVER = 600.0  # a claim_idle no test waits for: only the worker meant to claim claims


def _frame(session: int, n: int) -> str:
    return orjson.dumps({"type": "test.event", "event_id": f"s{session}-e{n}"}).decode()


def _start_worker(
    server: RedisServer,
    prefix: str,
    name: str,
    log: Path,
    count: int,
    die_after: int | None = None,
    claim_idle: float = _NEVER,
) -> subprocess.Popen[str]:
    args = [
        sys.executable, str(WORKER), server.url, prefix, "workers", name, str(log), str(count),
        str(claim_idle), str(die_after or 0),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=WORKER.parent, env=env)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _stop(worker: subprocess.Popen[str]) -> None:
    worker.terminate()
    worker.wait(60)
    if worker.stdout is not None:
        worker.stdout.close()


def _handled(log: Path) -> list[tuple[str, str]]:
    """``(entry id, event id)`` of every event a worker logged."""
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    return [(line.split()[0], line.split()[2]) for line in lines if line.count(" ") == 2]


@pytest.mark.timeout(600)  # four worker processes: generous on a loaded machine
async def test_a_killed_worker_loses_nothing_and_acked_events_are_not_redone(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis, tmp_path: Path
) -> None:
    """Claiming is time-based (an entry pending longer than ``claim_idle``), so only a worker
    that is alone claims quickly: with two live workers claiming after 1 s, a worker merely
    slowed down for a second (a loaded machine) would have its unacknowledged entries claimed
    by the other -- at-least-once allows that, but it is not what this test is about."""
    logs = {name: tmp_path / f"{name}.log" for name in ("doomed", "rescuer", "w1", "w2")}
    publishers = [
        RedisPublisher(redis_server.url, prefix=prefix, session_id=f"s{n}") for n in range(SESSIONS)
    ]
    stream = f"{prefix}:all:{{0}}"

    async def publish(events: range) -> None:
        for n in events:
            for number, publisher in enumerate(publishers):
                publisher.record_in(_frame(number, n))
            await asyncio.sleep(0.002)  # a stream, not one burst

    def handled_all(events: range) -> Callable[[], bool]:
        expected = {f"s{s}-e{n}" for s in range(SESSIONS) for n in events}
        return lambda: {event for log in logs.values() for _, event in _handled(log)} >= expected

    pending = [-1]

    async def check_pending() -> None:
        pending[0] = (await client.xpending(stream, "workers"))["pending"]

    # 1. The doomed worker reads one entry at a time, so everything it logged before the entry
    # it dies in was acknowledged. It is alone for the first half of the stream and dies in it.
    workers = [_start_worker(redis_server, prefix, "doomed", logs["doomed"], 1, die_after=25)]
    try:
        await publish(range(EVENTS // 2))
        await wait_for(lambda: workers[0].poll() is not None, limit=120)
        assert workers[0].returncode == -9  # it really was killed
        # 2. A rescuer, alone, claims the dead worker's pending entry and reads the rest.
        rescuer = _start_worker(redis_server, prefix, "rescuer", logs["rescuer"], 20, None, 1.0)
        workers.append(rescuer)
        await wait_for(handled_all(range(EVENTS // 2)), limit=120)
        await wait_for(lambda: pending[0] == 0, limit=120, refresh=check_pending)
        _stop(rescuer)  # nothing pending: it leaves nothing behind
        # 3. Two workers share the second half (each entry to one of them).
        workers += [
            _start_worker(redis_server, prefix, name, logs[name], 20) for name in ("w1", "w2")
        ]
        await publish(range(EVENTS // 2, EVENTS))
        for publisher in publishers:
            await publisher.aclose()
        await wait_for(handled_all(range(EVENTS)), limit=120)
        pending[0] = -1
        await wait_for(lambda: pending[0] == 0, limit=120, refresh=check_pending)
    finally:
        for worker in workers:
            if worker.poll() is None:
                _stop(worker)
            elif worker.stdout is not None:
                worker.stdout.close()

    doomed = _handled(logs["doomed"])
    assert len(doomed) == 25
    last_entry = doomed[-1][0]
    counts = collections.Counter(event for log in logs.values() for _, event in _handled(log))
    twice = {event for event, count in counts.items() if count > 1}
    # only the events of the entry the worker died in (handled, not acknowledged) came again
    assert twice <= {event for entry, event in doomed if entry == last_entry}
    assert set(counts) == {f"s{s}-e{n}" for s in range(SESSIONS) for n in range(EVENTS)}
    second_half = {f"s{s}-e{n}" for s in range(SESSIONS) for n in range(EVENTS // 2, EVENTS)}
    shared = [{e for _, e in _handled(logs[name])} & second_half for name in ("w1", "w2")]
    assert shared[0].isdisjoint(shared[1]) and shared[0] | shared[1] == second_half


async def test_by_session_splits_the_group_so_operators_apply_per_session(
    redis_server: RedisServer, prefix: str
) -> None:
    for number in range(3):
        async with RedisPublisher(redis_server.url, prefix=prefix, session_id=f"p{number}") as pub:
            pub.record_in(_frame(number, 0))
            pub.record_in(
                orjson.dumps(
                    {
                        "type": "response.done",
                        "event_id": f"done{number}",
                        "response": {"id": "r", "usage": {"total_tokens": 10 * (number + 1)}},
                    }
                ).decode()
            )
    items: list[object] = []
    totals: dict[str, list[int]] = collections.defaultdict(list)

    def on_session(session: SessionStream) -> None:
        session.events.pipe(ops.usage()).subscribe(
            lambda usage: totals[session.session_id].append(usage.total_tokens),
            on_completed=lambda: totals[session.session_id].append(-1),
        )

    group = redis_group(redis_server.url, "g", "me", prefix=prefix)
    subscription = group.subscribe(items.append)
    group_split = redis_group(redis_server.url, "g2", "me", prefix=prefix)
    split = group_split.pipe(by_session()).subscribe(on_session)
    try:
        await wait_for(lambda: len(totals) == 3 and all(t[-1] == -1 for t in totals.values()))
        await wait_for(lambda: sum(isinstance(i, SessionEnd) for i in items) == 3)
    finally:
        subscription.dispose()
        split.dispose()
    assert dict(totals) == {"p0": [10, -1], "p1": [20, -1], "p2": [30, -1]}
    events = [i for i in items if isinstance(i, SessionEvent)]
    assert [e.event.event_id for e in events if e.session_id == "p1"] == ["s1-e0", "done1"]
    assert all(isinstance(e.event, ev.UnknownEvent | ev.ResponseDone) for e in events)


async def test_a_failing_subscriber_errors_and_leaves_its_entry_pending(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    async with RedisPublisher(redis_server.url, prefix=prefix, session_id="f") as publisher:
        publisher.record_in(_frame(0, 0))

    def explode(item: object) -> None:
        raise RuntimeError("subscriber bug")

    errors: list[Exception] = []
    group = redis_group(redis_server.url, "g", "c1", prefix=prefix)
    subscription = group.subscribe(explode, errors.append)
    try:
        await wait_for(lambda: bool(errors))
    finally:
        subscription.dispose()
    assert isinstance(errors[0], RuntimeError)
    pending = await client.xpending(f"{prefix}:all:{{0}}", "g")
    assert pending["pending"] == 1  # the entry is not acknowledged: another worker will get it
    # ... and claimed by another consumer once idle long enough
    items = await to_list(
        redis_group(redis_server.url, "g", "c2", prefix=prefix, claim_idle=0.2).pipe(rx_ops.take(2))
    )
    assert isinstance(items[0], SessionEvent) and isinstance(items[1], SessionEnd)


async def test_a_large_round_trip_is_split_over_group_entries_and_nothing_is_lost(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    """One round trip carrying ~1.2 MB of records: several group entries, each session's
    records in order, each record once."""
    publishers = [
        RedisPublisher(redis_server.url, prefix=prefix, session_id=f"big{n}") for n in range(20)
    ]
    pad = "x" * 2000
    for n in range(30):
        for number, publisher in enumerate(publishers):
            publisher.record_in(
                orjson.dumps({"type": "x.big", "event_id": f"{number}-{n}", "pad": pad}).decode()
            )
    for publisher in publishers:
        await publisher.aclose()
    entries = await client.xrange(f"{prefix}:all:{{0}}")
    sizes = [sum(len(value) for value in fields.values()) for _, fields in entries]
    sessions_per_entry = [sum(key.startswith(b"s:") for key in fields) for _, fields in entries]
    assert max(sessions_per_entry) > 1  # one entry carries several sessions' records ...
    assert sum(size > 200_000 for size in sizes) > 1  # ... and a large round trip is split
    assert max(sizes) < 400_000
    items = await to_list(
        redis_group(redis_server.url, "g", "c", prefix=prefix).pipe(rx_ops.take(20 * 31))
    )
    seen = collections.defaultdict(list)
    for item in items:
        if isinstance(item, SessionEvent):
            seen[item.session_id].append(item.event.event_id)
    assert {sid: ids for sid, ids in seen.items()} == {
        f"big{s}": [f"{s}-{n}" for n in range(30)] for s in range(20)
    }
