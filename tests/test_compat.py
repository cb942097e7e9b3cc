"""Pins every reactivex/asyncio behaviour ``rxrealtime._compat`` relies on.

If one of these fails after upgrading reactivex (or Python), the shortcut named in the test no
longer holds: fix ``rxrealtime/_compat.py`` (and only it), don't loosen the test.
"""

from __future__ import annotations

import asyncio
import os
import threading
import warnings
from datetime import timedelta
from typing import Any

import pytest
import reactivex
from reactivex import abc
from reactivex import operators as rops
from reactivex.disposable import Disposable

from rxrealtime import _compat


def test_running_loop_is_none_off_the_loop_and_the_loop_on_it() -> None:
    assert _compat.running_loop() is None
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(_on_loop()) is loop
    finally:
        loop.close()
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(_compat.running_loop()))
    thread.start()
    thread.join()
    assert seen == [None]


async def _on_loop() -> asyncio.AbstractEventLoop | None:
    return _compat.running_loop()


def _captured_observer(*args: Any) -> abc.ObserverBase[Any]:
    """The observer reactivex hands a subscribe function for ``subscribe(*args)``."""
    captured: list[abc.ObserverBase[Any]] = []

    def subscribe(observer: abc.ObserverBase[Any], _: abc.SchedulerBase | None) -> Any:
        captured.append(observer)
        return Disposable()

    reactivex.Observable(subscribe).subscribe(*args)
    return captured[0]


def test_subscribers_arrive_wrapped_and_the_direct_call_reaches_their_callback() -> None:
    got: list[int] = []
    observer = _captured_observer(got.append)
    direct = _compat.direct_on_next(observer)
    assert direct is not observer.on_next  # the shortcut is taken (not the bound fallback)
    direct(1)
    assert got == [1]
    # what the shortcut skips is only the is_stopped re-check: on_next delivers the same way
    observer.on_next(2)
    assert got == [1, 2]
    observer.dispose()
    observer.on_next(3)  # stopped: on_next drops it (a session guard does this itself)
    assert got == [1, 2]


def test_an_operator_pipeline_subscribes_through_the_same_wrapper() -> None:
    """What a session sees for ``events.pipe(op).subscribe(...)``: the shortcut applies too."""
    got: list[int] = []
    captured: list[abc.ObserverBase[int]] = []

    def subscribe(observer: abc.ObserverBase[int], _: abc.SchedulerBase | None) -> Any:
        captured.append(observer)
        return Disposable()

    reactivex.Observable(subscribe).pipe(rops.map(lambda x: x * 10)).subscribe(got.append)
    _compat.direct_on_next(captured[0])(4)
    assert got == [40]


def test_other_observers_keep_their_own_on_next() -> None:
    got: list[int] = []
    observer = reactivex.Observer(got.append)
    _compat.direct_on_next(observer)(5)
    assert got == [5]


def test_the_subscribe_function_of_an_observable_runs_its_subscriptions() -> None:
    source = reactivex.of(1, 2, 3).pipe(rops.map(lambda x: x + 1))
    core = _compat.subscribe_function(source)
    rewrapped: reactivex.Observable[int] = reactivex.Observable(core)
    got: list[int] = []
    rewrapped.subscribe(got.append)
    assert got == [2, 3, 4]


def test_first_of_nothing_raises_the_exported_class() -> None:
    errors: list[Exception] = []
    reactivex.empty().pipe(rops.first()).subscribe(on_error=errors.append)
    assert isinstance(errors[0], _compat.SequenceContainsNoElementsError)


def test_periodic_scheduler_builds_periodic_work_on_schedule_relative() -> None:
    class Manual(_compat.PeriodicScheduler):
        """Runs what is scheduled only when told to (records relative waits)."""

        def __init__(self) -> None:
            super().__init__()
            self.due: list[tuple[float, Any, Any]] = []

        def schedule(self, action: Any, state: Any = None) -> abc.DisposableBase:
            return self.schedule_relative(0.0, action, state)

        def schedule_relative(
            self, duetime: Any, action: Any, state: Any = None
        ) -> abc.DisposableBase:
            self.due.append((self.to_seconds(duetime), action, state))
            return Disposable()

        def schedule_absolute(
            self, duetime: Any, action: Any, state: Any = None
        ) -> abc.DisposableBase:
            return self.schedule_relative(self.to_datetime(duetime) - self.now, action, state)

        def step(self) -> None:
            _, action, state = self.due.pop(0)
            self.invoke_action(action, state=state)

    scheduler = Manual()
    ticks: list[int] = []

    def tick(state: Any) -> int:
        ticks.append(state)
        return int(state) + 1

    scheduler.schedule_periodic(timedelta(seconds=0.5), tick, 0)
    for _ in range(3):
        scheduler.step()
    assert ticks == [0, 1, 2]
    assert 0 < scheduler.due[0][0] <= 0.5  # the next tick, less the time the last one took


