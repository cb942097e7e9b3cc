"""Messages delivered from the socket's data callback: :class:`PushConnection` and
:class:`MessageDelivery`, the fast receive path of
:class:`~rxrealtime.transport.WebSocketTransport`.

A websockets connection normally parses every frame with its sans-I/O protocol (a generator per
frame), queues each message for ``recv()``, and a reader task wakes up once per message to take
it: at real-time event rates that is most of a client's CPU. :class:`PushConnection` (the
connection :func:`~rxrealtime.transport.open_websocket` opens) does two things instead:

* **it splits frames itself** once the ``101`` response has been read (the frames start right
  after its blank line): a complete, unmasked, unfragmented text or binary frame with no
  reserved bits and within the size limit is cut out of the bytes just read. Every other frame
  — pings, pongs, fragments, close frames, anything malformed or too big — goes to websockets'
  protocol byte for byte, in order, and the protocol handles it exactly as it always does
  (automatic pongs, the closing handshake, ``1002``/``1009`` failures). The protocol therefore
  only ever sees whole frames and stays at a frame boundary; at the first fragment, close frame
  or malformed frame the scanner hands everything to the protocol for good. With an extension
  negotiated (compression) or websockets' debug logging on, the protocol reads everything.
* **it hands each message to a sink** straight from the data callback, synchronously
  (:meth:`PushConnection.deliver`), instead of queueing it for a task.

Each connection serves one kind of reader, chosen by the first one that asks: ``recv()`` (also
``async for`` and ``recv_streaming()``: websockets' own queue, exactly as usual) or
:meth:`PushConnection.deliver`. Messages that arrive before either asks (the server's first
events can come in the same packet as the handshake) are held, in order, and handed to whichever
reader comes first; past :data:`HOLD_LIMIT` held frames the socket is no longer read until then,
as websockets' own queue does.

Guarantees of :class:`MessageDelivery` (what the session's receive path builds on):

* **Order, exactly once**: every complete message, and nothing else, is passed to ``sink``
  once, in the order of the socket, fragmented messages joined. The payload is bytes-like (not
  copied out of the read buffer more than once); a text payload is *not* yet checked for UTF-8
  (the sink's JSON parser checks it anyway): a sink that finds it invalid calls
  :meth:`MessageDelivery.reject`, and the connection fails with ``1007`` as websockets'
  ``recv()`` would fail it; nothing after it is delivered.
* **Back-pressure**: :meth:`MessageDelivery.pause` (from inside ``sink``) stops delivery at
  once and stops reading the socket (``transport.pause_reading()``); messages already read are
  held, in order, and :meth:`MessageDelivery.resume` delivers them before reading resumes.
* **The end**: :meth:`MessageDelivery.wait` returns when the reader has something to do (a
  pause, the end of the connection, a rejection, :meth:`MessageDelivery.interrupt`) and raises
  what ``sink`` raised (delivery stops there). Once :attr:`MessageDelivery.ended` (the
  connection is gone and every message before its end was delivered),
  :meth:`MessageDelivery.closed` says how it closed, as ``recv()`` would have raised it.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable
from typing import Any, Final

from websockets.exceptions import ConcurrencyError, ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from rxrealtime._compat import (
    WebSocketClientConnection,
    fail_websocket,
    queue_websocket_frame,
    release_websocket_queue,
    send_websocket_frame,
    websocket_message_limit,
)

__all__ = [
    "HOLD_LIMIT",
    "READ_BUFFER_SIZE",
    "MAX_FRAGMENTS",
    "MessageDelivery",
    "MessageSink",
    "Payload",
    "PushConnection",
]

Payload = bytes | bytearray | memoryview
"""A message as read, bytes-like: for a message of one frame, websockets' frame buffer (a
``bytearray``) handed over as is, not copied (websockets no longer uses it); ``bytes`` for a
joined fragmented one."""

MessageSink = Callable[[Payload, bool], object]
"""Called with each complete message: its payload and whether it came in text frames."""

READ_BUFFER_SIZE: Final = 256 * 1024
"""Bytes one read may take from the socket (asyncio's own read size)."""

HOLD_LIMIT: Final = 16
"""Frames held for a reader not chosen yet before the socket stops being read (websockets'
own queue pauses at the same number by default)."""

MAX_FRAGMENTS: Final = 4096
"""Fragments of one message past which the connection fails with 1009 (websockets' limit)."""

_HANDSHAKE: Final = "handshake"  # reading the HTTP response
_SCANNING: Final = "scanning"  # splitting frames here
_PASSTHROUGH: Final = "passthrough"  # websockets reads everything

_TEXT: Final = Opcode.TEXT
_BINARY: Final = Opcode.BINARY
_CONT: Final = Opcode.CONT
_DATA: Final = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})


