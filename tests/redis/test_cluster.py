"""Redis Cluster, for real: three master nodes (``redis_cluster.LocalCluster``), ``cluster=True``.

What is proven: every key of a session hashes to one slot (``CLUSTER KEYSLOT``) and lives on
the node owning it, sessions spread over every node, a session published through
``connect(recorder=RedisPublisher(..., cluster=True))`` replays exactly as it was lived, a
consumer group over shard streams on several nodes hands every event to exactly one of two
consumers, and the index lists the sessions. Without ``cluster=True`` a URL naming one node does
*not* work: the node answers ``MOVED`` for every key it does not own, which the publisher
counts as refused records (``statistics().errors``, ``last_error`` ``"MovedError: …"``, logged;
the session goes on) and the sources raise as ``redis.exceptions.MovedError``.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
import redis.asyncio as aioredis
from redis.exceptions import MovedError
from redis_cluster import LocalCluster, key_slot
from redis_helpers import KEY, run_session, wait_for

from rxrealtime import events as ev
from rxrealtime.recording import read_records
from rxrealtime.scheduling import to_list
from rxrealtime.server import serve
from rxrealtime.sinks import RedisPublisher
from rxrealtime.sources import SessionEnd, SessionEvent, StreamLayout, redis_group, redis_session
from rxrealtime.sources.redis_layout import open_client

PREFIX = "rxc"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One three-node cluster for the module (tests keep apart with their own prefix)."""
    with LocalCluster.running(tmp_path_factory.mktemp("cluster")) as started:
        yield started


