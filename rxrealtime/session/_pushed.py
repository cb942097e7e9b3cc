"""The fast receive path of a live session: messages pushed from the socket's data callback.

:func:`pump_delivered` is what :class:`~rxrealtime.session.live.RealtimeSession`'s receive task
runs on a connection opened by :func:`~rxrealtime.transport.open_websocket`. Instead of waking
up once per frame to ``recv()`` it asks the transport to hand each message over from the
protocol's data callback (:meth:`~rxrealtime.transport.WebSocketTransport.deliver`), decodes it
and gives it to the hub right there, and only wakes up when there is something to decide. Every
promise of the receive task holds unchanged (``tests/session``, ``tests/reliability`` and
``tests/hostile`` run on this path):

* **order, exactly one event per frame**: each message is decoded once and handed to the hub
  once, in the order of the socket (fragmented messages joined);
* **back-pressure**: after a message, when a consumer holds a gate (the hub's, or the loop's)
  and the session is not closing, delivery pauses and the socket is no longer read
  (``transport.pause_reading()``); messages already read are held and delivered, in order,
  once the session's ``wait_for_room`` returns;
* **invalid text**: a text frame that is not UTF-8 fails the connection with 1007, as
  websockets' ``recv()`` does, and nothing after it is delivered; a frame that is not a usable
  event is an :class:`~rxrealtime.events.InvalidEvent` whose ``raw`` is the text (``str``) or
  the binary frame (``bytes``), as on the ``recv()`` path;
* **close codes, max size**: how the connection closed comes from websockets' own close
  exception, exactly as ``recv()`` would raise it (oversized frames are refused by its
  protocol: 1009);
* **idle timeout**: when no message arrived for ``idle_timeout`` seconds while delivery was not
  paused, the socket is aborted and ``idle_closed(idle_timeout)`` is returned.

What the hub's ``receive`` raises (a bug of ours, or a consumer's ``KeyboardInterrupt``) stops
delivery and is re-raised here, in the receive task, as on the ``recv()`` path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from rxrealtime import events as ev
from rxrealtime.scheduling import Backpressure
from rxrealtime.session.hub import EventHub
from rxrealtime.transport import (
    MessageDelivery,
    TransportClosed,
    WebSocketTransport,
    closed_from,
)

__all__ = ["pump_delivered"]


async def pump_delivered(
    transport: WebSocketTransport,
    hub: EventHub,
    loop_gate: Backpressure,
    *,
    idle_timeout: float | None,
    closing: Callable[[], bool],
    wait_for_room: Callable[[], Awaitable[None]],
    idle_closed: Callable[[float], TransportClosed],
) -> TransportClosed | None:
    """Deliver ``transport``'s messages to ``hub`` until the connection closes; return how it
    closed. ``None`` (at once, nothing read) when the transport cannot deliver: read it with
    ``recv()`` instead."""
    gate = hub.gate
    receive = hub.receive
    decode = ev.decode
    invalid = ev.InvalidEvent
    clock = asyncio.get_running_loop().time
    last = clock()  # when the last message arrived (only kept with an idle timeout)
    delivery: MessageDelivery

    def on_message(payload: bytes | bytearray | memoryview, text: bool) -> None:
        nonlocal last
        event = decode(payload)  # type: ignore[arg-type]  # orjson reads any bytes-like
        if event.__class__ is invalid:
            frame: str | bytes = bytes(payload)
            if text:
                try:
                    frame = bytes(payload).decode()
                except UnicodeDecodeError as exc:
                    delivery.reject(1007, f"{exc.reason} at position {exc.start}", exc)
                    return
            receive(frame, decode(frame))
        else:
            receive(payload, event)
        if idle_timeout is not None:
            last = clock()
        if (gate.holders or loop_gate.holders) and not closing():
            delivery.pause()

    found = transport.deliver(on_message)
    if found is None:
        return None
    delivery = found
    idle_fired = False
    timer: asyncio.TimerHandle | None = None

    def check_idle() -> None:
        nonlocal timer, idle_fired
        assert idle_timeout is not None
        due = last + idle_timeout
        if clock() >= due:
            timer = None
            idle_fired = True
            delivery.interrupt()
        else:
            timer = asyncio.get_running_loop().call_at(due, check_idle)

    try:
        while True:
            if delivery.paused:
                if timer is not None:
                    timer.cancel()
                    timer = None
                await wait_for_room()
                last = clock()
                delivery.resume()
                continue
            if delivery.ended:
                return closed_from(await delivery.closed())
            if idle_timeout is not None and timer is None:
                timer = asyncio.get_running_loop().call_at(last + idle_timeout, check_idle)
            await delivery.wait()
            if idle_fired:
                transport.abort()
                return idle_closed(idle_timeout or 0.0)
    finally:
        if timer is not None:
            timer.cancel()
        delivery.detach()
