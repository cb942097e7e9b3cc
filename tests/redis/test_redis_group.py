"""Consumer groups: every event to one worker, at-least-once across a killed worker."""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
from pathlib import Path

import orjson
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


def _frame(session: int, n: int) -> str:
    return orjson.dumps({"type": "test.event", "event_id": f"s{session}-e{n}"}).decode()


def _start_worker(
    server: RedisServer, prefix: str, name: str, log: Path, count: int, die_after: int | None
) -> subprocess.Popen[str]:
    args = [sys.executable, str(WORKER), server.url, prefix, "workers", name, str(log), str(count)]
    if die_after is not None:
        args.append(str(die_after))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, text=True, cwd=WORKER.parent, env=env
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _handled(log: Path) -> list[tuple[str, str]]:
    """``(entry id, event id)`` of every event a worker logged."""
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    return [(line.split()[0], line.split()[2]) for line in lines if line.count(" ") == 2]


async def test_a_killed_worker_loses_nothing_and_acked_events_are_not_redone(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis, tmp_path: Path
) -> None:
    logs = {name: tmp_path / f"{name}.log" for name in ("doomed", "w1", "w2")}
    publishers = [
        RedisPublisher(redis_server.url, prefix=prefix, session_id=f"s{n}") for n in range(SESSIONS)
    ]

    async def publish(events: range) -> None:
        for n in events:
            for number, publisher in enumerate(publishers):
                publisher.record_in(_frame(number, n))
            await asyncio.sleep(0.002)  # a stream, not one burst

    # The doomed worker reads one entry at a time, so everything it logged before the entry it
    # dies in was acknowledged. It is alone for the first half of the stream and dies in it.
    doomed_worker = _start_worker(redis_server, prefix, "doomed", logs["doomed"], 1, 25)
    workers = [doomed_worker]
    try:
        await publish(range(EVENTS // 2))
        await wait_for(lambda: doomed_worker.poll() is not None, limit=60)
        assert doomed_worker.returncode == -9  # it really was killed
        workers += [
            _start_worker(redis_server, prefix, name, logs[name], 20, None) for name in ("w1", "w2")
        ]
        await publish(range(EVENTS // 2, EVENTS))
        for publisher in publishers:
            await publisher.aclose()
        expected = {f"s{s}-e{n}" for s in range(SESSIONS) for n in range(EVENTS)}

        def everything_handled() -> bool:
            seen = {event for log in logs.values() for _, event in _handled(log)}
            return seen >= expected

        await wait_for(everything_handled, limit=60)
        stream = f"{prefix}:all:{{0}}"
        pending = [1]

        async def check_pending() -> None:
            pending[0] = (await client.xpending(stream, "workers"))["pending"]

        await wait_for(lambda: pending[0] == 0, limit=30, refresh=check_pending)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(10)
            if worker.stdout is not None:
                worker.stdout.close()

    doomed = _handled(logs["doomed"])
    assert len(doomed) == 25
    last_entry = doomed[-1][0]
    counts = collections.Counter(event for log in logs.values() for _, event in _handled(log))
    twice = {event for event, count in counts.items() if count > 1}
    # only the events of the entry the worker died in (handled, not acknowledged) came again
    assert twice <= {event for entry, event in doomed if entry == last_entry}
    assert set(counts) == expected


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
        redis_group(redis_server.url, "g", "c2", prefix=prefix, claim_idle=0.2).pipe(
            rx_ops.take(2)
        )
    )
    assert isinstance(items[0], SessionEvent) and isinstance(items[1], SessionEnd)