class _ReadBuffer(threading.local):
    """The buffer every connection of a thread reads the socket into (reads never interleave
    on one thread: each is copied out before the next begins)."""

    def __init__(self) -> None:
        self.view = memoryview(bytearray(READ_BUFFER_SIZE))


_read_buffer = _ReadBuffer()


class PushConnection(WebSocketClientConnection, asyncio.BufferedProtocol):
    """A websockets ``ClientConnection`` whose messages can be delivered from its data
    callback (see the module docstring). ``recv()`` works as usual when nothing asked for
    delivery."""

    # slots, not the instance dict: websockets' connection already has about 26 attributes, and
    # past 30 an instance dict stops sharing its keys and takes five times the memory
    __slots__ = (
        "_delivery",
        "_head_tail",
        "_held",
        "_held_paused",
        "_limit",
        "_partial",
        "_pull",
        "_scan",
        "_sink",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sink: MessageSink | None = None  # set while delivering without a pause
        self._delivery: MessageDelivery | None = None
        self._held: collections.deque[Frame] | None = None  # until a reader is chosen
        self._held_paused = False
        self._pull = False  # recv() was used: frames go to websockets' queue
        self._scan = _HANDSHAKE
        self._head_tail = b""  # the last bytes of the handshake response seen so far
        self._partial: bytearray | None = None  # an incomplete frame (scanning only)
        self._limit: int | None = None  # largest payload of a one-frame message

    # -- the hot path: bytes from the socket -------------------------------------------------

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the transport reads the socket into (asyncio's ``BufferedProtocol``): one
        buffer shared by the thread's connections, so a read allocates nothing but its bytes
        (a plain ``Protocol`` gets a fresh 256 KiB ``bytes`` per read, most of a small read's
        cost)."""
        return _read_buffer.view

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` were read into the buffer: copy them out and take them in."""
        self.data_received(_read_buffer.view[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        if self._scan is _SCANNING:
            self._frames_received(data)
        elif self._scan is _HANDSHAKE:
            self._handshake_received(data)
        else:
            super().data_received(data)

    def _handshake_received(self, data: bytes) -> None:
        """Until the end of the HTTP response: find where the frames start (a ``101`` response
        has no body), so the frame scanner starts at a frame boundary."""
        seen = self._head_tail + data
        end = seen.find(b"\r\n\r\n")
        if end < 0:
            self._head_tail = seen[-3:]
            super().data_received(data)
            return
        cut = end + 4 - len(self._head_tail)
        self._head_tail = b""
        super().data_received(data[:cut])  # the protocol reads the response, and only it
        protocol = self.protocol
        if protocol.state is State.OPEN:
            # the request's headers carry the credentials: no copy is kept once it is open
            self.request = None
        if protocol.state is State.OPEN and not protocol.extensions and not self.debug:
            self._scan = _SCANNING
            self._limit = websocket_message_limit(protocol)
            if cut < len(data):
                self._frames_received(data[cut:])
        else:  # refused, compressed, or logging every frame: websockets reads everything
            self._scan = _PASSTHROUGH
            if cut < len(data):
                super().data_received(data[cut:])

    def _frames_received(self, data: bytes) -> None:
        """Split ``data`` into frames. A complete one-frame text or binary message is handed to
        the sink right here while delivery runs; every other frame (control frames, fragments,
        anything while paused, or before a reader is chosen) goes to websockets' protocol,
        byte for byte and in order, so the protocol is always at a frame boundary. A frame the
        scanner does not accept as is (masked, reserved bits, too big) and everything after it
        go to the protocol, which fails the connection as it always does; so do fragmented
        messages and close frames (the scanner stops there for good)."""
        partial = self._partial
        buf: bytes | bytearray
        if partial is None:
            buf = data
        else:
            partial += data
            buf = partial
        end = len(buf)
        pos = 0
        run = -1  # where the bytes for the protocol start, when some wait
        limit = self._limit
        while end - pos >= 2:
            head1 = buf[pos]
            length = buf[pos + 1]
            start = pos + 2
            if length >= 126:
                if length == 126:
                    if end - pos < 4:
                        break
                    length = (buf[pos + 2] << 8) | buf[pos + 3]
                    start = pos + 4
                elif length == 127:
                    if end - pos < 10:
                        break
                    length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                    start = pos + 10
                else:  # masked (a server never masks): the protocol fails the connection
                    self._pass_on(buf, pos if run < 0 else run)
                    return
            if limit is not None and length > limit:
                self._pass_on(buf, pos if run < 0 else run)  # the protocol refuses it (1009)
                return
            stop = start + length
            if stop > end:
                break
            if head1 == 0x81 or head1 == 0x82:  # FIN, no reserved bits, text or binary
                sink = self._sink
                if sink is not None and run >= 0:
                    if not self._to_protocol(buf, run, pos):
                        return
                    run = -1
                    sink = self._sink  # the protocol's frames may have paused delivery
                if sink is not None:
                    try:
                        sink(buf[start:stop], head1 == 0x81)
                    except BaseException as exc:
                        assert self._delivery is not None
                        self._delivery._sink_raised(exc)
                    pos = stop
                    continue
            elif head1 != 0x89 and head1 != 0x8A:  # not a ping or a pong either
                # a fragment, a close frame, reserved bits or opcodes: websockets takes over
                self._pass_on(buf, pos if run < 0 else run)
                return
            if run < 0:
                run = pos
            pos = stop
        if run >= 0 and not self._to_protocol(buf, run, pos):
            return
        if pos >= end:
            self._partial = None
        elif partial is None:
            self._partial = bytearray(buf[pos:])
        else:
            del partial[:pos]

    def _to_protocol(self, buf: bytes | bytearray, start: int, stop: int) -> bool:
        """Hand the complete frames ``buf[start:stop]`` to the protocol; False (and everything
        after them handed over too) if the protocol is no longer open after them."""
        super().data_received(bytes(buf[start:stop]))
        if self.protocol.state is State.OPEN:
            return True
        self._pass_on(buf, stop)
        return False

    def _pass_on(self, buf: bytes | bytearray, start: int) -> None:
        """Stop scanning: ``buf[start:]`` and everything after it go to the protocol."""
        self._scan = _PASSTHROUGH
        self._partial = None
        if start < len(buf):
            super().data_received(bytes(buf[start:]))

    def eof_received(self) -> None:
        partial, self._partial = self._partial, None
        self._scan = _PASSTHROUGH
        if partial:
            super().data_received(bytes(partial))  # the protocol sees the frame cut short
        super().eof_received()

    # -- frames websockets parsed: called by its data_received for every event, in order ------

    def process_event(self, event: Any) -> None:
        sink = self._sink
        if sink is not None and event.fin:
            opcode = event.opcode
            if opcode is _TEXT or opcode is _BINARY:
                try:
                    sink(event.data, opcode is _TEXT)
                except BaseException as exc:
                    assert self._delivery is not None
                    self._delivery._sink_raised(exc)
                return
        self._other_event(event)

    def _other_event(self, event: Any) -> None:
        if self._pull or not isinstance(event, Frame) or event.opcode not in _DATA:
            super().process_event(event)  # the handshake response, pings, pongs, closes
            return
        delivery = self._delivery
        if delivery is not None:
            delivery._frame(event)  # a pause, a fragment, or after the end of delivery
            return
        held = self._held
        if held is None:
            held = self._held = collections.deque()
        held.append(event)
        if len(held) > HOLD_LIMIT and not self._held_paused:
            self._held_paused = True
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._delivery is not None:
            self._delivery._lost()

    # -- choosing the reader ---------------------------------------------------------------

    @property
    def can_deliver(self) -> bool:
        """Whether :meth:`deliver` would deliver (no other reader was chosen)."""
        return not self._pull and self._delivery is None

    def deliver(self, sink: MessageSink) -> MessageDelivery | None:
        """Deliver every message to ``sink`` from now on. Messages that arrived before are
        delivered first: the delivery then starts paused, and its :meth:`~MessageDelivery.resume`
        hands them over. ``None`` when ``recv()`` was used already or another delivery runs:
        the messages stay with that reader."""
        if self._pull or self._delivery is not None:
            return None
        delivery = self._delivery = MessageDelivery(self, sink)
        delivery._is_lost = self.state is State.CLOSED  # nothing more will be read
        release_websocket_queue(self)  # recv() will never read this connection
        held, self._held = self._held, None
        self._held_paused = False  # resume() reads the socket again once they are delivered
        if held:
            delivery._paused = True
            delivery._held = held
        else:
            self._sink = sink
        return delivery

    def _use_queue(self) -> None:
        """``recv()`` was called: from now on frames go to websockets' queue (held ones first).
        Raises websockets' ``ConcurrencyError`` when the messages are delivered to a sink."""
        if self._pull:
            return
        if self._delivery is not None:
            raise ConcurrencyError(
                "this connection's messages are delivered to a callback (a session reads "
                "it): recv() cannot read them"
            )
        self._pull = True
        held, self._held = self._held, None
        if self._held_paused:
            self._held_paused = False
            self.transport.resume_reading()  # the queue pauses reading again if it must
        for frame in held or ():
            queue_websocket_frame(self, frame)

    async def send(self, message: Any, *, text: bool | None = None) -> None:
        """websockets' ``send()``; one ``str`` or ``bytes`` message is written at once when
        nothing can make it wait (the same frame, the same errors: see
        :func:`rxrealtime._compat.send_websocket_frame`)."""
        kind = message.__class__
        if kind is str:
            if await send_websocket_frame(self, message.encode(), text is not False):
                return
        elif kind is bytes:
            if await send_websocket_frame(self, message, text is True):
                return
        await super().send(message, text=text)

    async def recv(self, decode: bool | None = None) -> Any:
        """websockets' ``recv()`` (messages go to this reader from now on)."""
        self._use_queue()
        return await super().recv(decode)

    def recv_streaming(self, decode: bool | None = None) -> Any:
        """websockets' ``recv_streaming()`` (messages go to this reader from now on)."""
        self._use_queue()
        return super().recv_streaming(decode)


class MessageDelivery:
    """The messages of one :class:`PushConnection`, handed to a sink from its data callback
    (see the module docstring for the guarantees). Everything runs on the connection's loop."""

    __slots__ = (
        "_conn",
        "_fragments",
        "_held",
        "_is_lost",
        "_paused",
        "_raised",
        "_rejection",
        "_sink",
        "_stopped",
        "_waiter",
    )

    def __init__(self, conn: PushConnection, sink: MessageSink) -> None:
        self._conn = conn
        self._sink = sink
        self._held: collections.deque[Frame] | None = None  # while paused (created then)
        self._fragments: list[Frame] = []
        self._paused = False
        self._stopped = False  # nothing more is delivered (rejected, sink raised, detached)
        self._is_lost = False
        self._raised: BaseException | None = None
        self._rejection: tuple[int, str, BaseException] | None = None
        self._waiter: asyncio.Future[None] | None = None

    # -- for the sink --------------------------------------------------------------------------

    def pause(self) -> None:
        """Deliver nothing more until :meth:`resume`; hold what was read already and stop
        reading the socket. Wakes :meth:`wait`."""
        if self._paused or self._stopped:
            return
        self._paused = True
        self._conn._sink = None
        self._conn.transport.pause_reading()
        self._wake()

    def reject(self, code: int, reason: str, cause: BaseException) -> None:
        """The message being delivered breaks the protocol (e.g. a text payload that is not
        UTF-8): deliver nothing more; :meth:`closed` fails the connection with ``code``."""
        if self._rejection is None:
            self._rejection = (code, reason, cause)
        self._stop()

    def interrupt(self) -> None:
        """Make a pending :meth:`wait` return now (e.g. the reader's timer fired)."""
        self._wake()

    # -- for the reader ------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """Whether delivery is paused (call :meth:`resume` when there is room again)."""
        return self._paused and not self._stopped

    @property
    def ended(self) -> bool:
        """Whether nothing more will be delivered: the connection is gone and every message
        before its end was delivered, or a message was rejected."""
        return self._rejection is not None or (self._is_lost and not self._paused)

    async def wait(self) -> None:
        """Return when the reader has something to do: delivery paused, ended or interrupted.
        Raises what the sink raised (delivery has stopped then)."""
        await self.wake_up()
        self.raise_failure()

    def wake_up(self) -> asyncio.Future[None]:
        """What :meth:`wait` awaits, for a reader that keeps no coroutine frame for it: a
        future that completes when the reader has something to do (already done when it
        has); then call :meth:`raise_failure`."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = self._conn.loop.create_future()
            if self._paused or self.ended or self._raised is not None:
                waiter.set_result(None)
        return waiter

    def raise_failure(self) -> None:
        """Raise what the sink raised, once (delivery has stopped then)."""
        raised = self._raised
        if raised is not None:
            self._raised = None
            raise raised

    def resume(self) -> None:
        """Deliver the held messages (in order, until the sink pauses again), then read the
        socket again."""
        if not self._paused or self._stopped:
            return
        self._paused = False
        held = self._held
        while held and not self._paused and not self._stopped:
            self._dispatch(held.popleft())
        if not held:
            self._held = None  # an idle connection keeps no buffer
        if not self._paused and not self._stopped:
            self._conn._sink = self._sink
            if not self._is_lost:
                self._conn.transport.resume_reading()

    async def closed(self) -> ConnectionClosed:
        """Once :attr:`ended`: fail the connection if a message was rejected, wait until it is
        closed, and return how it closed (websockets' close exception, as ``recv()`` would
        raise it)."""
        rejection = self._rejection
        if rejection is not None:
            code, reason, cause = rejection
            await fail_websocket(self._conn, code, reason, cause)
        else:
            await self._conn.wait_closed()
        return self._conn.protocol.close_exc

    def detach(self) -> None:
        """Stop delivering for good (the reader is gone); later frames are dropped."""
        self._stop()

    # -- for the connection --------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        if self._stopped:
            return
        if self._paused:
            held = self._held
            if held is None:
                held = self._held = collections.deque()
            held.append(frame)
        else:
            self._dispatch(frame)

    def _dispatch(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is _CONT or not frame.fin:
            fragments = self._fragments
            if opcode is not _CONT:
                fragments.clear()
            fragments.append(frame)
            if len(fragments) > MAX_FRAGMENTS:
                fragments.clear()
                self.reject(1009, "too many fragments", RuntimeError("too many fragments"))
                return
            if not frame.fin:
                return
            text = fragments[0].opcode is _TEXT
            payload: Payload = b"".join(fragment.data for fragment in fragments)
            fragments.clear()
        else:
            text = opcode is _TEXT
            payload = frame.data
        try:
            self._sink(payload, text)
        except BaseException as exc:
            self._sink_raised(exc)

    def _sink_raised(self, exc: BaseException) -> None:
        if self._raised is None:
            self._raised = exc
        self._stop()
        self._wake()

    def _lost(self) -> None:
        self._is_lost = True
        self._wake()

    def _stop(self) -> None:
        # the socket is still read (the closing handshake needs it); frames are dropped
        if not self._stopped:
            self._stopped = True
            self._conn._sink = None
            self._held = None
            if self._paused:
                self._conn.transport.resume_reading()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
