"""A subscriber cannot hurt the session, and a stuck sink cannot hold ``close()`` (issue 12,
points 3-4, and the thread-hop drops).

Attacks: subscribers that raise ``CancelledError`` (as ``.result()`` on a cancelled future
does), ``GeneratorExit``, ``StopIteration``, ``KeyboardInterrupt``, at the first event and in
their ``on_completed``; a ``block`` thread-hop sink that never returns while the server
floods; a ``drop_oldest`` hop that falls behind.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest
from hostile_peer import Peer, hostile_server

import rxrealtime as rr
from rxrealtime import events as ev

FRAMES = 2_000


def numbered(n: int) -> str:
    return f'{{"type":"x.n","event_id":"{n}"}}'


async def flood(peer: Peer) -> None:
    await peer.created()
    await peer.flood(numbered(n) for n in range(FRAMES))
    await peer.json({"type": "x.last", "event_id": "last"})


def cancelled_result() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.cancel()
    future.result()  # raises CancelledError


def raise_generator_exit() -> None:
    raise GeneratorExit


def raise_stop_iteration() -> None:
    raise StopIteration


RAISERS = [
    pytest.param(cancelled_result, id="CancelledError"),
    pytest.param(raise_generator_exit, id="GeneratorExit"),
    pytest.param(raise_stop_iteration, id="StopIteration"),
]


@pytest.mark.parametrize("raiser", RAISERS)
async def test_any_exception_from_a_subscriber_is_that_subscribers_error(
    raiser: Any, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def bad(event: ev.ServerEvent) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raiser()

    with caplog.at_level(logging.ERROR, logger="rxrealtime"):
        async with (
            hostile_server(flood) as server,
            rr.connect(base_url=server.base_url) as session,
        ):
            session.events.subscribe(bad)
            seen = 0
            async with asyncio.timeout(20):
                async for event in session:
                    seen += 1
                    if event.type == "x.last":
                        break
            stats = session.statistics()
        assert not stats.closed, stats.close_reason
    assert seen == FRAMES + 2 and calls == 3
    assert stats.subscriber_errors == 1 and stats.subscribers == 0
    assert stats.last_error is not None and raiser.__name__ != ""
    assert "subscriber raised" in caplog.text
    assert session.close_code == 1000 and session.statistics().close_reason == ""


@pytest.mark.parametrize("raiser", RAISERS)
async def test_a_subscriber_raising_at_the_end_cannot_hang_close(raiser: Any) -> None:
    async with hostile_server(flood) as server:
        session = await rr.connect(base_url=server.base_url)
        session.events.subscribe(lambda e: None, on_completed=raiser)
        iterator = session.iterate()
        started = time.monotonic()
        async with asyncio.timeout(10):
            await session.close()
            async for _ in iterator:  # the other consumer ends too
                pass
        assert time.monotonic() - started < 5
    stats = session.statistics()
    assert stats.closed and stats.close_code == 1000 and stats.subscriber_errors == 1


def test_keyboard_interrupt_in_a_subscriber_ends_everyone_then_propagates() -> None:
    # KeyboardInterrupt and SystemExit ask the process to stop: they are not swallowed as a
    # subscriber's error. The session ends every consumer first (nothing is left hanging),
    # then the exception leaves the event loop, as asyncio does with them.
    state: dict[str, Any] = {}

    async def scenario() -> None:
        async with hostile_server(flood) as server:
            session = state["session"] = await rr.connect(base_url=server.base_url)

            def interrupt(event: ev.ServerEvent) -> None:
                if event.type == "x.n":
                    raise KeyboardInterrupt

            session.events.subscribe(interrupt)
            session.events.subscribe(on_error=lambda e: state.setdefault("ended", e))
            await session.wait_closed()

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(scenario())
    session = state["session"]
    assert session.closed and session.close_code == 1011
    assert "KeyboardInterrupt" in str(state["ended"])


async def test_close_returns_promptly_while_a_block_sink_is_stuck(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    entered = threading.Event()

    def stuck(event: ev.ServerEvent) -> None:
        entered.set()
        release.wait(30)  # a sink that never returns (until the test ends)

    hop = rr.observe_on_thread(stuck, maxsize=4, overflow="block")
    try:
        with caplog.at_level(logging.WARNING, logger="rxrealtime"):
            async with hostile_server(flood) as server:
                session = await rr.connect(base_url=server.base_url)
                session.events.subscribe(hop)
                async with asyncio.timeout(10):
                    await asyncio.to_thread(entered.wait, 10)
                await asyncio.sleep(0.2)  # let the hop fill up and hold the gate
                started = time.monotonic()
                await session.close()
                took = time.monotonic() - started
        assert took < 2.0, took
        assert session.closed and session.close_code == 1000
        assert session.statistics().abandoned == 1
        assert "abandon" in caplog.text
        # the loop is not held back for anyone else: another session runs at full speed
        async with (
            hostile_server(flood) as server,
            rr.connect(base_url=server.base_url) as other,
        ):
            async with asyncio.timeout(10):
                count = 0
                async for event in other:
                    count += 1
                    if event.type == "x.last":
                        break
        assert count == FRAMES + 2
    finally:
        release.set()
    assert hop.join(5)


async def test_thread_hop_drops_are_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    hop = rr.observe_on_thread(lambda e: release.wait(10), maxsize=8, overflow="drop_oldest")
    with caplog.at_level(logging.WARNING, logger="rxrealtime"):
        async with (
            hostile_server(flood) as server,
            rr.connect(base_url=server.base_url) as session,
        ):
            session.events.subscribe(hop)
            async with asyncio.timeout(10):
                async for event in session:
                    if event.type == "x.last":
                        break
    release.set()
    assert hop.join(5)
    dropped = hop.statistics().dropped
    assert dropped >= FRAMES - 10
    assert "thread hop rxrealtime-hop dropped 1 value(s)" in caplog.text
