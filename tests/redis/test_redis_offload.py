"""``OffloadedRedisPublisher``: the same streams as ``RedisPublisher``, written by a helper process.

Against a real Redis and the embedded server: the session published by the helper reads back
exactly as the in-process publisher's (the same events, in order, and the same index), every
record carries the session process's own times, the counts come back, the helper serves the
sessions that follow one another and stops once idle or when the loop shuts down, and a helper
killed mid-session costs records (counted, logged), never the session.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time

import orjson
import pytest
import redis.asyncio as aioredis
from redis_helpers import KEY, RedisServer, run_session, stored_info, wait_for

from rxrealtime import events as ev
from rxrealtime.recording import read_records
from rxrealtime.scheduling import to_list
from rxrealtime.server import serve
from rxrealtime.sinks import OffloadedRedisPublisher, RedisPublisher, _redis_offload
from rxrealtime.sinks._redis_offload import _Sidecar
from rxrealtime.sources import StreamLayout, redis_session


async def _records(client: aioredis.Redis, prefix: str, session_id: str) -> list[object]:
    entries = await client.xrange(StreamLayout(prefix).session_stream(session_id))
    body = b"".join(fields[b"records"] for _, fields in entries)
    return list(read_records(body.split(b"\n")))


async def test_it_publishes_what_the_in_process_publisher_does(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    before = time.time()
    async with (
        serve(realtime_audio=False, api_key=KEY) as server,
        RedisPublisher(redis_server.url, prefix=prefix, session_id="here") as here,
        OffloadedRedisPublisher(
            redis_server.url, prefix=prefix, session_id="there", meta={"k": KEY}
        ) as there,
    ):
        live = await run_session(server.base_url, [here, there], turns=2)
    after = time.time()

    # the same events, in the same order, read back
    mine = await to_list(redis_session(redis_server.url, "here", prefix=prefix))
    theirs = await to_list(redis_session(redis_server.url, "there", prefix=prefix))
    assert theirs == mine and len(theirs) > 20
    assert sum(isinstance(e, ev.ResponseDone) for e in theirs) == 2
    assert sum(isinstance(e, ev.ResponseOutputAudioDelta) for e in live) > 2

    # the same records (both directions, the end), each timed by the session's process
    records_here = await _records(client, prefix, "here")
    records_there = await _records(client, prefix, "there")
    assert [(r.dir, r.fields.get("event")) for r in records_there] == [  # type: ignore[attr-defined]
        (r.dir, r.fields.get("event"))
        for r in records_here  # type: ignore[attr-defined]
    ]
    assert records_there[-1].dir == "end"  # type: ignore[attr-defined]
    assert records_there[-1].fields["reason"] == "completed"  # type: ignore[attr-defined]
    for a, b in zip(records_here, records_there, strict=True):
        assert abs(a.ts - b.ts) < 1.0  # type: ignore[attr-defined]  # (exactly: the next test)
        assert before <= b.ts <= after  # type: ignore[attr-defined]
    body = orjson.dumps([r.fields for r in records_there])  # type: ignore[attr-defined]
    assert KEY.encode() not in body

    # the index, and the counts
    info_here = await stored_info(client, prefix, "here")
    info_there = await stored_info(client, prefix, "there")
    assert float(info_there["started_at"]) == pytest.approx(there.started_at)
    for key in ("status", "reason", "model", "records", "omitted_audio", "connections", "dropped"):
        assert info_there[key] == info_here[key], key
    assert orjson.loads(info_there["meta"]) == {"k": "***"}
    mine_stats, theirs_stats = here.statistics(), there.statistics()
    assert theirs_stats.published == mine_stats.published == len(records_there)
    assert theirs_stats.frames == mine_stats.frames
    assert theirs_stats.omitted_audio == mine_stats.omitted_audio > 0
    assert theirs_stats.buffered == theirs_stats.dropped == theirs_stats.errors == 0
    assert theirs_stats.ended


async def test_many_sessions_share_one_helper_and_records_keep_their_order(
    redis_server: RedisServer, prefix: str
) -> None:
    publishers = [
        OffloadedRedisPublisher(redis_server.url, prefix=prefix, session_id=f"m{i}")
        for i in range(20)
    ]
    for n in range(50):
        for i, publisher in enumerate(publishers):
            publisher.record_in(f'{{"type":"x.y","event_id":"e{i}-{n}"}}')
        if n % 10 == 0:
            await asyncio.sleep(0.03)
    sidecar = _Sidecar._of_loop[asyncio.get_running_loop()]
    assert all(p._sidecar is sidecar for p in publishers)
    await asyncio.gather(*(p.aclose() for p in publishers))
    for i, publisher in enumerate(publishers):
        events = await to_list(redis_session(redis_server.url, f"m{i}", prefix=prefix))
        assert [e.event_id for e in events] == [f"e{i}-{n}" for n in range(50)]
        stats = publisher.statistics()
        assert stats.published == 51 and stats.frames == 50 and stats.buffered == 0


async def test_records_carry_the_time_they_were_recorded_at(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    async with OffloadedRedisPublisher(redis_server.url, prefix=prefix, session_id="t") as p:
        times = []
        for n in range(3):
            before = time.time()
            p.record_in(f'{{"type":"x.y","event_id":"e{n}"}}')
            times.append((before, time.time()))
            await asyncio.sleep(0.2)  # the helper gets each batch long after it was recorded
    records = await _records(client, prefix, "t")
    assert [r.dir for r in records] == ["in", "in", "in", "end"]  # type: ignore[attr-defined]
    for record, (before, after) in zip(records, times, strict=False):
        assert before - 1e-6 <= record.ts <= after + 1e-6  # type: ignore[attr-defined]
        assert record.t == pytest.approx(record.ts - p.started_at, abs=2e-6)  # type: ignore[attr-defined]


async def test_a_killed_helper_costs_records_not_the_session(
    redis_server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(realtime_audio=False, api_key=KEY) as server:
        publisher = OffloadedRedisPublisher(redis_server.url, prefix=prefix, session_id="k")
        killed = False

        async def kill(turn: int) -> None:
            nonlocal killed
            if turn == 0:
                await wait_for(lambda: publisher.statistics().published > 0)
                sidecar = publisher._sidecar
                assert sidecar is not None and sidecar._process is not None
                os.kill(sidecar._process.pid, signal.SIGKILL)
                await wait_for(lambda: sidecar._dead is not None)
                killed = True

        with caplog.at_level(logging.WARNING, logger="rxrealtime.redis"):
            live = await run_session(server.base_url, publisher, turns=3, between=kill)
            await asyncio.wait_for(publisher.aclose(), 30)
    assert killed and sum(isinstance(e, ev.ResponseDone) for e in live) == 3
    stats = publisher.statistics()
    assert stats.dropped > 0  # everything recorded after the kill
    assert "the Redis publishing process failed" in caplog.text
    assert "records dropped" in caplog.text


async def test_one_helper_serves_sessions_in_turn_then_stops_when_idle(
    redis_server: RedisServer, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_redis_offload, "HELPER_IDLE", 0.5)
    loop = asyncio.get_running_loop()
    helpers = []
    for n in range(2):
        async with OffloadedRedisPublisher(redis_server.url, prefix=prefix) as publisher:
            publisher.record_in(f'{{"type":"x.y","event_id":"e{n}"}}')
            await wait_for(lambda: publisher._sidecar is not None)
            helpers.append(publisher._sidecar)
        assert publisher.statistics().published == 2  # the frame and the end
    sidecar = helpers[0]
    assert sidecar is not None and helpers[1] is sidecar  # the second session reused it
    process = sidecar._process
    assert process is not None and process.returncode is None
    await wait_for(lambda: _Sidecar._of_loop.get(loop) is None)  # idle: stopped
    await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0


_SHUTDOWN = """
import asyncio, sys
from rxrealtime.sinks import OffloadedRedisPublisher
from rxrealtime.sinks import _redis_offload

