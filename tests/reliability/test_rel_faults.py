"""Faults from the embedded server's fault injection, without reconnect (issue 8, point 2)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from rel_helpers import GREETING, Collector, server_mod, text_turn

import rxrealtime.session as rs
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.errors import (
    BufferOverflowError,
    ConnectionClosedError,
    HandshakeTimeoutError,
    IdleTimeoutError,
    MessageTooBigError,
)
from rxrealtime.scheduling import Backpressure, observe_on_thread
from rxrealtime.sinks import Recorder
from rxrealtime.transport import DEFAULT_MAX_SIZE

Faults = server_mod.Faults
FIRST_DELTA = 9  # see test_rel_reconnect
TEXT_ONLY = {"type": "realtime", "output_modalities": ["text"]}


async def test_abrupt_disconnect_mid_response_delivers_and_records_everything(
    tmp_path: Path,
) -> None:
    cut = FIRST_DELTA + 2
    async with server_mod.serve(realtime_audio=False, faults=Faults(drop_after=cut)) as server:
        path = tmp_path / "cut.jsonl"
        async with rs.connect(base_url=server.base_url) as session:
            recorder = Recorder(path)
            session.events.subscribe(recorder)
            seen = Collector(session)
            await session.session.update(session=TEXT_ONLY)
            await text_turn(session)
            await seen.until_ended()
        assert isinstance(seen.error, ConnectionClosedError) and seen.error.code == 1006
        assert len(seen.events) == cut and session.statistics().frames_in == cut
        assert isinstance(seen.events[-1], ev.ResponseOutputTextDelta)
        records = [orjson.loads(line) for line in path.read_bytes().splitlines()[1:]]
        inbound = [r["event"]["event_id"] for r in records if r["dir"] == "in"]
        assert inbound == [e.event_id for e in seen.events]
        assert records[-1]["dir"] == "end" and records[-1]["reason"] == "error"
        assert "1006" in records[-1]["error"]


@pytest.mark.parametrize("frame", ["{not json", b"\x00\xff\xfe binary", b'{"type": 5}'])
async def test_malformed_and_binary_frames_are_events_and_the_session_goes_on(
    frame: str | bytes,
) -> None:
    faults = Faults(malformed_after=2, malformed_frame=frame)
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        seen = Collector(session)
        text = session.events.pipe(ops.text_only())
        words: list[str] = []
        text.subscribe(words.append)
        await session.session.update(session=TEXT_ONLY)
        await text_turn(session)
        await seen.until_count(ev.ResponseDone)
        bad = seen.events[2]
        assert isinstance(bad, ev.InvalidEvent) and bad.raw == frame
        assert "".join(words) == GREETING and seen.error is None
        assert session.statistics().invalid_events == 1


async def test_duplicated_events_are_all_delivered() -> None:
    faults = Faults(duplicate_types={"response.output_text.delta", "response.done"})
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        seen = Collector(session)
        summaries: list[Any] = []
        session.events.pipe(ops.responses()).subscribe(summaries.append)
        await session.session.update(session=TEXT_ONLY)
        await text_turn(session)
        await seen.until_count(ev.ResponseDone, 2)
        deltas = seen.of(ev.ResponseOutputTextDelta)
        ids = [d.event_id for d in deltas]
        assert ids[::2] == ids[1::2]  # each twice, same event_id, in order
        assert "".join(d.delta for d in deltas[::2]) == GREETING
        # nothing hangs: both copies of response.done give a summary
        assert len(summaries) == 2 and summaries[0].text == GREETING


async def test_delayed_events_keep_their_order() -> None:
    faults = Faults(delay=0.05, delay_types={"response.created", "response.done"})
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url, idle_timeout=5.0) as session,
    ):
        seen = Collector(session)
        started = time.monotonic()
        await session.session.update(session=TEXT_ONLY)
        await text_turn(session)
        await seen.until_count(ev.ResponseDone)
        assert time.monotonic() - started >= 0.1  # both delays were served (a lower bound)
        kinds = [e.type for e in seen.events]
        assert kinds.index("response.created") < kinds.index("response.output_text.delta")
        assert kinds.index("response.done") > kinds.index("response.output_text.done")
        assert seen.error is None


async def test_handshake_timeout_is_typed_and_on_time() -> None:
    async with server_mod.serve(faults=Faults(stall_handshake=True)) as server:
        started = time.monotonic()
        with pytest.raises(HandshakeTimeoutError) as caught:
            await rs.connect(base_url=server.base_url, open_timeout=0.3)
        elapsed = time.monotonic() - started
        # never early; the generous upper bound (far below websockets' 10 s default) only shows
        # that open_timeout was the one applied
        assert 0.25 <= elapsed < 5.0 and isinstance(caught.value, TimeoutError)
        assert "0.3" in str(caught.value)


async def test_idle_timeout_errors_a_silent_stream() -> None:
    faults = Faults(skip_session_created=True)
    async with server_mod.serve(realtime_audio=False, faults=faults) as server:
        started = time.monotonic()  # before connecting: the idle clock starts after this
        async with rs.connect(base_url=server.base_url, idle_timeout=0.3) as session:
            seen = Collector(session)
            await seen.until_ended()
            elapsed = time.monotonic() - started
            assert isinstance(seen.error, IdleTimeoutError)
            # never early; the generous upper bound only shows the stream did not wait for ever
            assert 0.25 <= elapsed < 5.0 and seen.events == []
            assert session.close_code == 1006


async def test_no_idle_timeout_unless_asked() -> None:
    faults = Faults(skip_session_created=True)
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        seen = Collector(session)
        with pytest.raises(TimeoutError):
            await seen.until_ended(limit=0.4)
        assert not session.closed


async def test_oversized_server_frame_is_a_typed_error_not_a_hang() -> None:
    huge = '{"type": "x", "pad": "' + "a" * DEFAULT_MAX_SIZE + '"}'
    faults = Faults(malformed_after=1, malformed_frame=huge)
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        seen = Collector(session)
        await seen.until_ended(limit=10)
        assert isinstance(seen.error, MessageTooBigError) and seen.error.code == 1009
        assert [type(e) for e in seen.events] == [ev.SessionCreated]


# -- a slow subscriber -----------------------------------------------------------------------


async def _flood(session: Any, seen: Collector) -> None:
    """A text turn with many events, delivered as fast as the server writes them."""
    await session.session.update(session=TEXT_ONLY)
    for turn in range(1, 4):
        await text_turn(session, "What is 12 times 3?")
        await seen.until_count(ev.ResponseDone, turn)


SINK_DELAY = 0.005
#: a safety net only: the tests release a stuck sink themselves, long before this
STUCK_LIMIT = 30.0


@pytest.mark.parametrize("overflow", ["drop_oldest", "drop_newest", "error"])
async def test_a_slow_thread_sink_never_delays_the_other_subscribers(overflow: Any) -> None:
    async with (
        server_mod.serve(realtime_audio=False) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        release = threading.Event()
        slow_seen: list[ev.ServerEvent] = []

        def stuck_sink(event: ev.ServerEvent) -> None:
            release.wait(STUCK_LIMIT)  # stuck on its first value until the test lets it go
            slow_seen.append(event)

        failures: list[Exception] = []
        hop = observe_on_thread(stuck_sink, failures.append, maxsize=4, overflow=overflow)
        session.events.subscribe(hop)
        seen = Collector(session)
        try:
            await _flood(session, seen)
            total = len(seen.events)
            # the loop subscriber got every event of three turns while the sink was still
            # stuck on its first one: a slow sink never delays the other subscribers
            assert total > 40 and slow_seen == []
            stats = hop.statistics()
        finally:
            release.set()
        if overflow == "error":
            await hop.wait_done()  # the sink is told, after the values it had queued
            assert isinstance(failures[0], BufferOverflowError)
            assert session.statistics().subscriber_errors == 1
        else:
            assert stats.dropped > 0 and stats.delivered + stats.dropped + stats.queued <= total
        hop.dispose()


async def test_block_policy_pushes_back_but_never_blocks_the_loop() -> None:
    loop = asyncio.get_running_loop()
    async with server_mod.serve(realtime_audio=False) as server:
        async with rs.connect(base_url=server.base_url) as session:
            release = threading.Event()
            released_by_the_loop: list[bool] = []
            slow_seen: list[ev.ServerEvent] = []

            def slow_sink(event: ev.ServerEvent) -> None:
                if not slow_seen:  # stuck on the first value until the loop lets it go
                    released_by_the_loop.append(release.wait(STUCK_LIMIT))
                time.sleep(SINK_DELAY)  # then slow: the buffer fills again and again
                slow_seen.append(event)

            hop = observe_on_thread(slow_sink, maxsize=4, overflow="block")
            session.events.subscribe(hop)
            seen = Collector(session)
            flood = asyncio.ensure_future(_flood(session, seen))
            try:
                # While the sink is stuck the buffer fills and holds the gate; this coroutine
                # keeps running on the loop all the while, so the loop is not blocked (were
                # it, the sink would only wake by its safety net and fail the test below).
                await seen.until(lambda: Backpressure.for_loop(loop).blocked)
                assert hop.statistics().queued >= hop.maxsize
                for _ in range(20):  # the gate holds: the session stops reading meanwhile
                    await asyncio.sleep(0)
                assert not flood.done()
                # what the session delivered is bounded by what the hop could accept
                assert len(seen.events) <= 1 + 2 * hop.maxsize
            finally:
                release.set()
            await flood
        await hop.wait_done()
        assert released_by_the_loop == [True]
        assert slow_seen == seen.events  # back-pressure: nothing lost
        assert hop.statistics().dropped == 0 and hop.statistics().max_queued <= 8
