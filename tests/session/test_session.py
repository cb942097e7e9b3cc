"""The session over real loopback sockets against the embedded server."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
import reactivex
from reactivex import operators as rops
from session_helpers import GREETING, server_mod, text_turn

import rxrealtime.session as rs
from rxrealtime import events as ev
from rxrealtime.errors import (
    AuthenticationError,
    ConnectionClosedError,
    ConnectionClosedOK,
    InsecureURLError,
    SessionRejectedError,
)
from rxrealtime.scheduling import first, last, to_list

KEY = "sk-secret-session-key-42"


def text_of(events: list[Any]) -> str:
    return "".join(e.delta for e in events if isinstance(e, ev.ResponseOutputTextDelta))


def of_type(kind: type) -> Any:
    return rops.filter(lambda e: isinstance(e, kind))


async def wait_frames(session: Any, n: int) -> None:
    """Poll the counters (no subscriber may be attached in the tests that use this)."""
    async with asyncio.timeout(10):
        while session.statistics().frames_in < n:  # noqa: ASYNC110 (polling a counter)
            await asyncio.sleep(0.001)


async def test_two_independent_subscribers_with_different_pipelines(server: Any) -> None:
    async with rs.connect(base_url=server.base_url) as session:
        words: list[str] = []
        kinds: list[str] = []
        session.events.pipe(
            of_type(ev.ResponseOutputTextDelta), rops.map(lambda e: e.delta)
        ).subscribe(words.append)
        session.events.pipe(rops.map(lambda e: e.type)).subscribe(kinds.append)
        done = asyncio.ensure_future(first(session.events.pipe(of_type(ev.ResponseDone))))
        await text_turn(session)
        response = await asyncio.wait_for(done, 5)
        assert "".join(words) == GREETING
        assert kinds[0] == "session.created"
        assert kinds.index("response.created") < kinds.index("response.output_text.delta")
        assert "response.done" in kinds
        assert response.response.status == "completed"
        assert session.statistics().subscribers == 2


async def test_subscribers_join_and_leave_freely(server: Any) -> None:
    async with rs.connect(base_url=server.base_url) as session:
        early: list[Any] = []
        subscription = session.events.subscribe(early.append)
        await text_turn(session)
        await first(session.events.pipe(of_type(ev.ResponseDone)))
        subscription.dispose()
        seen_before = len(early)
        late: list[Any] = []
        session.events.subscribe(late.append)
        await text_turn(session, "2 + 2")
        await first(session.events.pipe(of_type(ev.ResponseDone)))
        assert len(early) == seen_before  # left: nothing more
        assert text_of(late) == "2 + 2 = 4."
        assert not any(isinstance(e, ev.SessionCreated) for e in late)  # joined late: live only


async def test_backlog_reaches_every_subscriber_of_the_first_tick(server: Any) -> None:
    async with rs.connect(base_url=server.base_url) as session:
        await wait_frames(session, 1)
        assert session.statistics().buffered == 1
        a: list[Any] = []
        b: list[Any] = []
        session.events.subscribe(a.append)
        session.events.subscribe(b.append)  # same synchronous block: also gets the backlog
        await asyncio.sleep(0)
        c: list[Any] = []
        session.events.subscribe(c.append)  # a later turn: live events only
        await text_turn(session)
        await first(session.events.pipe(of_type(ev.ResponseDone)))
    assert isinstance(a[0], ev.SessionCreated) and isinstance(b[0], ev.SessionCreated)
    assert not any(isinstance(e, ev.SessionCreated) for e in c)
    assert text_of(a) == text_of(b) == text_of(c) == GREETING
    assert session.statistics().dropped == 0


async def test_backlog_overflow_is_counted_and_logged(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # how many frames a fresh session and one text turn bring (counted on another session)
    async with rs.connect(base_url=server.base_url) as probe:
        counted: list[Any] = []
        probe.events.subscribe(counted.append)
        limits = first(probe.events.pipe(of_type(ev.RateLimitsUpdated)))  # the turn's last
        await text_turn(probe)
        await limits
        total = len(counted)
    async with rs.connect(base_url=server.base_url, buffer_size=3) as session:
        await text_turn(session)
        await wait_frames(session, total)  # the whole turn arrived, nobody consumed it
        stats = session.statistics()
        assert stats.buffered == 3
        assert stats.dropped == stats.frames_in - 3 == total - 3
        got = asyncio.ensure_future(to_list(session.events))
        await asyncio.sleep(0)
    kept = await got
    assert len(kept) == 3
    assert isinstance(kept[-1], ev.RateLimitsUpdated)
    assert "dropped" in caplog.text


async def test_events_before_the_end_reach_a_subscriber_arriving_after_it() -> None:
    faults = server_mod.Faults(close_after=1, close_code=1011, close_reason="bye")
    async with server_mod.serve(realtime_audio=False, faults=faults) as server:
        session = await rs.connect(base_url=server.base_url)
        await session.wait_closed()
        events: list[Any] = []
        errors: list[Exception] = []
        session.events.subscribe(events.append, errors.append)
        await asyncio.sleep(0)
        assert isinstance(events[0], ev.SessionCreated)
        assert isinstance(errors[0], ConnectionClosedError)
        assert (errors[0].code, errors[0].reason) == (1011, "bye")
        # a subscriber after everything was delivered gets the end at once
        more: list[Exception] = []
        session.events.subscribe(on_error=more.append)
        assert more and more[0] is errors[0]


async def test_a_raising_subscriber_is_detached_and_others_go_on(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with rs.connect(base_url=server.base_url) as session:
        calls: list[Any] = []

        def explode(event: Any) -> None:
            calls.append(event)
            raise RuntimeError("subscriber bug")

        good: list[Any] = []
        session.events.pipe(of_type(ev.ResponseOutputTextDelta)).subscribe(explode)
        session.events.subscribe(good.append)
        # an operator error with no on_error also lands on the subscriber (reactivex raises it)
        session.events.pipe(rops.map(lambda e: 1 / 0)).subscribe(lambda _: None)
        await text_turn(session)
        await first(session.events.pipe(of_type(ev.ResponseDone)))
        stats = session.statistics()
    assert len(calls) == 1
    assert text_of(good) == GREETING
    assert stats.subscriber_errors == 2
    assert stats.subscribers == 1  # only `good` is left (first() unsubscribed itself)
    assert "RuntimeError" in (stats.last_error or "") or "ZeroDivision" in (stats.last_error or "")
    records = [r for r in caplog.records if r.name == "rxrealtime" and r.levelno == logging.ERROR]
    assert len(records) == 2 and records[0].exc_info is not None


@pytest.mark.parametrize("frame", ["{not json", b"\x00\x01binary"])
async def test_a_malformed_frame_mid_response_is_an_event(frame: str | bytes) -> None:
    faults = server_mod.Faults(malformed_after=6, malformed_frame=frame)
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        events: list[Any] = []
        errors: list[Exception] = []
        session.events.subscribe(events.append, errors.append)
        await text_turn(session)
        await first(session.events.pipe(of_type(ev.ResponseDone)))
        stats = session.statistics()
    invalid = [i for i, e in enumerate(events) if isinstance(e, ev.InvalidEvent)]
    assert invalid == [6]
    assert events[6].raw == frame
    assert text_of(events) == GREETING
    assert stats.invalid_events == 1 and errors == []


async def test_an_abrupt_disconnect_delivers_everything_then_a_typed_error() -> None:
    async with (
        server_mod.serve(realtime_audio=False, faults=server_mod.Faults(drop_after=8)) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        events: list[Any] = []
        ended = asyncio.get_running_loop().create_future()
        session.events.subscribe(events.append, ended.set_result, lambda: ended.set_result(None))
        await text_turn(session)
        error = await asyncio.wait_for(ended, 5)
        assert session.closed
    assert isinstance(error, ConnectionClosedError)
    assert error.code == 1006
    assert len(events) == 8
    assert session.statistics().close_code == 1006
    assert session.exception() is error
    with pytest.raises(ConnectionClosedError):
        await session.send({"type": "response.create"})


@pytest.mark.parametrize(("code", "completes"), [(1000, True), (1001, False), (4321, False)])
async def test_server_close_codes(code: int, completes: bool) -> None:
    faults = server_mod.Faults(close_after=1, close_code=code, close_reason="why")
    async with (
        server_mod.serve(realtime_audio=False, faults=faults) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        if completes:
            assert len(await to_list(session.events)) == 1
        else:
            with pytest.raises(ConnectionClosedError) as info:
                await to_list(session.events)
            assert (info.value.code, info.value.reason) == (code, "why")
            assert "why" in str(info.value)


async def test_wrong_key_is_an_authentication_error_naming_the_cause() -> None:
    async with (
        server_mod.serve(realtime_audio=False, api_key="right-key") as server,
        rs.connect(base_url=server.base_url, api_key=KEY) as session,
    ):
        events: list[Any] = []
        with pytest.raises(AuthenticationError) as info:
            await to_list(session.events.pipe(rops.do_action(events.append)))
        assert isinstance(events[-1], ev.ErrorEvent)  # the error event is data, delivered first
        error = info.value
        assert error.code == 3000 and error.error_code == "invalid_api_key"
        assert "the API key was rejected (invalid_api_key)" in str(error)
        assert KEY not in str(error) + repr(error) + repr(session) + str(session.statistics())
        async with rs.connect(base_url=server.base_url, api_key="right-key") as good:
            created = await first(good.events)
            assert isinstance(created, ev.SessionCreated)


async def test_unknown_model_is_a_session_rejected_error() -> None:
    async with (
        server_mod.serve(realtime_audio=False, models={"gpt-realtime"}) as server,
        rs.connect("no-such-model", base_url=server.base_url) as session,
    ):
        with pytest.raises(SessionRejectedError) as info:
            await to_list(session.events)
    assert info.value.code == 4000
    assert "invalid_model" in str(info.value) and "model was rejected" in str(info.value)


async def test_time_based_operators_run_on_the_loop_thread(server: Any) -> None:
    loop_thread = threading.get_ident()
    threads: dict[str, set[int]] = {
        "delay": set(),
        "debounce": set(),
        "buffer": set(),
        "timeout": set(),
    }
    async with rs.connect(base_url=server.base_url) as session:
        deltas = session.events.pipe(of_type(ev.ResponseOutputTextDelta))
        deltas.pipe(rops.delay(0.01)).subscribe(
            lambda _: threads["delay"].add(threading.get_ident())
        )
        deltas.pipe(rops.debounce(0.01)).subscribe(
            lambda _: threads["debounce"].add(threading.get_ident())
        )
        buffered = session.events.pipe(rops.buffer_with_time(0.01))
        buffered.subscribe(lambda _: threads["buffer"].add(threading.get_ident()))
        timed_out = asyncio.get_running_loop().create_future()

        def on_timeout(error: Exception) -> None:
            threads["timeout"].add(threading.get_ident())
            timed_out.set_result(error)

        session.events.pipe(of_type(ev.ConversationItemDeleted), rops.timeout(0.05)).subscribe(
            on_error=on_timeout
        )
        await text_turn(session)
        await first(session.events.pipe(of_type(ev.ResponseDone)))
        assert isinstance(await asyncio.wait_for(timed_out, 5), Exception)
        # the trailing debounce/delay emissions
        await last(deltas.pipe(rops.take_until(reactivex.timer(0.05))), default=None)
    assert all(threads.values()), threads
    assert set().union(*threads.values()) == {loop_thread}
    assert not [t for t in threading.enumerate() if t.name.startswith("Thread-") and t.daemon]


async def test_async_iteration_and_recv_see_every_event(server: Any) -> None:
    async with rs.connect(base_url=server.base_url) as session:
        first_event = await session.recv()
        assert isinstance(first_event, ev.SessionCreated)
        iterator = session.iterate()
        await text_turn(session)
        seen: list[Any] = []
        async for event in iterator:
            seen.append(event)
            if isinstance(event, ev.ResponseDone):
                break
        assert text_of(seen) == GREETING
        # recv() kept its own queue meanwhile
        received = [await session.recv() for _ in range(len(seen))]
        assert [e.type for e in received] == [e.type for e in seen]
        raw = await session.recv_bytes()
        assert raw.startswith(b"{")  # rate_limits.updated, as sent
        await iterator.aclose()
        assert session.statistics().iterators == 1  # only the recv() queue is left
        temporary = session.iterate()
        assert session.statistics().iterators == 2
        del temporary  # dropped without aclose(): detached at once
        assert session.statistics().iterators == 1
    with pytest.raises(ConnectionClosedOK):
        await session.recv()
    assert [e async for e in session] == []  # iterating a closed session ends at once


async def test_recv_sees_the_end_of_an_abnormal_close() -> None:
    async with (
        server_mod.serve(realtime_audio=False, faults=server_mod.Faults(drop_after=1)) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        assert isinstance(await session.recv(), ev.SessionCreated)
        with pytest.raises(ConnectionClosedError):
            await session.recv()
        with pytest.raises(ConnectionClosedError):
            async for _ in session:
                pass


async def test_a_slow_async_for_pauses_the_receive_task_without_losing_events(server: Any) -> None:
    async with rs.connect(base_url=server.base_url, buffer_size=2) as session:
        iterator = session.iterate()
        await text_turn(session)
        await wait_frames(session, 3)  # the 3rd event filled the iterator: the gate is held
        await asyncio.sleep(0.05)  # a chance to read more, which the receive task must not take
        assert session.statistics().frames_in == 3
        seen = []
        async for event in iterator:
            seen.append(event)
            if isinstance(event, ev.ResponseDone):
                break
        assert text_of(seen) == GREETING and isinstance(seen[0], ev.SessionCreated)
        assert session.statistics().dropped == 0


async def test_statistics_snapshot(server: Any) -> None:
    async with rs.connect(base_url=server.base_url) as session:
        error = asyncio.ensure_future(first(session.events.pipe(of_type(ev.ErrorEvent))))
        cleared = asyncio.ensure_future(
            first(session.events.pipe(of_type(ev.InputAudioBufferCleared)))
        )
        await session.send_raw('{"type": "not.a.thing"}')  # answered with an error event: data
        await session.input_audio_buffer.clear()
        assert (await asyncio.wait_for(error, 5)).error.code == "invalid_value"
        await asyncio.wait_for(cleared, 5)
        stats = session.statistics()
        assert stats.frames_out == 2 and stats.bytes_out > 40
        assert stats.frames_in == 3 and stats.bytes_in > 100
        assert stats.error_events == 1 and stats.unknown_events == 0
        assert not stats.closed and stats.close_code is None
        with pytest.raises(AttributeError):
            stats.frames_in = 0  # type: ignore[misc]
    final = session.statistics()
    assert final.closed and final.close_code == 1000 and final.subscribers == 0


async def test_repr_and_errors_never_show_the_key(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        async with rs.connect(base_url=server.base_url, api_key=KEY) as session:
            await first(session.events)
            text = repr(session) + str(session.statistics())
    assert KEY not in text
    # (the embedded server's own websockets.server log shows what it received; not ours)
    client_logs = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith("websockets.server")
    )
    assert KEY not in client_logs
    assert "Authorization: ***" in caplog.text  # the websockets handshake log, masked


async def test_plain_ws_to_a_remote_host_is_refused_before_any_io() -> None:
    with pytest.raises(InsecureURLError):
        await rs.connect(base_url="ws://example.com/v1", api_key=KEY)
    with pytest.raises(InsecureURLError):
        async with rs.connect(base_url="ws://192.0.2.1/v1", api_key=KEY):
            pass


async def test_a_refused_upgrade_is_a_handshake_error_without_the_key() -> None:
    from websockets.asyncio.server import serve

    from rxrealtime.errors import HandshakeError

    def refuse(connection: Any, request: Any) -> Any:
        auth = request.headers.get("Authorization", "")
        return connection.respond(403, f"forbidden for {auth}\n")

    async with serve(lambda ws: ws.close(), "127.0.0.1", 0, process_request=refuse) as raw:
        port = raw.sockets[0].getsockname()[1]
        with pytest.raises(HandshakeError) as info:
            await rs.connect(base_url=f"ws://127.0.0.1:{port}/v1", api_key=KEY)
    assert info.value.status_code == 403
    assert "403" in str(info.value) and "forbidden" in str(info.value)
    assert KEY not in str(info.value)


async def test_a_stalled_handshake_times_out() -> None:
    faults = server_mod.Faults(stall_handshake=True)
    async with server_mod.serve(realtime_audio=False, faults=faults) as server:
        with pytest.raises(TimeoutError):
            await rs.connect(base_url=server.base_url, websocket_options={"open_timeout": 0.2})
