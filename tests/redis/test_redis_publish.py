"""Publishing a live session to Redis, and reading it back: order, completeness, replay."""

from __future__ import annotations

import asyncio

import attrs
import orjson
import pytest
import redis.asyncio as aioredis
from reactivex import operators as rx_ops
from redis_helpers import KEY, RedisServer, run_session

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.recording import read_records
from rxrealtime.scheduling import to_list
from rxrealtime.server import serve
from rxrealtime.sinks import RedisPublisher
from rxrealtime.sources import StreamLayout, redis_session

AUDIO = (ev.ResponseOutputAudioDelta,)


def _comparable(event: ev.ServerEvent) -> ev.ServerEvent:
    """Audio deltas travel without payload by default; the rest must be identical."""
    return attrs.evolve(event, delta="") if isinstance(event, AUDIO) else event


async def test_every_event_in_order_and_replay_equals_live(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    async with (
        serve(realtime_audio=False, api_key=KEY) as server,
        RedisPublisher(
            redis_server.url, prefix=prefix, session_id="s1", close_timeout=120
        ) as publisher,
    ):
        live = await run_session(server.base_url, publisher, turns=3)
    stats = publisher.statistics()
    assert stats.ended and stats.buffered == 0 and stats.dropped == 0 and stats.errors == 0

    replayed = await to_list(redis_session(redis_server.url, "s1", prefix=prefix))
    # audio deltas are left out, except each response's first (payload emptied)
    responses = sum(isinstance(e, ev.ResponseCreated) for e in live)
    kept_audio = [e for e in replayed if isinstance(e, AUDIO)]
    assert len(kept_audio) == responses == 3
    assert all(e.delta == "" for e in kept_audio)
    first_audio = {e.response_id: e for e in reversed(live) if isinstance(e, AUDIO)}
    expected = [
        _comparable(e) for e in live if not isinstance(e, AUDIO) or first_audio[e.response_id] is e
    ]
    assert replayed == expected
    assert stats.omitted_audio == sum(isinstance(e, AUDIO) for e in live) - responses

    # every operator works unchanged on the replay
    totals = await to_list(redis_session(redis_server.url, "s1", prefix=prefix).pipe(ops.usage()))
    assert totals[-1].responses == 3

    # the stream holds the recording format, both directions, no secret
    layout = StreamLayout(prefix)
    entries = await client.xrange(layout.session_stream("s1"))
    body = b"".join(fields[b"records"] for _, fields in entries)
    assert KEY.encode() not in body
    records = list(read_records(body.split(b"\n")))
    assert [r.dir for r in records].count("out") == 6  # item.create + response.create, 3 turns
    assert records[-1].dir == "end" and records[-1].fields["reason"] == "completed"
    assert sum(int(fields[b"n"]) for _, fields in entries) == len(records)


async def test_include_audio_publishes_every_delta(redis_server: RedisServer, prefix: str) -> None:
    async with (
        serve(realtime_audio=False, api_key=KEY) as server,
        RedisPublisher(
            redis_server.url, prefix=prefix, session_id="a", include_audio=True
        ) as publisher,
    ):
        live = await run_session(server.base_url, publisher, turns=1)
    replayed = await to_list(redis_session(redis_server.url, "a", prefix=prefix))
    assert replayed == live
    assert publisher.statistics().omitted_audio == 0


async def test_index_describes_the_session(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    async with (
        serve(realtime_audio=False, api_key=KEY) as server,
        RedisPublisher(
            redis_server.url, prefix=prefix, session_id="idx", meta={"tenant": "acme", "k": KEY}
        ) as publisher,
    ):
        await run_session(server.base_url, publisher, turns=1, audio=False)
    layout = StreamLayout(prefix)
    assert await client.zrange(layout.index(), 0, -1) == [b"idx"]
    stored = await client.hgetall(layout.session_info("idx"))
    info = {key.decode(): value.decode() for key, value in stored.items()}
    assert info["id"] == "idx" and info["status"] == "ended" and info["reason"] == "completed"
    assert info["model"] == "gpt-realtime"
    assert float(info["ended_at"]) >= float(info["started_at"])
    assert int(info["records"]) == publisher.statistics().published
    assert orjson.loads(info["meta"]) == {"tenant": "acme", "k": "***"}


async def test_timed_replay_keeps_the_original_spacing(
    redis_server: RedisServer, prefix: str
) -> None:
    async with RedisPublisher(redis_server.url, prefix=prefix, session_id="timed") as publisher:
        for n in range(3):
            publisher.record_in(orjson.dumps({"type": "x.y", "event_id": f"e{n}"}).decode())
            await asyncio.sleep(0.3)
    loop = asyncio.get_running_loop()
    arrivals: list[float] = []
    source = redis_session(redis_server.url, "timed", prefix=prefix, speed=2.0)
    events = await to_list(source.pipe(rx_ops.do_action(lambda _: arrivals.append(loop.time()))))
    assert [e.event_id for e in events] == ["e0", "e1", "e2"]
    # recorded 0.3 s apart, replayed twice as fast: 0.15 s apart (a lower bound only)
    assert arrivals[2] - arrivals[0] >= 0.29
    fast: list[float] = []
    await to_list(
        redis_session(redis_server.url, "timed", prefix=prefix).pipe(
            rx_ops.do_action(lambda _: fast.append(loop.time()))
        )
    )
    assert len(fast) == 3


@pytest.mark.parametrize("bad", ["not-a-session{x}", "", "has space"])
def test_session_ids_must_be_slot_safe(bad: str) -> None:
    """Braces would break the Cluster hash tag that keeps a session's keys in one slot."""
    with pytest.raises(ValueError):
        RedisPublisher(session_id=bad)
    with pytest.raises(ValueError):
        redis_session("redis://127.0.0.1:1", bad)