@pytest.fixture
async def cluster_client(cluster: LocalCluster) -> AsyncIterator[aioredis.RedisCluster]:
    client = aioredis.RedisCluster.from_url(cluster.url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def node_clients(cluster: LocalCluster) -> AsyncIterator[list[aioredis.Redis]]:
    """A plain client per node, in node order (each sees only its node's slots)."""
    clients = [aioredis.Redis.from_url(node.url) for node in cluster.nodes]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


def one_session_per_node(cluster: LocalCluster, prefix: str, stem: str) -> list[str]:
    """Session ids, in node order, whose keys live on node 0, 1, 2 respectively."""
    chosen: dict[int, str] = {}
    layout = StreamLayout(prefix)
    for n in range(10_000):
        session_id = f"{stem}{n}"
        chosen.setdefault(cluster.node_of_key(layout.session_stream(session_id)), session_id)
        if len(chosen) == len(cluster.nodes):
            return [chosen[node] for node in range(len(cluster.nodes))]
    raise AssertionError("no session id for some node")  # pragma: no cover


async def test_sessions_through_connect_live_whole_on_their_nodes_and_replay_as_lived(
    cluster: LocalCluster,
    cluster_client: aioredis.RedisCluster,
    node_clients: list[aioredis.Redis],
) -> None:
    prefix = f"{PREFIX}-connect"
    layout = StreamLayout(prefix)
    session_ids = one_session_per_node(cluster, prefix, "call-")
    publishers = [
        RedisPublisher(
            cluster.url, prefix=prefix, session_id=sid, include_audio=True, cluster=True,
            close_timeout=120,
        )
        for sid in session_ids
    ]  # fmt: skip
    async with serve(realtime_audio=False, api_key=KEY) as server:
        lived = await asyncio.gather(
            *(run_session(server.base_url, publisher, turns=2) for publisher in publishers)
        )
        for publisher in publishers:
            await publisher.aclose()
    for publisher in publishers:
        stats = publisher.statistics()
        assert (stats.ended, stats.dropped, stats.errors, stats.buffered) == (True, 0, 0, 0)

    for node, (sid, live, publisher) in enumerate(zip(session_ids, lived, publishers, strict=True)):
        stream, info = layout.session_stream(sid), layout.session_info(sid)
        # one slot for every key of the session, as the server computes it, on its own node
        slots = {
            await node_clients[0].execute_command("CLUSTER KEYSLOT", key) for key in (stream, info)
        }
        assert slots == {key_slot(sid.encode())}
        owner = node_clients[node]
        assert await owner.exists(stream, info) == 2
        for other, client in enumerate(node_clients):
            if other != node:
                with pytest.raises(MovedError):
                    await client.xlen(stream)
        # complete and in order: the stream, read from its own node, holds every record
        entries = await owner.xrange(stream)
        ids = [tuple(map(int, entry_id.split(b"-"))) for entry_id, _ in entries]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        body = b"".join(fields[b"records"] for _, fields in entries)
        records = list(read_records(body.split(b"\n")))
        assert sum(int(fields[b"n"]) for _, fields in entries) == len(records)
        assert records[-1].dir == "end" and records[-1].fields["reason"] == "completed"
        assert [r.dir for r in records].count("out") == 4  # item.create + response.create, x2
        assert KEY.encode() not in body
        # the replay through a cluster client is the very sequence the session saw
        replayed = await to_list(redis_session(cluster.url, sid, prefix=prefix, cluster=True))
        assert replayed == live
        assert any(isinstance(e, ev.ResponseOutputAudioDelta) for e in replayed)
        # the index: every session, with its info hash
        stored = await cluster_client.hgetall(info)
        fields = {key.decode(): value.decode() for key, value in stored.items()}
        assert (fields["id"], fields["status"], fields["reason"]) == (sid, "ended", "completed")
        assert fields["model"] == "gpt-realtime"
        assert int(fields["records"]) == publisher.statistics().published == len(records)
    indexed = await cluster_client.zrange(layout.index(), 0, -1)
    assert sorted(indexed) == sorted(sid.encode() for sid in session_ids)


def _frame(session: str, n: int) -> str:
    return orjson.dumps({"type": "test.event", "event_id": f"{session}-e{n}"}).decode()


async def test_a_group_over_shards_on_several_nodes_delivers_each_event_once(
    cluster: LocalCluster, cluster_client: aioredis.RedisCluster
) -> None:
    prefix, shards, events = f"{PREFIX}-group", 3, 30
    layout = StreamLayout(prefix, shards)
    assert len({cluster.node_of_key(stream) for stream in layout.shard_streams()}) > 1
    session_ids = [
        sid for stem in ("a", "b", "c") for sid in one_session_per_node(cluster, prefix, stem)
    ]
    publishers = [
        RedisPublisher(cluster.url, prefix=prefix, shards=shards, session_id=sid, cluster=True)
        for sid in session_ids
    ]
    got: dict[str, list[object]] = {"c1": [], "c2": []}
    subscriptions = [
        redis_group(
            cluster.url, "workers", name, prefix=prefix, shards=shards, count=5, block=0.2,
            cluster=True,
        ).subscribe(got[name].append)
        for name in got
    ]  # fmt: skip
    try:
        for n in range(events):
            for publisher in publishers:
                publisher.record_in(_frame(publisher.session_id, n))
            await asyncio.sleep(0.002)  # a stream, not one burst
        for publisher in publishers:
            await publisher.aclose()

        def all_ended() -> bool:
            ends = [i for items in got.values() for i in items if isinstance(i, SessionEnd)]
            return len(ends) >= len(session_ids)

        await wait_for(all_ended, limit=120)
        pending = [-1]

        async def check_pending() -> None:
            replies = [await cluster_client.xpending(s, "workers") for s in layout.shard_streams()]
            pending[0] = sum(reply["pending"] for reply in replies)

        await wait_for(lambda: pending[0] == 0, limit=120, refresh=check_pending)
    finally:
        for subscription in subscriptions:
            subscription.dispose()

    counts = collections.Counter(
        item.event.event_id
        for items in got.values()
        for item in items
        if isinstance(item, SessionEvent)
    )
    expected = {f"{sid}-e{n}" for sid in session_ids for n in range(events)}
    assert set(counts) == expected and set(counts.values()) == {1}
    ended = [i.session_id for items in got.values() for i in items if isinstance(i, SessionEnd)]
    assert sorted(ended) == sorted(session_ids)
    # within a session, each consumer got its share in order
    for items in got.values():
        per_session: dict[str, list[int]] = collections.defaultdict(list)
        for item in items:
            if isinstance(item, SessionEvent):
                per_session[item.session_id].append(int(item.event.event_id.rsplit("e", 1)[1]))
        assert all(numbers == sorted(numbers) for numbers in per_session.values())


async def test_a_plain_url_to_one_node_is_refused_with_moved(
    cluster: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """Without ``cluster=True`` nothing follows a ``MOVED`` reply: records for keys of other
    nodes are refused (counted, logged), never raised into the session; sources raise it."""
    prefix = f"{PREFIX}-plain"
    layout = StreamLayout(prefix)
    elsewhere = one_session_per_node(cluster, prefix, "p")[1]  # its keys live on node 1
    node0 = cluster.nodes[0].url
    async with RedisPublisher(node0, prefix=prefix, session_id=elsewhere) as publisher:
        publisher.record_in(_frame(elsewhere, 0))
    stats = publisher.statistics()
    assert stats.ended and stats.published == 0 and stats.errors == 2  # the frame, the end
    assert publisher.last_error is not None and publisher.last_error.startswith("MovedError")
    assert "refused" in caplog.text
    with pytest.raises(MovedError):
        await to_list(redis_session(node0, elsewhere, prefix=prefix, follow=False, retry_for=1))
    # the same URL with cluster=True finds the owner: the client discovers the whole cluster
    async with RedisPublisher(node0, prefix=prefix, session_id=elsewhere, cluster=True) as again:
        again.record_in(_frame(elsewhere, 1))
    assert again.statistics().errors == 0
    replay = await to_list(redis_session(node0, elsewhere, prefix=prefix, cluster=True))
    assert [e.event_id for e in replay] == [f"{elsewhere}-e1"]
    client = open_client(cluster.nodes[1].url)  # the owner serves it to a plain client too
    try:
        assert await client.xlen(layout.session_stream(elsewhere)) == 1
    finally:
        await client.aclose()