async def main():
    async with OffloadedRedisPublisher(sys.argv[1], prefix=sys.argv[2]) as publisher:
        publisher.record_in('{"type":"x.y","event_id":"e"}')
    sidecar = publisher._sidecar
    assert sidecar._idle is not None and sidecar._process.returncode is None
    print(sidecar._process.pid, flush=True)
    return sidecar._process

_redis_offload.HELPER_IDLE = 600.0  # only the loop's shutdown can stop it in time
process = asyncio.run(main())
assert process.returncode == 0, process.returncode
print("stopped", flush=True)
"""


async def test_the_loop_shutting_down_stops_an_idle_helper(
    redis_server: RedisServer, prefix: str
) -> None:
    script = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        "-X",
        "dev",
        "-c",
        _SHUTDOWN,
        redis_server.url,
        prefix,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(script.communicate(), 120)
    assert script.returncode == 0, err.decode()
    pid, stopped = out.decode().split()
    assert stopped == "stopped" and int(pid) > 0
    assert "Warning" not in err.decode() and "destroyed" not in err.decode(), err.decode()


async def test_nothing_recorded_nothing_started(redis_server: RedisServer, prefix: str) -> None:
    async with OffloadedRedisPublisher(redis_server.url, prefix=prefix) as publisher:
        pass
    assert publisher._sidecar is None and publisher.statistics().ended
    with pytest.raises(ValueError, match="by url"):
        OffloadedRedisPublisher(client=object())
    with pytest.raises(TypeError):  # meta crosses the pipe as JSON values
        OffloadedRedisPublisher(redis_server.url, meta={"when": object()})
    with pytest.raises(TypeError):  # an argument RedisPublisher does not take
        OffloadedRedisPublisher(redis_server.url, colour="blue")


async def test_events_and_dicts_cross_too_and_what_cannot_is_counted(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    async with OffloadedRedisPublisher(redis_server.url, prefix=prefix, session_id="o") as p:
        p.record_in(ev.decode('{"type":"input_audio_buffer.cleared","event_id":"e1"}'))
        p.record_out({"type": "response.cancel", "event_id": "c1"})
        p.record_in(lambda: None)  # type: ignore[arg-type]  # not a frame, and not picklable
        p.record_in('{"type":"input_audio_buffer.cleared","event_id":"e2"}')
    events = await to_list(redis_session(redis_server.url, "o", prefix=prefix))
    assert [e.event_id for e in events] == ["e1", "e2"]
    records = await _records(client, prefix, "o")
    assert [r.dir for r in records] == ["in", "out", "in", "end"]  # type: ignore[attr-defined]
    assert records[1].fields["event"] == {"type": "response.cancel", "event_id": "c1"}  # type: ignore[attr-defined]
    stats = p.statistics()
    assert stats.errors == 1 and stats.published == 4 and stats.frames == 4
