"""The fast receive path (``rxrealtime._delivery``): messages pushed from the socket's data
callback, frames split by the transport's own scanner.

A raw TCP peer answers the upgrade itself and then writes exactly the bytes a test wants, in
the writes it wants (the 101 response and the first frames in one write, frames cut at every
byte, masked or reserved-bit frames, fragments, pings between messages), so every framing edge
the scanner meets is met here for real, over loopback, through ``rr.connect``. What must hold
on this path is what held on the ``recv()`` path: every message is exactly one event, in order;
websockets' own protocol refuses what it always refused, with its close codes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime._delivery import PushConnection
from rxrealtime.errors import ConnectionClosedError, MessageTooBigError
from rxrealtime.transport import TransportClosed, WebSocketTransport, open_websocket, prepare

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455


def frame(
    payload: bytes | str, *, opcode: int = 1, fin: bool = True, rsv: int = 0, mask: bool = False
) -> bytes:
    """One WebSocket frame as the wire carries it (``mask`` as a client would send it)."""
    data = payload.encode() if isinstance(payload, str) else payload
    head1 = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(data)
    bit = 0x80 if mask else 0
    if length < 126:
        head = struct.pack("!BB", head1, bit | length)
    elif length < 65536:
        head = struct.pack("!BBH", head1, bit | 126, length)
    else:
        head = struct.pack("!BBQ", head1, bit | 127, length)
    if mask:
        key = b"\x01\x02\x03\x04"
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(data))
    return head + data


def event(n: int, pad: int = 0) -> str:
    return orjson.dumps({"type": "x.n", "event_id": str(n), "pad": "a" * pad}).decode()


def close_frame(code: int, reason: str = "") -> bytes:
    return frame(struct.pack("!H", code) + reason.encode(), opcode=8)


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[None]]


@asynccontextmanager
async def raw_peer(script: Script) -> AsyncIterator[str]:
    """A TCP server that answers the upgrade, then runs ``script(reader, writer, accept)``:
    the 101 response is *not* written yet, so the script can send it with the first frames."""
    tasks: list[asyncio.Task[None]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        response = (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        try:
            await script(reader, writer, response)
        finally:
            writer.close()

    def start(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.append(asyncio.ensure_future(handle(reader, writer)))

    server = await asyncio.start_server(start, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def read_client_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One (masked) frame the client sent: (opcode, payload)."""
    head1, head2 = await reader.readexactly(2)
    length = head2 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    key = await reader.readexactly(4)
    data = await reader.readexactly(length)
    return head1 & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data))


async def collect(
    base_url: str, **options: Any
) -> tuple[list[ev.ServerEvent], BaseException | None, rr.RealtimeSession]:
    """Every event of a session until it ends, and how it ended."""
    seen: list[ev.ServerEvent] = []
    ended: list[BaseException | None] = []
    done = asyncio.Event()
    session = await rr.connect(base_url=base_url, **options)
    assert isinstance(session._transport, WebSocketTransport)  # the fast path is in use
    assert isinstance(session._transport.connection, PushConnection)

    def end(error: BaseException | None = None) -> None:
        ended.append(error)
        done.set()

    session.events.subscribe(seen.append, on_error=end, on_completed=end)
    async with asyncio.timeout(30):
        await done.wait()
    await session.close()
    return seen, ended[0], session


