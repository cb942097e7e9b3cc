"""One connection's messages handed to a sink: :class:`MessageDelivery` (made by
:meth:`rxrealtime._delivery.PushConnection.deliver`).

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
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from rxrealtime._compat import fail_websocket

if TYPE_CHECKING:
    from rxrealtime._delivery import PushConnection

__all__ = ["MAX_FRAGMENTS", "MessageDelivery", "MessageSink", "Payload"]

Payload = bytes | bytearray | memoryview
"""A message as read, bytes-like and the sink's own (nothing else keeps or changes it): the
frame's payload cut out of the bytes read (``bytes``, or a ``bytearray`` when the frame came in
several reads, or websockets' own frame buffer when its protocol parsed the frame), or the
joined fragments of a fragmented message."""

MessageSink = Callable[[Payload, bool], object]
"""Called with each complete message: its payload and whether it came in text frames."""

MAX_FRAGMENTS: Final = 4096
"""Fragments of one message past which the connection fails with 1009 (websockets' limit)."""

_TEXT: Final = Opcode.TEXT
_CONT: Final = Opcode.CONT


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
