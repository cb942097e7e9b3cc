"""Fault injection: drops, closes, malformed frames, duplicates, delays and stalls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import pytest
from _server_support import validate_strictly
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rxrealtime.server import Faults, serve


@asynccontextmanager
async def _connected(faults: Faults) -> AsyncIterator[ClientConnection]:
    """A raw client connected to a fast server with ``faults``."""
    async with serve(realtime_audio=False, faults=faults) as server, connect(server.url()) as ws:
        yield ws


_UPDATE = orjson.dumps({"type": "session.update", "session": {"type": "realtime"}}).decode()


async def test_drop_after_n_events_sends_no_close_frame() -> None:
    async with _connected(Faults(drop_after=2)) as ws:
        assert validate_strictly(await ws.recv())["type"] == "session.created"
        await ws.send(_UPDATE)
        assert validate_strictly(await ws.recv())["type"] == "session.updated"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is None  # abnormal closure: 1006


async def test_drop_right_after_the_handshake() -> None:
    async with _connected(Faults(drop_after=0)) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is None


async def test_close_after_n_events_with_a_code() -> None:
    faults = Faults(close_after=1, close_code=1012, close_reason="service restart")
    async with _connected(faults) as ws:
        await ws.recv()
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1012, "service restart")


@pytest.mark.parametrize("frame", ["{not json", b"\x00\xffbinary"])
async def test_malformed_frame_then_business_as_usual(frame: str | bytes) -> None:
    async with _connected(Faults(malformed_after=1, malformed_frame=frame)) as ws:
        assert validate_strictly(await ws.recv())["type"] == "session.created"
        assert await ws.recv() == frame
        await ws.send(_UPDATE)
        assert validate_strictly(await ws.recv())["type"] == "session.updated"


async def test_duplicate_events() -> None:
    faults = Faults(duplicate_types={"session.created", "session.updated"})
    async with _connected(faults) as ws:
        first, second = await ws.recv(), await ws.recv()
        assert first == second and validate_strictly(first)["type"] == "session.created"
        await ws.send(_UPDATE)
        assert await ws.recv() == await ws.recv()
        await ws.send(orjson.dumps({"type": "input_audio_buffer.clear"}).decode())
        cleared = orjson.loads(await ws.recv())
        assert cleared["type"] == "input_audio_buffer.cleared"


async def test_delay_events() -> None:
    faults = Faults(delay=1.5, delay_types={"session.updated"})
    async with _connected(faults) as ws:
        started = time.monotonic()
        await ws.recv()
        # session.created is not delayed (a generous bound, well below the delay)
        assert time.monotonic() - started < 1.0
        started = time.monotonic()
        await ws.send(_UPDATE)
        await ws.recv()
        assert time.monotonic() - started >= 1.5  # never early


async def test_skip_session_created() -> None:
    async with _connected(Faults(skip_session_created=True)) as ws:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await ws.recv()
        await ws.send(_UPDATE)
        assert validate_strictly(await ws.recv())["type"] == "session.updated"


async def test_stalled_handshake_times_out_and_the_server_still_stops() -> None:
    async with serve(realtime_audio=False, faults=Faults(stall_handshake=True)) as server:
        with pytest.raises(TimeoutError):
            async with connect(server.url(), open_timeout=0.3):
                pass
    # leaving the block returned promptly although a handshake was still stalled


async def test_faults_apply_to_the_first_connections_only() -> None:
    async with serve(realtime_audio=False, faults=Faults(drop_after=0, connections=1)) as server:
        async with connect(server.url()) as ws:
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        async with connect(server.url()) as ws:
            assert validate_strictly(await ws.recv())["type"] == "session.created"
        assert server.connections_served == 2
