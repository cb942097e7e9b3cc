"""Faults from the embedded server's fault injection, without reconnect (issue 8, point 2)."""

from __future__ import annotations

import asyncio
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
from rxrealtime.scheduling import observe_on_thread
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
        rs.connect(base_url=server.base_url, idle_timeout=1.0) as session,
    ):
        seen = Collector(session)
        started = time.monotonic()
        await session.session.update(session=TEXT_ONLY)
        await text_turn(session)
        await seen.until_count(ev.ResponseDone)
        assert time.monotonic() - started >= 0.1
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
        assert 0.25 <= elapsed < 1.5 and isinstance(caught.value, TimeoutError)
        assert "0.3" in str(caught.value)


async def test_idle_timeout_errors_a_silent_stream() -> None:
    faults = Faults(skip_session_created=True)
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url, idle_timeout=0.3) as session,
    ):
        seen = Collector(session)
        started = time.monotonic()
        await seen.until_ended()
        assert isinstance(seen.error, IdleTimeoutError)
        assert 0.25 <= time.monotonic() - started < 1.5 and seen.events == []
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


SINK_DELAY = 0.02


@pytest.mark.parametrize("overflow", ["drop_oldest", "drop_newest", "error"])
async def test_a_slow_thread_sink_never_delays_the_other_subscribers(overflow: Any) -> None:
    async with (
        server_mod.serve(realtime_audio=False) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        slow_seen: list[ev.ServerEvent] = []

        def slow_sink(event: ev.ServerEvent) -> None:
            time.sleep(SINK_DELAY)
            slow_seen.append(event)

        failures: list[Exception] = []
        hop = observe_on_thread(slow_sink, failures.append, maxsize=4, overflow=overflow)
        session.events.subscribe(hop)
        seen = Collector(session)
        started = time.monotonic()
        await _flood(session, seen)
        fast_time = time.monotonic() - started
        total = len(seen.events)
        # the loop subscriber got everything long before the sink could have
        assert total > 40 and fast_time < total * SINK_DELAY / 2
        stats = hop.statistics()
        if overflow == "error":
            await hop.wait_done()  # the sink is told, after the values it had queued
            assert isinstance(failures[0], BufferOverflowError)
            assert session.statistics().subscriber_errors == 1
        else:
            assert stats.dropped > 0 and stats.delivered + stats.dropped + stats.queued <= total
        hop.dispose()


async def test_block_policy_pushes_back_but_never_blocks_the_loop() -> None:
    async with server_mod.serve(realtime_audio=False) as server:
        async with rs.connect(base_url=server.base_url) as session:
            slow_seen: list[ev.ServerEvent] = []

            def slow_sink(event: ev.ServerEvent) -> None:
                time.sleep(SINK_DELAY / 4)
                slow_seen.append(event)

            hop = observe_on_thread(slow_sink, maxsize=4, overflow="block")
            session.events.subscribe(hop)
            seen = Collector(session)
            gaps: list[float] = []

            async def heartbeat() -> None:
                last = time.monotonic()
                while True:
                    await asyncio.sleep(0.005)
                    now = time.monotonic()
                    gaps.append(now - last)
                    last = now

            beat = asyncio.ensure_future(heartbeat())
            await _flood(session, seen)
        await hop.wait_done()
        beat.cancel()
        assert max(gaps) < 0.1  # the event loop was never blocked by the thread sink
        assert slow_seen == seen.events  # back-pressure: nothing lost
        assert hop.statistics().dropped == 0 and hop.statistics().max_queued <= 8
