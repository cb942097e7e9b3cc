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
  (:meth:`PushConnection.deliver`), instead of queueing it for a task;
* **it reads the socket into one buffer per thread** (asyncio's ``BufferedProtocol``) instead
  of getting a fresh 256 KiB ``bytes`` from every read: at real-time rates most reads carry one
  small event, and that allocation was most of their cost;
* **it writes one message at once** when nothing can make the send wait (websockets' frame and
  errors, without its per-message async context manager: see
  :func:`rxrealtime._compat.send_websocket_frame`);
* once open it keeps no copy of its request (its headers carry the credentials).

Each connection serves one kind of reader, chosen by the first one that asks: ``recv()`` (also
``async for`` and ``recv_streaming()``: websockets' own queue, exactly as usual) or
:meth:`PushConnection.deliver`. Messages that arrive before either asks (the server's first
events can come in the same packet as the handshake) are held, in order, and handed to whichever
reader comes first; past :data:`HOLD_LIMIT` held frames the socket is no longer read until then,
as websockets' own queue does. Once a sink reads the connection, ``recv()`` raises websockets'
``ConcurrencyError`` (two readers), and the queue ``recv()`` would read is freed.

What a delivery guarantees is in :mod:`rxrealtime._messages` (:class:`MessageDelivery`).
"""

from __future__ import annotations

import asyncio
import collections
import weakref
from typing import Any, Final

from websockets.exceptions import ConcurrencyError
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from rxrealtime._compat import (
    WebSocketClientConnection,
    queue_websocket_frame,
    release_websocket_queue,
    send_websocket_frame,
    websocket_message_limit,
)
from rxrealtime._messages import MAX_FRAGMENTS, MessageDelivery, MessageSink, Payload

__all__ = [
    "HOLD_LIMIT",
    "READ_BUFFER_SIZE",
    "MAX_FRAGMENTS",
    "MessageDelivery",
    "MessageSink",
    "Payload",
    "PushConnection",
]

READ_BUFFER_SIZE: Final = 256 * 1024
"""Bytes one read may take from the socket (asyncio's own read size)."""

HOLD_LIMIT: Final = 16
"""Frames held for a reader not chosen yet before the socket stops being read (websockets'
own queue pauses at the same number by default)."""

_HANDSHAKE: Final = "handshake"  # reading the HTTP response
_SCANNING: Final = "scanning"  # splitting frames here
_PASSTHROUGH: Final = "passthrough"  # websockets reads everything

_TEXT: Final = Opcode.TEXT
_BINARY: Final = Opcode.BINARY
_DATA: Final = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})


class _ReadBuffer(dict[int, memoryview]):
    """The buffer every connection of one loop reads the socket into, and the connections'
    ``get_buffer``: this mapping's ``__getitem__``, which returns the buffer for every size
    hint (the selector transport always asks with ``-1``, found at once in C; any other hint
    goes through ``__missing__``). Called once per read of a socket, a lookup costs a fraction
    of a Python method call."""

    __slots__ = ("view",)

    def __init__(self) -> None:
        self.view = memoryview(bytearray(READ_BUFFER_SIZE))
        super().__init__({-1: self.view})

    def __missing__(self, sizehint: int) -> memoryview:
        return self.view


_read_buffers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ReadBuffer] = (
    weakref.WeakKeyDictionary()
)


def _read_buffer(loop: asyncio.AbstractEventLoop) -> _ReadBuffer:
    """The buffer every connection of ``loop`` reads the socket into: reads on one loop never
    interleave (each is taken in, and what must outlive it copied out, before the next)."""
    buffer = _read_buffers.get(loop)
    if buffer is None:
        buffer = _read_buffers[loop] = _ReadBuffer()
    return buffer


