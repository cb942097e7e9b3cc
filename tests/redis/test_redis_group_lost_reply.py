"""A consumer-group read whose reply is lost: a TCP proxy between the reader and a real Redis
forwards the ``XREADGROUP ... >`` command and drops the connection instead of the reply that
hands the reader its entries. Redis has made them the reader's own pending entries by then;
the reader must deliver them at once, not leave them until another consumer claims them."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import redis.asyncio as aioredis
from reactivex import operators as rx_ops
from redis_helpers import RedisServer

from rxrealtime.scheduling import to_list
from rxrealtime.sinks import RedisPublisher
from rxrealtime.sources import SessionEnd, SessionEvent, redis_group

_NEVER = 600.0  # no claim happens while the test runs


class ReplyDroppingProxy:
    """Forwards loopback TCP to Redis; the first reply carrying entries to an ``XREADGROUP``
    of new entries (``>``) is not forwarded: the client's connection is closed instead."""

    def __init__(self, redis_port: int) -> None:
        self.redis_port = redis_port
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def __aenter__(self) -> ReplyDroppingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:  # every pump reads its end of file and returns
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        redis_in, redis_out = await asyncio.open_connection("127.0.0.1", self.redis_port)
        self._writers += [client_out, redis_out]
        last_command = [b""]

        async def upstream() -> None:
            while data := await client_in.read(65536):
                last_command[0] = data
                redis_out.write(data)
                await redis_out.drain()

        async def downstream() -> None:
            while data := await redis_in.read(65536):
                new_entries_read = (
                    b"XREADGROUP" in last_command[0] and b"\r\n>\r\n" in last_command[0]
                )
                if self.dropped == 0 and new_entries_read and not data.startswith(b"*-1"):
                    self.dropped += 1
                    return  # the reply is lost with the connection
                client_out.write(data)
                await client_out.drain()

        pumps = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for writer in (client_out, redis_out):
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
            self._tasks.discard(task)


async def test_entries_of_a_lost_read_reply_are_delivered_without_waiting_for_a_claim(
    redis_server: RedisServer, prefix: str, client: aioredis.Redis
) -> None:
    async with RedisPublisher(redis_server.url, prefix=prefix, session_id="lost") as publisher:
        for n in range(5):
            publisher.record_in(orjson.dumps({"type": "test.event", "event_id": f"e{n}"}).decode())
    async with ReplyDroppingProxy(redis_server.port) as proxy:
        group = redis_group(proxy.url, "g", "c", prefix=prefix, claim_idle=_NEVER)
        async with asyncio.timeout(60):  # generous: without the re-read it waits for a claim
            items = await to_list(group.pipe(rx_ops.take(6)))
    assert proxy.dropped == 1  # the fault did happen
    events = [item for item in items if isinstance(item, SessionEvent)]
    assert [e.event.event_id for e in events] == [f"e{n}" for n in range(5)]  # in order, once
    assert isinstance(items[-1], SessionEnd)
    # the entries were this consumer's pending ones: read from there, not claimed
    consumers = await client.xinfo_consumers(f"{prefix}:all:{{0}}", "g")
    assert [consumer["name"] for consumer in consumers] == [b"c"]
