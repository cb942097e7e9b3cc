"""Fixtures: a real ``redis-server`` (see ``redis_helpers.RedisServer``), a prefix, a client.

Nothing here skips: without a server binary the tests fail, saying how to get one.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis_helpers import RedisServer

# the scripted WebSocket server of tests/hostile (hostile_peer) serves some sessions here too
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hostile"))


@pytest.fixture(scope="session")
def shared_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One server for the whole test session (tests keep apart with their own key prefix)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(shared_redis_server: RedisServer) -> Iterator[RedisServer]:
    """The shared server, alive: one that died in an earlier test is started again (on its
    port), so a crash fails the test it happened in and no other. A test during which it dies
    errors in teardown with the end of the server's log."""
    server = shared_redis_server
    if not server.alive():
        server.stop()
        server.start()
    yield server
    if not server.alive():
        pytest.fail(f"redis-server died during this test: {server.log_tail()}")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of the test's own, which it may stop and restart (persistent data)."""
    server = RedisServer(tmp_path, persist=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis.from_url(redis_server.url)
    try:
        yield connection
    finally:
        await connection.aclose()
