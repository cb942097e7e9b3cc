"""Disposal, cancellation and leaks: the session leaves nothing behind."""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
from typing import Any

import pytest
from session_helpers import server_mod, text_turn

import rxrealtime.session as rs
from rxrealtime import events as ev
from rxrealtime.scheduling import first


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_leaving_the_context_completes_everything_and_leaks_nothing() -> None:
    async with server_mod.serve(realtime_audio=False) as server:
        completed: list[str] = []
        async with rs.connect(base_url=server.base_url) as session:
            session.events.subscribe(on_completed=lambda: completed.append("a"))
            session.events.subscribe(on_completed=lambda: completed.append("b"))
            iterator = session.iterate()
            await text_turn(session)
            await first(session.events.pipe(_done()))
            receiver = session._receiver
        assert completed == ["a", "b"]
        assert receiver.done() and not receiver.cancelled()
        assert session.closed and session.close_code == 1000
        assert [e async for e in iterator][-1].type in {"response.done", "rate_limits.updated"}
        assert session.statistics().subscribers == 0
    assert other_tasks() == set()


def _done() -> Any:
    from reactivex import operators as rops

    return rops.filter(lambda e: isinstance(e, ev.ResponseDone))


async def test_cancelling_the_owning_task_cleans_up() -> None:
    async with server_mod.serve(realtime_audio=False) as server:
        entered = asyncio.Event()
        holder: dict[str, Any] = {}
        ended: list[str] = []

        async def owner() -> None:
            async with rs.connect(base_url=server.base_url) as session:
                holder["session"] = session
                session.events.subscribe(on_completed=lambda: ended.append("completed"))
                entered.set()
                await asyncio.Event().wait()  # until cancelled

        task = asyncio.ensure_future(owner())
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        session = holder["session"]
        assert session.closed and ended == ["completed"]
        assert session._receiver.done()
    assert other_tasks() == set()


async def test_close_is_idempotent_and_send_after_close_raises() -> None:
    from rxrealtime.errors import ConnectionClosedOK

    async with server_mod.serve(realtime_audio=False) as server:
        session = await rs.connect(base_url=server.base_url)
        await session.close()
        await session.close()
        await session.wait_closed()
        with pytest.raises(ConnectionClosedOK):
            await session.response.create()
        assert session.exception() is None
    assert other_tasks() == set()


async def _mute_upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept the WebSocket upgrade by hand, then ignore everything (even the close frame)."""
    request = await reader.readuntil(b"\r\n\r\n")
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    try:
        while await reader.read(4096):
            pass
    except ConnectionError:
        pass
    finally:
        writer.close()


_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def test_a_stuck_close_is_aborted_when_cancelled() -> None:
    # (the embedded server always answers the closing handshake, so this one peer is raw)
    mute = await asyncio.start_server(_mute_upgrade, "127.0.0.1", 0)
    port = mute.sockets[0].getsockname()[1]
    try:
        session = await rs.connect(
            base_url=f"ws://127.0.0.1:{port}/v1", websocket_options={"close_timeout": 30}
        )
        closing = asyncio.ensure_future(session.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # waiting for a close frame that never comes
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
        async with asyncio.timeout(10):  # an abort is immediate; generous under load
            await session.wait_closed()
        assert session.closed
    finally:
        mute.close()
        await mute.wait_closed()
    # an abort finishes within a few loop turns (websockets' keepalive task, the peer's handler)
    for _ in range(100):
        if not other_tasks():
            break
        await asyncio.sleep(0)
    assert other_tasks() == set()


async def test_dropped_session_objects_are_collected() -> None:
    async with server_mod.serve(realtime_audio=False) as server:
        async with rs.connect(base_url=server.base_url) as session:
            session.events.subscribe(lambda _: None)
        del session
        gc.collect()
        assert not [o for o in gc.get_objects() if type(o) is rs.RealtimeSession]
