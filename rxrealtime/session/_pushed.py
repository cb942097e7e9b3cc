"""The fast receive path of a live session: messages pushed from the socket's data callback.

:class:`PushedReceiver` is what :class:`~rxrealtime.session.live.RealtimeSession`'s receive task
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

An idle session costs little memory here: the receiver is one slotted object whose bound
``on_message`` is the sink, and its task waits on one future (no chain of coroutine frames).

What the hub's ``receive`` raises (a bug of ours, or a consumer's ``KeyboardInterrupt``) stops
delivery and is re-raised here, in the receive task, as on the ``recv()`` path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from rxrealtime import events as ev
from rxrealtime.scheduling import Backpressure
from rxrealtime.session.hub import EventHub
from rxrealtime.transport import (
    MessageDelivery,
    TransportClosed,
    WebSocketTransport,
    closed_from,
)

__all__ = ["PushedReceiver", "ReceivingSession"]

_decode = ev.decode
_invalid = ev.InvalidEvent


class ReceivingSession(Protocol):
    """What the receiver needs of its session."""

    _hub: EventHub
    _loop_gate: Backpressure
    _closing: bool
    _idle_timeout: float | None

    async def _wait_for_room(self, gate: Backpressure, loop_gate: Backpressure) -> None:
        """Return when no consumer holds back-pressure, or once the session is closing."""

    def _pump_recv(self, transport: WebSocketTransport) -> Awaitable[TransportClosed]:
        """The ``recv()`` receive loop (for a transport that cannot deliver)."""


class PushedReceiver:
    """Receives one connection's messages into a session's hub (see the module docstring):
    ``await PushedReceiver(session, transport, idle_closed).run()`` returns how it closed."""

    __slots__ = (
        "_delivery",
        "_gate",
        "_holders",
        "_idle_closed",
        "_idle_fired",
        "_last",
        "_loop",
        "_loop_gate",
        "_loop_holders",
        "_receive",
        "_session",
        "_timer",
        "_transport",
    )

    def __init__(
        self,
        session: ReceivingSession,
        transport: WebSocketTransport,
        idle_closed: Callable[[float], TransportClosed],
    ) -> None:
        hub = session._hub
        self._session = session
        self._transport = transport
        self._idle_closed = idle_closed
        self._receive = hub.receive
        self._gate = hub.gate
        self._loop_gate = session._loop_gate
        # the gates' holders, read on every message (a gate never replaces its dict)
        self._holders = hub.gate.holders
        self._loop_holders = session._loop_gate.holders
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()  # when the last message arrived (with an idle timeout)
        self._idle_fired = False
        self._timer: asyncio.TimerHandle | None = None
        self._delivery: MessageDelivery | None = None

    def on_message(self, payload: bytes | bytearray | memoryview, text: bool) -> None:
        """The sink: decode one message and hand it to the hub (the hot path)."""
        event = _decode(payload)  # type: ignore[arg-type]  # orjson reads any bytes-like
        if event.__class__ is not _invalid:
            self._receive(payload, event)
        else:
            frame: str | bytes = bytes(payload)
            if text:
                try:
                    frame = bytes(payload).decode()
                except UnicodeDecodeError as exc:
                    assert self._delivery is not None
                    self._delivery.reject(1007, f"{exc.reason} at position {exc.start}", exc)
                    return
            self._receive(frame, _decode(frame))
        if self._timer is not None:
            self._last = self._loop.time()
        if (self._holders or self._loop_holders) and not self._session._closing:
            assert self._delivery is not None
            self._delivery.pause()

    async def run(self) -> TransportClosed:
        """Deliver until the connection closes; return how it closed."""
        session, gate, loop_gate = self._session, self._gate, self._loop_gate
        if (gate.holders or loop_gate.holders) and not session._closing:
            await session._wait_for_room(gate, loop_gate)
        delivery = self._delivery = self._transport.deliver(self.on_message)
        if delivery is None:  # recv() was used on it already: read it that way
            return await session._pump_recv(self._transport)
        idle = session._idle_timeout
        try:
            while True:
                if delivery.paused:
                    self._stop_timer()
                    await session._wait_for_room(gate, loop_gate)
                    self._last = self._loop.time()
                    delivery.resume()
                    continue
                if delivery.ended:
                    return closed_from(await delivery.closed())
                if idle is not None and self._timer is None:
                    self._timer = self._loop.call_at(self._last + idle, self._check_idle)
                await delivery.wake_up()
                delivery.raise_failure()
                if self._idle_fired:
                    self._transport.abort()
                    return self._idle_closed(idle or 0.0)
        finally:
            self._stop_timer()
            delivery.detach()

    def _check_idle(self) -> None:
        idle = self._session._idle_timeout
        assert idle is not None and self._delivery is not None
        due = self._last + idle
        if self._loop.time() >= due:
            self._timer = None
            self._idle_fired = True
            self._delivery.interrupt()
        else:
            self._timer = self._loop.call_at(due, self._check_idle)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
