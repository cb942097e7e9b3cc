"""Reconnect budgets hold against a server that always accepts and then drops (issue 12,
point 5).

Attacks: a server that says ``session.created`` (and more: a whole fake response) and cuts
at once, forever, against ``max_attempts=3`` and ``initial_delay=0``; the same server after
a connection that lived long enough to earn a new budget.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from hostile_peer import Peer, hostile_server

import rxrealtime as rr
from rxrealtime.errors import ReconnectFailedError
from rxrealtime.reconnect import MIN_RECONNECT_DELAY


async def accept_then_drop(peer: Peer) -> None:
    await peer.created()
    # everything a healthy connection says, then the cut
    await peer.json({"type": "session.updated", "event_id": f"u{peer.index}", "session": {}})
    await peer.json(
        {
            "type": "response.done",
            "event_id": f"d{peer.index}",
            "response": {"id": f"r{peer.index}", "status": "completed"},
        }
    )
    peer.cut()


@pytest.mark.parametrize("attempts", [1, 3])
async def test_accept_then_drop_forever_is_bounded_by_max_attempts(attempts: int) -> None:
    policy = rr.ReconnectPolicy(max_attempts=attempts, initial_delay=0, max_delay=0)
    async with hostile_server(accept_then_drop) as server:
        started = time.monotonic()
        session = await rr.connect(base_url=server.base_url, reconnect=policy)
        async with asyncio.timeout(20):
            await session.wait_closed()
        took = time.monotonic() - started
        error = session.exception()
    assert isinstance(error, ReconnectFailedError) and error.attempts == attempts
    assert server.connections == 1 + attempts
    # even initial_delay=0 waits at least MIN_RECONNECT_DELAY before each attempt
    assert took >= attempts * MIN_RECONNECT_DELAY * 0.9
    assert session.statistics().reconnects == attempts


async def test_a_connection_that_lived_stable_after_earns_a_new_budget() -> None:
    async def slow_drop(peer: Peer) -> None:
        await peer.created()
        if peer.index <= 3:
            await asyncio.sleep(0.3)  # lives past stable_after: a healthy connection
            peer.cut()

    policy = rr.ReconnectPolicy(max_attempts=1, initial_delay=0, stable_after=0.2)
    async with hostile_server(slow_drop) as server:
        async with rr.connect(base_url=server.base_url, reconnect=policy) as session:
            markers = []
            async with asyncio.timeout(20):
                async for event in session:
                    if isinstance(event, rr.Reconnected):
                        markers.append(event.attempt)
                        if len(markers) == 3:
                            break
            assert markers == [1, 1, 1] and not session.closed
        assert server.connections == 4


def test_every_delay_has_a_floor() -> None:
    policy = rr.ReconnectPolicy(initial_delay=0, max_delay=0)
    assert all(policy.delay(n) == MIN_RECONNECT_DELAY for n in range(1, 10))
    assert rr.ReconnectPolicy().stable_after == 10.0
    with pytest.raises(ValueError, match="stable_after"):
        rr.ReconnectPolicy(stable_after=0)
