"""Opt-in reconnect against the embedded server's fault injection (issue 8, point 1)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rel_helpers import (
    FAST,
    GREETING,
    Collector,
    events_of_text_turn,
    server_mod,
    text_turn,
    user_text,
)

import rxrealtime.session as rs
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.errors import (
    AuthenticationError,
    ConnectionClosedError,
    ReconnectFailedError,
)
from rxrealtime.operators import Accumulator, ResponseTracker
from rxrealtime.reconnect import (
    RECOVERABLE_CLOSE_CODES,
    Continuity,
    Reconnected,
    ReconnectPolicy,
    ResponseInterrupted,
    deep_merge,
    replayable_item,
)

Faults = server_mod.Faults
# session.created, session.updated, item added+done, response.created, output_item.added,
# conversation.item.added, content_part.added, then the first text delta: the 9th event
FIRST_DELTA = 9
INSTRUCTIONS = {"type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"]}


def policy(**overrides: Any) -> ReconnectPolicy:
    return ReconnectPolicy(**{**FAST, **overrides})


# -- the policy and the continuity state (sans-I/O) --------------------------------------------


def test_delay_doubles_caps_and_jitters() -> None:
    p = ReconnectPolicy(initial_delay=0.5, max_delay=8.0, jitter=(0.75, 1.0))
    top = [p.delay(n, lambda low, high: high) for n in range(1, 8)]
    assert top == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert p.delay(3, lambda low, high: low) == 1.5
    assert all(1.5 <= p.delay(3) <= 2.0 for _ in range(50))


@pytest.mark.parametrize(
    "bad",
    [{"max_attempts": 0}, {"jitter": (0.0, 1.0)}, {"jitter": (1.0, 0.5)}, {"recycle_after": 0}],
)
def test_policy_rejects_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ReconnectPolicy(**bad)


def test_recoverable_codes_are_the_sdks() -> None:
    assert {1001, 1005, 1006, 1011, 1012, 1013, 1015} == RECOVERABLE_CLOSE_CODES
    assert not any(ReconnectPolicy.recoverable(c) for c in (1000, 1002, 1008, 1009, 3000, 4000))


def test_session_updates_merge_deeply() -> None:
    state = Continuity(track_items=False)
    state.sent("session.update", ev.encode({"type": "session.update", "session": INSTRUCTIONS}))
    audio = {"audio": {"output": {"voice": "marin"}, "input": {"turn_detection": None}}}
    state.sent("session.update", ev.encode({"type": "session.update", "session": audio}))
    state.sent(
        "session.update",
        ev.encode(
            {
                "type": "session.update",
                "session": {"audio": {"output": {"speed": 1.1}}, "instructions": "Be kind."},
            }
        ),
    )
    state.sent("response.create", "{}")
    assert state.session_config == {
        "type": "realtime",
        "instructions": "Be kind.",
        "output_modalities": ["text"],
        "audio": {"output": {"voice": "marin", "speed": 1.1}, "input": {"turn_detection": None}},
    }
    assert deep_merge({"a": {"b": 1}}, {"a": 2}) == {"a": 2}


def test_replayable_items_keep_words_not_audio() -> None:
    assert replayable_item(
        {
            "id": "i1",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": "hi there"}],
        }
    ) == {
        "type": "message",
        "id": "i1",
        "role": "user",
        "content": [{"type": "input_text", "text": "hi there"}],
    }
    assert (
        replayable_item(
            {
                "id": "i2",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_audio", "transcript": None}],
            }
        )
        is None
    )  # nothing to say: not replayed
    assert replayable_item(
        {"type": "function_call", "name": "f", "call_id": "c", "arguments": "{}"}
    ) == {"type": "function_call", "name": "f", "call_id": "c", "arguments": "{}"}
    assert replayable_item({"type": "mcp_call", "id": "x"}) is None


def test_continuity_tracks_items_only_when_asked() -> None:
    done = ev.from_dict(
        {
            "type": "conversation.item.done",
            "event_id": "e",
            "item": {
                "id": "i1",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "a"}],
            },
        }
    )
    quiet, tracking = Continuity(track_items=False), Continuity(track_items=True)
    for state in (quiet, tracking):
        state.observe(done)
    assert quiet.items == {} and list(tracking.items) == ["i1"]
    tracking.observe(
        ev.from_dict({"type": "conversation.item.deleted", "event_id": "e", "item_id": "i1"})
    )
    assert tracking.items == {}


# -- reconnecting for real ---------------------------------------------------------------------


async def test_drop_mid_response_reconnects_restores_and_ends_the_response() -> None:
    faults = Faults(drop_after=FIRST_DELTA, connections=1)
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url, reconnect=policy()) as session,
    ):
        events_object = session.events
        seen = Collector(session)
        summaries: list[ops.ResponseSummary] = []
        parts: list[ops.Accumulated] = []
        session.events.pipe(ops.responses()).subscribe(summaries.append)
        session.events.pipe(ops.accumulate_deltas()).subscribe(parts.append)
        await session.session.update(session=INSTRUCTIONS)
        await text_turn(session)
        await seen.until_count(Reconnected)
        await seen.until_count(ev.SessionUpdated, 2)
        # the same Observable, the same subscribers, a second connection
        assert session.events is events_object and server.connections_served == 2
        marker = seen.of(Reconnected)[0]
        assert (marker.attempt, marker.close_code, marker.recycled) == (1, 1006, False)
        interrupted = seen.of(ResponseInterrupted)
        assert [e.response.id for e in interrupted] == list(marker.interrupted_responses)
        assert len(interrupted) == 1 and interrupted[0].response.status == "failed"
        # everything before the cut arrived, then the end of the response, then the marker
        cut = seen.index(ResponseInterrupted)
        assert cut == FIRST_DELTA and seen.index(Reconnected) == cut + 1
        assert isinstance(seen.events[cut - 1], ev.ResponseOutputTextDelta)
        assert isinstance(seen.events[cut + 2], ev.SessionCreated)
        # the configuration was re-sent: the new session has the instructions
        restored = seen.of(ev.SessionUpdated)[-1]
        assert restored.session.instructions == "Be brief."
        # per-response operators ended the interrupted response and hold nothing for it
        assert [s.status for s in summaries] == ["failed"]
        assert summaries[0].text == parts[-1].text != ""
        # the session goes on: a new turn completes through the same pipelines
        await text_turn(session)
        await seen.until_count(ev.ResponseDone, 2)
        assert summaries[-1].status == "completed" and summaries[-1].text == GREETING
        assert session.statistics().reconnects == 1
        replay_tracker = ResponseTracker(lambda: None)  # type: ignore[arg-type,return-value]
        accumulator = Accumulator()
        for event in seen.events:
            replay_tracker.step(event, lambda _: None)
            accumulator.step(event, lambda _: None)
        assert replay_tracker.open_responses == 0 and accumulator.open_parts == 0


async def test_per_response_windows_complete_at_reconnect() -> None:
    faults = Faults(drop_after=FIRST_DELTA - 1, connections=1)
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url, reconnect=policy()) as session,
    ):
        seen = Collector(session)
        ended: list[str] = []
        session.events.pipe(ops.per_response()).subscribe(
            lambda window: window.subscribe(on_completed=lambda: ended.append(window.key))
        )
        await session.session.update(session=INSTRUCTIONS)
        await text_turn(session)
        await seen.until_count(Reconnected)
        assert ended == list(seen.of(Reconnected)[0].interrupted_responses) != []


@pytest.mark.parametrize("code", [1001, 1011, 1012, 1013])
async def test_every_recoverable_close_code_reconnects(code: int) -> None:
    faults = Faults(close_after=1, close_code=code, connections=1)
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url, reconnect=policy()) as session,
    ):
        seen = Collector(session)
        await seen.until_count(ev.SessionCreated, 2)
        assert seen.of(Reconnected)[0].close_code == code
        assert [type(e) for e in seen.events] == [ev.SessionCreated, Reconnected, ev.SessionCreated]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (1000, None),
        (3000, AuthenticationError),
        (4000, ConnectionClosedError),
        (4321, ConnectionClosedError),
        (1008, ConnectionClosedError),
    ],
)
async def test_fatal_close_codes_never_reconnect(code: int, error: type[Exception] | None) -> None:
    faults = Faults(close_after=1, close_code=code, connections=1)
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url, reconnect=policy()) as session,
    ):
        seen = Collector(session)
        await seen.until_ended()
        assert seen.count(Reconnected) == 0 and server.connections_served == 1
        if error is None:
            assert seen.completed
        else:
            assert isinstance(seen.error, error) and seen.error.code == code  # type: ignore[attr-defined]


async def test_gives_up_after_max_attempts_with_a_typed_error() -> None:
    async with (
        server_mod.serve(realtime_audio=False, faults=Faults(drop_after=0)) as server,
        rs.connect(base_url=server.base_url, reconnect=policy(max_attempts=3)) as session,
    ):
        seen = Collector(session)
        await seen.until_ended()
        assert isinstance(seen.error, ReconnectFailedError)
        assert seen.error.attempts == 3 and seen.error.code == 1006
        # each attempt opened a socket that dropped before saying anything: no reset
        assert server.connections_served == 4
        assert [m.attempt for m in seen.of(Reconnected)] == [1, 2, 3]
        with pytest.raises(ReconnectFailedError):
            await session.send({"type": "input_audio_buffer.clear"})


async def test_attempt_counter_does_not_reset_on_what_a_server_says() -> None:
    # each of the first three connections says session.created, then closes with 1011: what a
    # server says never resets the counter (only a connection that stayed up stable_after
    # seconds does), so with max_attempts=2 the second such drop is the last
    faults = Faults(close_after=1, close_code=1011, connections=3)
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url, reconnect=policy(max_attempts=2)) as s,
    ):
        seen = Collector(s)
        await seen.until_ended()
        assert [m.attempt for m in seen.of(Reconnected)] == [1, 2]
        assert isinstance(seen.error, ReconnectFailedError) and seen.error.attempts == 2
        assert server.connections_served == 3


async def test_refused_reconnects_count_as_attempts() -> None:
    # the first reconnect attempt finds nobody listening (refused); the second works
    faults = Faults(close_after=1, close_code=1012, connections=1)
    async with server_mod.serve(realtime_audio=False, faults=faults) as server:
        opened = 0
        original = rs.options.open_websocket

        async def flaky(config: Any) -> Any:
            nonlocal opened
            opened += 1
            if opened == 2:
                raise ConnectionRefusedError("refused for the test")
            return await original(config)

        rs.options.open_websocket = flaky  # type: ignore[assignment]
        try:
            async with rs.connect(base_url=server.base_url, reconnect=policy()) as session:
                seen = Collector(session)
                await seen.until_count(Reconnected)
                assert seen.of(Reconnected)[0].attempt == 2 and opened == 3
        finally:
            rs.options.open_websocket = original


async def test_items_are_replayed_when_asked() -> None:
    first_turn = await events_of_text_turn("hello")
    # conn 1: a complete turn, then a second user message, then the cut inside its response
    faults = Faults(drop_after=first_turn + 2 + FIRST_DELTA - 3, connections=1)
    async with server_mod.serve(realtime_audio=False, faults=faults) as server:
        reconnect = policy(replay_items=True)
        async with rs.connect(base_url=server.base_url, reconnect=reconnect) as session:
            seen = Collector(session)
            await text_turn(session, "hello")
            await seen.until_count(ev.RateLimitsUpdated)
            await text_turn(session, "good morning")
            await seen.until_count(Reconnected)
            marker = seen.of(Reconnected)[0]
            assert marker.replayed_items == 3  # user, assistant, user; the cut reply was not done
            after = seen.events[seen.index(Reconnected) + 1 :]
            await seen.until(
                lambda: (
                    sum(
                        isinstance(e, ev.ConversationItemDone)
                        for e in seen.events[seen.index(Reconnected) :]
                    )
                    >= 3
                )
            )
            after = seen.events[seen.index(Reconnected) + 1 :]
            replayed = [e.item for e in after if isinstance(e, ev.ConversationItemDone)]
            assert [type(i) for i in replayed] == [
                ev.UserMessage,
                ev.AssistantMessage,
                ev.UserMessage,
            ]
            assert replayed[1].content[0].text == GREETING
            before = [
                e.item.id
                for e in seen.events[: seen.index(Reconnected)]
                if isinstance(e, ev.ConversationItemDone)
            ]
            assert [i.id for i in replayed] == before


async def test_sends_during_a_reconnect_go_to_the_new_connection() -> None:
    faults = Faults(drop_after=FIRST_DELTA - 2, connections=1)
    async with server_mod.serve(realtime_audio=False, faults=faults) as server:
        # a backoff long enough that the send below is made during it (not a timing bound:
        # the assertions hold however the two interleave)
        slow = ReconnectPolicy(initial_delay=0.5, max_delay=0.5, jitter=(1.0, 1.0))
        async with rs.connect(base_url=server.base_url, reconnect=slow) as session:
            seen = Collector(session)
            await session.session.update(session=INSTRUCTIONS)
            await text_turn(session)
            await seen.until_count(ResponseInterrupted)
            await session.conversation.item.create(item=user_text("sent while reconnecting"))
            # the send returned only once the new connection was in place: the marker that
            # announces it was already delivered (it is published before senders resume)
            assert seen.count(Reconnected) == 1
            await seen.until(
                lambda: any(
                    isinstance(e, ev.ConversationItemDone)
                    and e.item.content[0].text == "sent while reconnecting"
                    for e in seen.events
                )
            )
            echoed = next(
                i
                for i, e in enumerate(seen.events)
                if isinstance(e, ev.ConversationItemDone)
                and e.item.content[0].text == "sent while reconnecting"
            )
            assert seen.index(Reconnected) < echoed  # it went to the new connection


async def test_close_during_backoff_is_prompt_and_clean() -> None:
    faults = Faults(drop_after=FIRST_DELTA - 2)
    async with server_mod.serve(realtime_audio=False, faults=faults) as server:
        slow = ReconnectPolicy(initial_delay=30, max_delay=30)
        session = await rs.connect(base_url=server.base_url, reconnect=slow)
        seen = Collector(session)
        await session.session.update(session=INSTRUCTIONS)
        await text_turn(session)
        await seen.until_count(ResponseInterrupted)  # the drop is seen: backing off for 30 s
        started = time.monotonic()
        await session.close()
        # closing does not wait for the 30 s backoff (a generous bound: far below 30 s)
        assert time.monotonic() - started < 15 and seen.completed and session.closed


async def test_recycle_swaps_at_a_quiet_moment_and_loses_nothing() -> None:
    # The recycle is due 0.05 s after connecting, while (or, on a loaded machine, before) the
    # slow turn below runs. Either way it must not cut a response: whatever the interleaving,
    # the marker falls outside every response, nothing is interrupted and nothing is lost.
    async with server_mod.serve(realtime_audio=False, text_delta_interval=0.03) as server:
        recycling = policy(recycle_after=0.05)
        async with rs.connect(base_url=server.base_url, reconnect=recycling) as session:
            seen = Collector(session)
            await session.session.update(session=INSTRUCTIONS)
            await text_turn(session)
            await seen.until_count(ev.ResponseDone)
            await seen.until_count(Reconnected)
            # (recycling every 0.05 s, there may be several markers by now)
            for marker in seen.of(Reconnected):
                assert marker.recycled and marker.attempt == 0
                assert marker.interrupted_responses == ()
            assert seen.count(ResponseInterrupted) == 0
            created = seen.index(ev.ResponseCreated)
            done = seen.index(ev.ResponseDone)
            cuts = [i for i, e in enumerate(seen.events) if isinstance(e, Reconnected)]
            assert not [cut for cut in cuts if created < cut < done]  # never inside a response
            assert seen.count(ev.ResponseDone) == 1
            assert (
                "".join(e.delta for e in seen.events if isinstance(e, ev.ResponseOutputTextDelta))
                == GREETING
            )
            # the new connection has the configuration (sent again, or sent there first)
            await seen.until(
                lambda: any(
                    isinstance(e, ev.SessionUpdated) and e.session.instructions == "Be brief."
                    for e in seen.events[seen.index(Reconnected) :]
                )
            )
            assert server.connections_served >= 2 and session.statistics().reconnects >= 1