class PushConnection(WebSocketClientConnection, asyncio.BufferedProtocol):
    """A websockets ``ClientConnection`` whose messages can be delivered from its data
    callback (see the module docstring). ``recv()`` works as usual when nothing asked for
    delivery."""

    # slots, not the instance dict: websockets' connection already has about 26 attributes, and
    # past 30 an instance dict stops sharing its keys and takes five times the memory
    __slots__ = (
        "_buffer",
        "_delivery",
        "_head_tail",
        "_held",
        "_held_paused",
        "_limit",
        "_partial",
        "_pull",
        "_scan",
        "_sink",
        "get_buffer",
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
        shared = _read_buffer(self.loop)
        self._buffer = shared.view
        # asyncio's BufferedProtocol.get_buffer, as a lookup rather than a method call: see
        # _ReadBuffer (one shared buffer per loop, so a read allocates nothing but its bytes;
        # a plain Protocol gets a fresh 256 KiB bytes per read, most of a small read's cost)
        self.get_buffer = shared.__getitem__  # type: ignore[assignment]  # a method there

    # -- the hot path: bytes from the socket -------------------------------------------------

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` were read into the buffer: take them in (the scanner copies out only
        what must outlive this call: payloads, a partial frame).

        The common case at real-time rates, a read of whole text or binary frames of up to
        64 KiB while delivery runs, is handled right here (the payload copied out, the sink
        called); at the first frame that is anything else (a control frame, a frame cut by
        the read, a longer one, one over the limit, a pause or a failure of the sink) the
        rest of the read goes to :meth:`_frames_received`, which does it all."""
        buf = self._buffer
        sink = self._sink
        if sink is None or self._partial is not None or self._scan is not _SCANNING:
            if self._scan is _SCANNING:
                self._frames_received(buf[:nbytes])
            else:
                self.data_received(buf[:nbytes].tobytes())
            return
        limit = self._limit
        pos = 0
        while nbytes - pos >= 4:
            head1 = buf[pos]
            length = buf[pos + 1]
            if length < 126:
                start = pos + 2
            elif length == 126:
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                start = pos + 4
            else:  # 64-bit length, or masked: the general path
                break
            stop = start + length
            if (
                stop > nbytes
                or (head1 != 0x81 and head1 != 0x82)
                or (limit is not None and length > limit)
            ):
                break
            try:
                sink(buf[start:stop].tobytes(), head1 == 0x81)
            except BaseException as exc:
                assert self._delivery is not None
                self._delivery._sink_raised(exc)
            if stop == nbytes:
                return
            pos = stop
            sink = self._sink  # the sink may have paused or stopped delivery
            if sink is None:
                break
        self._frames_received(buf[pos:nbytes])

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

    def _frames_received(self, data: bytes | memoryview) -> None:
        """Split ``data`` into frames. A complete one-frame text or binary message is handed to
        the sink right here while delivery runs; every other frame (control frames, fragments,
        anything while paused, or before a reader is chosen) goes to websockets' protocol,
        byte for byte and in order, so the protocol is always at a frame boundary. A frame the
        scanner does not accept as is (masked, reserved bits, too big) and everything after it
        go to the protocol, which fails the connection as it always does; so do fragmented
        messages and close frames (the scanner stops there for good). ``data`` may be a view
        of the shared read buffer: whatever outlives this call is copied out of it."""
        partial = self._partial
        buf: bytes | bytearray | memoryview
        shared = False  # buf is a view of the read buffer: payloads are copied out
        if partial is None:
            buf = data
            shared = data.__class__ is memoryview
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
                    cut = buf[start:stop]
                    if shared:
                        cut = cut.tobytes()  # type: ignore[union-attr]  # a view: copy it out
                    try:
                        sink(cut, head1 == 0x81)
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

    def _to_protocol(self, buf: bytes | bytearray | memoryview, start: int, stop: int) -> bool:
        """Hand the complete frames ``buf[start:stop]`` to the protocol; False (and everything
        after them handed over too) if the protocol is no longer open after them."""
        super().data_received(bytes(buf[start:stop]))
        if self.protocol.state is State.OPEN:
            return True
        self._pass_on(buf, stop)
        return False

    def _pass_on(self, buf: bytes | bytearray | memoryview, start: int) -> None:
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
            sent = await send_websocket_frame(self, message.encode(), text is not False)
        elif kind is bytes:
            sent = await send_websocket_frame(self, message, text is True)
        else:
            sent = False
        if not sent:
            await super().send(message, text=text)

    async def recv(self, decode: bool | None = None) -> Any:
        """websockets' ``recv()`` (messages go to this reader from now on)."""
        self._use_queue()
        return await super().recv(decode)

    def recv_streaming(self, decode: bool | None = None) -> Any:
        """websockets' ``recv_streaming()`` (messages go to this reader from now on)."""
        self._use_queue()
        return super().recv_streaming(decode)