async def finish(reader: asyncio.StreamReader) -> None:
    """Read what the client sends until its close frame (or EOF): the peer closes the TCP
    connection right after, so no test waits for a close timeout."""
    while True:
        try:
            opcode, _ = await read_client_frame(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        if opcode == 8:
            return


def ids(events: list[ev.ServerEvent]) -> list[str | None]:
    return [e.event_id for e in events]


async def test_frames_in_the_handshake_write_and_cut_at_every_byte() -> None:
    first = [event(n) for n in range(3)]
    rest = [event(n, pad=n * 40) for n in range(3, 40)] + [event(40, pad=70000)]

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
    ) -> None:
        writer.write(response + b"".join(frame(f) for f in first))  # one write
        await writer.drain()
        stream = b"".join(frame(f) for f in rest)
        for i in range(0, 4000):  # the start, one byte per write
            writer.write(stream[i : i + 1])
            await writer.drain()
            if i % 97 == 0:
                await asyncio.sleep(0)
        writer.write(stream[4000:])
        await writer.drain()
        assert await read_client_frame(reader) == (1, b"seen")  # the client saw every event
        writer.write(close_frame(1000))
        await writer.drain()
        await finish(reader)

    async with raw_peer(script) as url:
        session = await rr.connect(base_url=url)
        connection = session._transport.connection  # type: ignore[attr-defined]
        seen: list[ev.ServerEvent] = []
        modes: list[str] = []
        last = asyncio.Event()

        def on_event(event: ev.ServerEvent) -> None:
            seen.append(event)
            modes.append(connection._scan)  # who split this frame: the transport's scanner
            if event.event_id == "40":
                last.set()

        session.events.subscribe(on_event)
        async with asyncio.timeout(30):
            await last.wait()
            await session.send_raw("seen")  # only now does the peer send its close
            await session.wait_closed()
    assert session.close_code == 1000
    assert ids(seen) == [str(n) for n in range(41)]
    assert all(type(e) is ev.UnknownEvent for e in seen)
    assert session.statistics().frames_in == 41
    assert set(modes) == {"scanning"}  # every frame was split by the scanner


async def test_fragments_pings_and_binary_frames_are_each_one_message() -> None:
    text = event(1, pad=300)
    binary = event(3).encode()

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
    ) -> None:
        writer.write(response)
        writer.write(frame(event(0)))
        writer.write(frame(b"ping!", opcode=9))
        writer.write(frame(text[:10], fin=False))  # a fragmented text message ...
        writer.write(frame(b"p2", opcode=9))  # ... with a ping between its fragments
        writer.write(frame(text[10:200], opcode=0, fin=False))
        writer.write(frame(text[200:], opcode=0))
        writer.write(frame(event(2)))  # after a fragmented message, still one event each
        writer.write(frame(binary, opcode=2))
        writer.write(close_frame(1000, "bye"))
        await writer.drain()
        pongs = [await read_client_frame(reader) for _ in range(2)]
        assert pongs == [(10, b"ping!"), (10, b"p2")]
        await finish(reader)

    async with raw_peer(script) as url:
        seen, error, session = await collect(url)
    assert error is None and session.close_code == 1000
    assert ids(seen) == ["0", "1", "2", "3"]
    assert seen[1].raw["pad"] == "a" * 300  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        pytest.param(frame(event(9), mask=True), 1002, id="masked"),
        pytest.param(frame(event(9), rsv=4), 1002, id="reserved-bit"),
        pytest.param(frame(b"", opcode=3), 1002, id="reserved-opcode"),
        pytest.param(frame(b"\xff\xfe", opcode=1), 1007, id="text-not-utf8"),
        pytest.param(frame(b"x" * 130, opcode=9), 1002, id="control-too-long"),
        pytest.param(frame(event(9), opcode=0), 1002, id="stray-continuation"),
    ],
)
async def test_what_websockets_refuses_is_refused_with_its_code(bad: bytes, code: int) -> None:
    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
    ) -> None:
        writer.write(response + frame(event(0)) + frame(event(1)) + bad + frame(event(2)))
        await writer.drain()
        await finish(reader)

    async with raw_peer(script) as url:
        seen, error, session = await collect(url)
    assert ids(seen) == ["0", "1"]  # nothing after the bad frame
    assert isinstance(error, ConnectionClosedError) and error.code == code
    assert session.close_code == code