def test_observer_subclass_hooks_and_is_stopped() -> None:
    """The sinks' contract with ``reactivex.Observer``: the ``_core`` hooks and ``is_stopped``."""

    class Recording(_compat.Observer[int]):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[object] = []

        def _on_next_core(self, value: int) -> None:
            self.calls.append(value)

        def _on_error_core(self, error: Exception) -> None:
            self.calls.append(error)

        def _on_completed_core(self) -> None:
            self.calls.append("completed")

    sink = Recording()
    assert sink.is_stopped is False
    sink.on_next(1)
    sink.on_completed()
    sink.on_next(2)  # stopped: ignored
    sink.on_completed()  # once only
    assert sink.calls == [1, "completed"] and sink.is_stopped

    failed = Recording()
    error = ValueError("x")
    failed.on_error(error)
    failed.on_error(error)
    assert failed.calls == [error]

    disposed = Recording()
    disposed.dispose()
    assert disposed.is_stopped
    disposed.on_next(3)
    assert disposed.calls == []

    stopped_by_hand = Recording()
    stopped_by_hand.is_stopped = True  # how a sink closes itself
    stopped_by_hand.on_next(4)
    assert stopped_by_hand.calls == []


# -- websockets ------------------------------------------------------------------------------


async def _with_server(
    handler: Any, client_class: type[_compat.WebSocketClientConnection], **options: Any
) -> Any:
    """Connect a ``client_class`` connection to a websockets server running ``handler``."""
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve

    server = await serve(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = await connect(f"ws://127.0.0.1:{port}", create_connection=client_class, **options)
    return server, client


async def test_process_event_sees_the_response_then_every_frame_in_order() -> None:
    from websockets.frames import Frame, Opcode
    from websockets.http11 import Response

    seen: list[object] = []

    class Recording(_compat.WebSocketClientConnection):
        def process_event(self, event: Any) -> None:
            seen.append(event)
            super().process_event(event)

    async def handler(ws: Any) -> None:
        await ws.send("one")
        await ws.send(b"two")
        await ws.send(["thr", "ee"])  # a fragmented message
        await ws.wait_closed()

    server, client = await _with_server(handler, Recording)
    try:
        assert await client.recv() == "one"  # the base implementation still queues for recv()
        assert await client.recv() == b"two"
        assert await client.recv() == "three"
    finally:
        await client.close()
        server.close()
        await server.wait_closed()
    assert isinstance(seen[0], Response)
    data = [
        (f.opcode, bytes(f.data), f.fin)
        for f in seen[1:]
        if isinstance(f, Frame) and f.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
    ]
    assert data[:3] == [
        (Opcode.TEXT, b"one", True),
        (Opcode.BINARY, b"two", True),
        (Opcode.TEXT, b"thr", False),
    ]
    rest = data[3:]  # continuation frames, the last one final
    assert all(opcode is Opcode.CONT for opcode, _, _ in rest) and rest[-1][2]
    assert b"".join(payload for _, payload, _ in rest) == b"ee"


async def test_queued_frames_are_what_recv_returns_and_fail_closes_with_the_code() -> None:
    from websockets.frames import Frame, Opcode

    closed: list[int | None] = []

    async def handler(ws: Any) -> None:
        await ws.wait_closed()
        closed.append(ws.close_code)

    server, client = await _with_server(handler, _compat.WebSocketClientConnection)
    try:
        _compat.queue_websocket_frame(client, Frame(Opcode.TEXT, b"queued", fin=False))
        _compat.queue_websocket_frame(client, Frame(Opcode.CONT, b" here"))
        assert await client.recv() == "queued here"
        await _compat.fail_websocket(client, 1007, "bad text", ValueError("cause"))
        exc = client.protocol.close_exc
        assert exc.sent is not None and exc.sent.code == 1007 and exc.sent.reason == "bad text"
        assert isinstance(client.close_exc.__cause__, ValueError)
    finally:
        server.close()
        await server.wait_closed()
    assert closed == [1007]


def test_message_limit_follows_max_size() -> None:
    from websockets.client import ClientProtocol
    from websockets.uri import parse_uri

    uri = parse_uri("ws://localhost/")
    assert _compat.websocket_message_limit(ClientProtocol(uri, max_size=4096)) == 4096
    assert _compat.websocket_message_limit(ClientProtocol(uri, max_size=None)) is None
    split = ClientProtocol(uri, max_size=(8192, 1024))  # (message, fragment) since websockets 16
    assert _compat.websocket_message_limit(split) == 1024


async def test_a_frame_sent_now_is_what_send_sends_in_order() -> None:
    got: list[str | bytes] = []

    async def handler(ws: Any) -> None:
        async for message in ws:
            got.append(message)

    server, client = await _with_server(
        handler, _compat.WebSocketClientConnection, compression=None
    )
    try:
        assert await _compat.send_websocket_frame(client, b'{"a":1}', True)
        await client.send("two")
        assert await _compat.send_websocket_frame(client, b"\x00three", False)
        big = b"x" * (1 << 20)  # over the write buffer's limit: the send drains, as send() does
        assert await _compat.send_websocket_frame(client, big, True)
        await client.close()
        assert not await _compat.send_websocket_frame(client, b"late", True)  # closed: no-op
    finally:
        server.close()
        await server.wait_closed()
    assert got == ['{"a":1}', "two", b"\x00three", big.decode()]


async def test_a_frame_is_not_sent_now_when_an_extension_would_change_it() -> None:
    got: list[str | bytes] = []

    async def handler(ws: Any) -> None:
        async for message in ws:
            got.append(message)

    server, client = await _with_server(handler, _compat.WebSocketClientConnection)
    try:
        assert client.protocol.extensions  # permessage-deflate, websockets' default
        assert not await _compat.send_websocket_frame(client, b"compressed", True)
        await client.send("compressed")
        await client.close()
    finally:
        server.close()
        await server.wait_closed()
    assert got == ["compressed"]


def test_client_frames_are_masked_with_fresh_keys() -> None:
    keys = set()
    for n in range(3000):  # across refills of the pool of keys
        data = bytes([n % 251]) * (n % 300)
        frame = _compat._client_frame(data, True)
        assert frame[0] == 0x81 and frame[1] & 0x80  # final text frame, masked
        length = frame[1] & 0x7F
        start = 2 if length < 126 else 4
        key = frame[start : start + 4]
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(frame[start + 4 :]))
        assert payload == data
        keys.add(key)
    assert len(keys) > 2990  # os.urandom keys: a repeat among 3,000 is rare, not 10
    long = _compat._client_frame(b"x" * 70000, False)
    assert long[:2] == b"\x82\xff" and int.from_bytes(long[2:10], "big") == 70000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_draws_masking_keys_of_its_own() -> None:
    def key(frame: bytes) -> bytes:
        return frame[2:6]  # a short frame: the key follows the two header bytes

    _compat._client_frame(b"warm", True)  # the parent now holds a pool of unused keys
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # 3.12+ warns about fork() beside other threads
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: report its next key, then leave at once
        try:
            os.write(write_end, key(_compat._client_frame(b"x", True)))
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        child_key = os.read(read_end, 4)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    parent_key = key(_compat._client_frame(b"x", True))
    assert len(child_key) == 4
    assert child_key != parent_key  # without the reset both take the pool's next key


async def test_a_released_queue_leaves_a_connection_that_closes_cleanly() -> None:
    async def handler(ws: Any) -> None:
        await ws.wait_closed()

    server, client = await _with_server(handler, _compat.WebSocketClientConnection)
    try:
        _compat.release_websocket_queue(client)
        await client.close()  # connection_lost closes the stand-in: nothing to end
        assert client.close_code == 1000
    finally:
        server.close()
        await server.wait_closed()
