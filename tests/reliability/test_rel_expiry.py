"""The service's session limit as the client sees it: ``session_expired`` then close 1001;
reconnect continues the stream; planned recycling avoids the expiry altogether."""

from __future__ import annotations

from rel_helpers import Collector, server_mod

import rxrealtime
from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosedError

REASON = "Your session hit the maximum duration of 0.3 seconds."


def _expired(event: ev.ServerEvent) -> bool:
    return isinstance(event, ev.ErrorEvent) and getattr(event.error, "code", None) == (
        "session_expired"
    )


async def test_without_reconnect_the_stream_errors_after_the_error_event() -> None:
    async with (
        server_mod.serve(realtime_audio=False, session_limit=0.3) as server,
        rxrealtime.connect(base_url=server.base_url) as session,
    ):
        seen = Collector(session)
        await seen.until_ended()
        assert isinstance(seen.events[0], ev.SessionCreated)
        assert _expired(seen.events[-1]), [e.type for e in seen.events]
        assert seen.events[-1].error.message == REASON  # type: ignore[attr-defined]
        error = seen.error
        assert isinstance(error, ConnectionClosedError), error
        assert (error.code, error.reason) == (1001, REASON)
        assert error.error_code == "session_expired"
        assert error.error_message == REASON


async def test_reconnect_continues_the_same_stream() -> None:
    policy = rxrealtime.ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
    async with (
        server_mod.serve(realtime_audio=False, session_limit=0.3) as server,
        rxrealtime.connect(base_url=server.base_url, reconnect=policy) as session,
    ):
        seen = Collector(session)
        await seen.until_count(ev.SessionCreated, 2)
        assert seen.error is None and not seen.completed
        kinds = [type(e) for e in seen.events]
        marker_at = seen.index(rxrealtime.Reconnected)
        assert kinds[0] is ev.SessionCreated
        assert _expired(seen.events[marker_at - 1])
        assert kinds[marker_at + 1] is ev.SessionCreated
        marker = seen.events[marker_at]
        assert isinstance(marker, rxrealtime.Reconnected)
        assert (marker.close_code, marker.close_reason, marker.recycled) == (1001, REASON, False)
        first, second = seen.of(ev.SessionCreated)[:2]
        assert first.session.id != second.session.id
        assert server.connections_served >= 2


RECYCLE_AFTER = 0.1
SESSION_LIMIT = 1.0  # each connection is replaced 0.9 s before the server would expire it


async def test_recycling_replaces_the_connection_before_it_expires() -> None:
    policy = rxrealtime.ReconnectPolicy(
        initial_delay=0.01, max_delay=0.05, recycle_after=RECYCLE_AFTER
    )
    async with (
        server_mod.serve(realtime_audio=False, session_limit=SESSION_LIMIT) as server,
        rxrealtime.connect(base_url=server.base_url, reconnect=policy) as session,
    ):
        seen = Collector(session)
        # A connection is never recycled sooner than RECYCLE_AFTER after it opened, so once
        # this many recycles happened the first connection has outlived SESSION_LIMIT: without
        # recycling, the server would have expired it by now.
        recycles = int(SESSION_LIMIT / RECYCLE_AFTER) + 1
        await seen.until_count(rxrealtime.Reconnected, recycles)
        assert not any(_expired(e) for e in seen.events), [e.type for e in seen.events]
        markers = seen.of(rxrealtime.Reconnected)
        assert all(m.recycled and m.close_code is None for m in markers)
        assert seen.error is None and not seen.completed
        assert server.connections_served >= recycles + 1