async def test_an_oversized_frame_is_refused_before_it_is_read() -> None:
    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
    ) -> None:
        writer.write(response + frame(event(0)))
        writer.write(frame(event(1, pad=5000))[:200])  # its header says 5 kB: over the limit
        await writer.drain()
        await finish(reader)

    async with raw_peer(script) as url:
        seen, error, _ = await collect(url, websocket_options={"max_size": 4096})
    assert ids(seen) == ["0"]
    assert isinstance(error, MessageTooBigError) and error.code == 1009


async def test_a_frame_cut_short_by_the_peer_is_an_abnormal_close() -> None:
    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
    ) -> None:
        writer.write(response + frame(event(0)) + frame(event(1))[:-3])
        await writer.drain()
        writer.write_eof()
        await finish(reader)

    async with raw_peer(script) as url:
        seen, error, _ = await collect(url)
    assert ids(seen) == ["0"]
    assert isinstance(error, ConnectionClosedError) and error.code == 1006


async def test_back_pressure_holds_frames_in_order_and_stops_reading() -> None:
    count = 3000
    payload = b"".join(frame(event(n, pad=200)) for n in range(count))

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
    ) -> None:
        writer.write(response + payload + close_frame(1000))
        await writer.drain()
        await finish(reader)

    async with raw_peer(script) as url:
        session = await rr.connect(base_url=url, buffer_size=8)
        got: list[str | None] = []
        async with asyncio.timeout(30):
            async for item in session.iterate(maxsize=4):  # holds the gate while full
                got.append(item.event_id)
                if len(got) % 500 == 0:
                    await asyncio.sleep(0.01)  # a slow reader
        await session.close()
    assert got == [str(n) for n in range(count)]
    assert session.statistics().dropped == 0


async def test_recv_on_the_connection_still_reads_everything() -> None:
    """A connection whose ``recv()`` is used first keeps websockets' own queue, held frames
    included (the recorder and the SDK-style readers read this way)."""

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
    ) -> None:
        writer.write(response + b"".join(frame(event(n)) for n in range(40)))
        writer.write(close_frame(1000))
        await writer.drain()
        await finish(reader)

    async with raw_peer(script) as url:
        transport = await open_websocket(prepare(base_url=url))
        await asyncio.sleep(0.2)  # everything arrives (and is held) before anyone reads
        got = []
        with pytest.raises(TransportClosed):
            while True:
                got.append(orjson.loads(await transport.recv())["event_id"])
        assert got == [str(n) for n in range(40)]
        assert transport.deliver(lambda payload, text: None) is None  # the reader is chosen


async def test_recv_cannot_steal_from_a_session() -> None:
    """Once the session reads a connection, ``recv()`` on it fails loudly (as websockets does
    for two readers) instead of waiting for messages that will never come."""
    from websockets.exceptions import ConcurrencyError

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
    ) -> None:
        writer.write(response + frame(event(0)))
        await writer.drain()
        await finish(reader)

    async with raw_peer(script) as url:
        session = await rr.connect(base_url=url)
        async with asyncio.timeout(10):
            first = await session.recv()
        assert first.event_id == "0"
        assert isinstance(session._transport, WebSocketTransport)
        with pytest.raises(ConcurrencyError):
            await session._transport.connection.recv()
        await session.close()


async def _delivering(
    script_after_go: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    **options: Any,
) -> tuple[list[ev.ServerEvent], BaseException | None, rr.RealtimeSession]:
    """A session whose peer sends event 0, waits until the client answers ``go`` (so the
    session is delivering, reads going through the transport's fast path), then runs
    ``script_after_go``; every event until the end, and how it ended."""

    async def script(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
    ) -> None:
        writer.write(response + frame(event(0)))
        await writer.drain()
        assert await read_client_frame(reader) == (1, b"go")
        await script_after_go(reader, writer)

    async with raw_peer(script) as url:
        session = await rr.connect(base_url=url, **options)
        seen: list[ev.ServerEvent] = []
        ended: list[BaseException | None] = []
        done, first = asyncio.Event(), asyncio.Event()

        def on_event(item: ev.ServerEvent) -> None:
            seen.append(item)
            first.set()

        def end(error: BaseException | None = None) -> None:
            ended.append(error)
            done.set()

        session.events.subscribe(on_event, on_error=end, on_completed=end)
        async with asyncio.timeout(30):
            await first.wait()
            await session.send_raw("go")
            await done.wait()
        await session.close()
    return seen, ended[0], session


