"""Redis going away: a restart mid-session, a full buffer, a Redis that never answers; and
entries in a stream that the publisher did not write."""

from __future__ import annotations

import logging

import orjson
import pytest
import redis.asyncio as aioredis
from reactivex import operators as rx_ops
from redis_helpers import KEY, RedisServer, free_port, run_session, wait_for

from rxrealtime import events as ev
from rxrealtime.scheduling import to_list
from rxrealtime.server import serve
from rxrealtime.sinks import RedisPublisher
from rxrealtime.sources import SessionEvent, StreamLayout, redis_group, redis_session


def _frame(n: int) -> str:
    return orjson.dumps({"type": "test.event", "event_id": f"e{n}"}).decode()


async def test_a_restart_mid_session_loses_nothing(own_redis: RedisServer, prefix: str) -> None:
    publisher = RedisPublisher(own_redis.url, prefix=prefix, session_id="r", max_backoff=0.1)
    async with publisher:
        for n in range(100):
            publisher.record_in(_frame(n))
        await wait_for(lambda: publisher.statistics().published == 100)
        own_redis.stop()
        for n in range(100, 200):  # published while Redis is down: buffered
            publisher.record_in(_frame(n))
        await wait_for(lambda: publisher.statistics().retries > 0)
        own_redis.start()  # same port, its data back from the append-only file
        for n in range(200, 300):
            publisher.record_in(_frame(n))
        await wait_for(lambda: publisher.statistics().published == 300)
    stats = publisher.statistics()
    assert stats.dropped == 0 and stats.errors == 0 and stats.buffered == 0
    events = await to_list(redis_session(own_redis.url, "r", prefix=prefix))
    assert [e.event_id for e in events] == [f"e{n}" for n in range(300)]  # in order, once each


async def test_a_session_runs_normally_while_redis_is_down_and_drops_are_counted(
    caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    caplog.set_level(logging.WARNING, "rxrealtime.redis")
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    publisher = RedisPublisher(
        dead, prefix=prefix, buffer_size=20, max_backoff=0.05, close_timeout=0.5
    )
    async with serve(realtime_audio=False, api_key=KEY) as server:
        events = await run_session(server.base_url, publisher, turns=2)
        await publisher.aclose()
    assert any(isinstance(e, ev.ResponseDone) for e in events)  # the session went on as usual
    stats = publisher.statistics()
    assert stats.published == 0 and stats.buffered == 0
    assert stats.dropped > 0 and stats.retries > 0  # nothing ever got through
    messages = [r.getMessage() for r in caplog.records]
    assert any("Redis unavailable" in m for m in messages)
    assert any("records dropped" in m for m in messages)
    assert any("did not take the last" in m for m in messages)


async def test_a_full_buffer_drops_the_oldest_and_keeps_the_end(
    own_redis: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "rxrealtime.redis")
    own_redis.stop()
    publisher = RedisPublisher(
        own_redis.url, prefix=prefix, session_id="full", buffer_size=10, max_backoff=0.05
    )
    async with publisher:
        for n in range(50):
            publisher.record_in(_frame(n))
        await wait_for(lambda: publisher.statistics().dropped >= 40)
        own_redis.start()
    stats = publisher.statistics()
    # 50 frames + the end record into a buffer of 10: the 41 oldest frames are gone
    assert stats.dropped == 41 and stats.published == 10 and stats.buffered == 0
    events = await to_list(redis_session(own_redis.url, "full", prefix=prefix, follow=True))
    assert [e.event_id for e in events] == [f"e{n}" for n in range(41, 50)]  # then the end
    assert any("oldest dropped first" in r.getMessage() for r in caplog.records)


async def test_entries_the_publisher_did_not_write_become_invalid_events(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    layout = StreamLayout(prefix)
    stream = layout.session_stream("bad")
    event = {"type": "x.y", "event_id": "ok"}
    good = orjson.dumps({"t": 0, "ts": 1.0, "dir": "in", "event": event})
    await client.xadd(stream, {"something": "else"})
    await client.xadd(stream, {"records": b"not json at all\n" + good + b"\n"})
    await client.xadd(stream, {"records": b"\xff\xfe binary\n"})
    events = await to_list(redis_session(redis_server.url, "bad", prefix=prefix, follow=False))
    assert [type(e) for e in events] == [
        ev.InvalidEvent,
        ev.InvalidEvent,
        ev.UnknownEvent,
        ev.InvalidEvent,
    ]
    assert events[2].event_id == "ok"
    assert "no records" in events[0].error

    shard = layout.shard_stream(0)
    await client.xadd(shard, {"session": "bad", "n": "1"})
    await client.xadd(shard, {"session": "bad", "records": good + b"\n"})
    items = await to_list(
        redis_group(redis_server.url, "g", "c", prefix=prefix).pipe(rx_ops.take(2))
    )
    assert all(isinstance(i, SessionEvent) and i.session_id == "bad" for i in items)
    assert isinstance(items[0].event, ev.InvalidEvent)  # type: ignore[union-attr]
    assert items[1].event.event_id == "ok"  # type: ignore[union-attr]
    assert (await client.xpending(shard, "g"))["pending"] == 0  # both acknowledged


async def test_an_entry_redis_refuses_is_counted_and_the_others_are_written(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    """Error replies in a round trip shared by several publishers (one entry each, the usual
    round trip after the first): only the refused entries are lost, counted as errors."""
    layout = StreamLayout(prefix)
    await client.set(layout.session_stream("bad"), "not a stream")  # every XADD: WRONGTYPE
    good = RedisPublisher(redis_server.url, prefix=prefix, session_id="good")
    bad = RedisPublisher(redis_server.url, prefix=prefix, session_id="bad")
    for n in range(5):  # one round trip each
        good.record_in(_frame(n))
        bad.record_in(_frame(n))

        def settled(count: int = n + 1) -> bool:
            return good.statistics().published == count and bad.statistics().errors == count

        await wait_for(settled)
    await good.aclose()
    await bad.aclose()
    assert good.statistics().errors == 0 and good.statistics().published == 6  # and its end
    assert bad.statistics().published == 0 and bad.statistics().buffered == 0
    assert bad.last_error is not None and "WRONGTYPE" in bad.last_error
    events = await to_list(redis_session(redis_server.url, "good", prefix=prefix))
    assert [e.event_id for e in events] == [f"e{n}" for n in range(5)]
