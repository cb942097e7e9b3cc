"""The helper process of :class:`~rxrealtime.sinks.OffloadedRedisPublisher`.

Run as ``python -m rxrealtime.sinks._redis_sidecar`` by the session's process, with pipes for
stdin and stdout; never by hand. It reads batches of messages from stdin (each a length, then a
marshalled list, see :mod:`rxrealtime.sinks._redis_offload`), keeps one
:class:`~rxrealtime.sinks.RedisPublisher` per session, and writes back, ten times a second, each
session's counts, and each session's ``"closed"`` once everything it recorded is written.

Messages in: ``("open", url, options, started_at, secrets)``, ``("secrets", id, secrets)``,
``("wire", id, size)`` (``size`` bytes after the list hold the session's records, as its
publisher recorded them, in the format of :mod:`rxrealtime.sinks._redis_wire`: frames,
``"reconnect"`` and ``"end"``; a ``"line"`` holds its finished record line),
``("close", id, omitted_audio, connections)``.
Messages out: ``("stats", id, counts)``, ``("closed", id, counts)``. At the end of stdin (the
session's process closed it, or died) every open session is closed and the process exits.
The pipe is trusted: it comes from the process that started this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import marshal
import sys
from typing import Any

from rxrealtime.sinks._redis_offload import HEADER, Remote
from rxrealtime.sinks._redis_wire import decode_wire
from rxrealtime.sinks.redis import RedisPublisher

__all__ = ["main"]

log = logging.getLogger("rxrealtime.redis")
_REPORT_EVERY = 0.1


def _counts(publisher: RedisPublisher) -> Remote:
    s = publisher.statistics()
    return (s.published, s.buffered, s.dropped, s.errors, s.retries, publisher.last_error)


class _Helper:
    """The sessions of one session process, published."""

    def __init__(self, out: asyncio.WriteTransport) -> None:
        self._out = out
        self._publishers: dict[str, RedisPublisher] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closing_ids: set[str] = set()

    def _write(self, messages: list[tuple[Any, ...]]) -> None:
        if messages and not self._out.is_closing():
            payload = marshal.dumps(messages)
            self._out.write(HEADER.pack(len(payload)) + payload)

    def handle(self, message: tuple[Any, ...], wire: bytes) -> None:
        """One message; ``wire``: the records that followed a ``"wire"`` message."""
        kind = message[0]
        if kind == "wire":
            self._publishers[message[1]]._adopt_records(decode_wire(wire))
        elif kind == "open":
            _, url, options, started_at, secrets = message
            publisher = RedisPublisher(url, **options, secrets=secrets, scrub_env=False)
            publisher._adopt_start(started_at)
            self._publishers[publisher.session_id] = publisher
        elif kind == "secrets":
            _, session_id, secrets = message
            self._publishers[session_id].add_secrets(secrets)
        elif kind == "close":
            _, session_id, omitted, connections = message
            self._closing_ids.add(session_id)
            task = asyncio.get_running_loop().create_task(
                self._close(session_id, omitted, connections)
            )
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _close(self, session_id: str, omitted: int, connections: int) -> None:
        publisher = self._publishers[session_id]
        publisher._adopt_counts(omitted, connections)
        await publisher.aclose()
        del self._publishers[session_id]
        self._write([("closed", session_id, _counts(publisher))])

    async def report(self) -> None:
        while True:
            await asyncio.sleep(_REPORT_EVERY)
            self._write([("stats", sid, _counts(p)) for sid, p in self._publishers.items()])

    async def finish(self) -> None:
        """stdin ended: close every session still open, and wait for the closes under way."""
        for session_id in [sid for sid in self._publishers if sid not in self._closing_ids]:
            await self._close(session_id, self._publishers[session_id]._encoder.omitted, 0)
        if self._closing:
            await asyncio.gather(*self._closing)


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**31)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    helper = _Helper(out)
    reporting = loop.create_task(helper.report())
    try:
        while await _batch(reader, helper):
            pass
        await helper.finish()
    finally:
        reporting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporting
        out.close()


async def _batch(reader: asyncio.StreamReader, helper: _Helper) -> bool:
    """Read and handle one batch; ``False`` at the end of stdin."""
    try:
        header = await reader.readexactly(HEADER.size)
        messages = marshal.loads(await reader.readexactly(HEADER.unpack(header)[0]))
        for message in messages:
            # a "wire" message's records follow it: read them whatever happens next
            wire = await reader.readexactly(message[2]) if message[0] == "wire" else b""
            try:
                helper.handle(message, wire)
            except Exception:  # a bug of ours: logged, the other sessions go on
                log.exception("cannot handle %r", message[:2])
    except asyncio.IncompleteReadError:
        return False
    return True


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="rxrealtime publisher: %(message)s")
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