async def test_every_kind_of_frame_in_one_read_while_delivering() -> None:
    """A read of one frame, then one with short, 16-bit and 64-bit lengths, text and binary, a
    ping between them and a frame cut at its end: each message is one event, in order; the
    ping is answered."""
    burst = [
        frame(event(1)),
        frame(event(2, pad=300)),
        frame(b"ping!", opcode=9),
        frame(event(3)),
        frame(event(4).encode(), opcode=2),
        frame(event(5, pad=70000)),
        frame(event(6)),
    ]
    last = frame(event(7, pad=200))

    async def after_go(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(burst[0])  # a read of exactly one frame (the common case) ...
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"".join(burst[1:]) + last[:7])  # ... then one cut inside a header
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(last[7:] + close_frame(1000))
        await writer.drain()
        assert await read_client_frame(reader) == (10, b"ping!")
        await finish(reader)

    seen, error, session = await _delivering(after_go)
    assert error is None and session.close_code == 1000
    assert ids(seen) == [str(n) for n in range(8)]
    assert seen[5].raw["pad"] == "a" * 70000  # type: ignore[attr-defined]
    assert session.statistics().frames_in == 8


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        pytest.param(frame(event(9), mask=True), 1002, id="masked"),
        pytest.param(frame(event(9), rsv=4), 1002, id="reserved-bit"),
        pytest.param(frame(b"\xff\xfe", opcode=1), 1007, id="text-not-utf8"),
        pytest.param(frame(event(9), opcode=0), 1002, id="stray-continuation"),
    ],
)
async def test_what_websockets_refuses_mid_read_while_delivering(bad: bytes, code: int) -> None:
    async def after_go(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(event(1)) + frame(event(2, pad=200)) + bad + frame(event(3)))
        await writer.drain()
        await finish(reader)

    seen, error, session = await _delivering(after_go)
    assert ids(seen) == ["0", "1", "2"]  # nothing after the bad frame
    assert isinstance(error, ConnectionClosedError) and error.code == code
    assert session.close_code == code


async def test_an_oversized_frame_mid_read_is_refused_while_delivering() -> None:
    async def after_go(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(event(1)) + frame(event(2, pad=5000)) + frame(event(3)))
        await writer.drain()
        await finish(reader)

    seen, error, _ = await _delivering(after_go, websocket_options={"max_size": 4096})
    assert ids(seen) == ["0", "1"]
    assert isinstance(error, MessageTooBigError) and error.code == 1009


def test_an_interrupt_from_a_consumer_mid_read_stops_delivery_there() -> None:
    """What the sink raises through the session (a consumer's ``KeyboardInterrupt``) stops
    delivery at that message, even with more messages in the same read."""
    seen: list[str | None] = []

    async def scenario() -> None:
        async def script(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
        ) -> None:
            writer.write(response + frame(event(0)))
            await writer.drain()
            assert await read_client_frame(reader) == (1, b"go")
            writer.write(b"".join(frame(event(n)) for n in range(1, 5)))  # one write
            await writer.drain()
            await finish(reader)

        async with raw_peer(script) as url:
            session = await rr.connect(base_url=url)
            first = asyncio.Event()

            def on_event(item: ev.ServerEvent) -> None:
                seen.append(item.event_id)
                first.set()
                if item.event_id == "2":
                    raise KeyboardInterrupt

            session.events.subscribe(on_event)
            async with asyncio.timeout(30):
                await first.wait()
                await session.send_raw("go")
                await session.wait_closed()

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(scenario())
    assert seen == ["0", "1", "2"]
