"""Every shortcut rxrealtime takes into reactivex, asyncio or websockets internals, in one place.

Each name here relies on something its library does not promise; ``tests/test_compat.py``
pins each behaviour relied on, so an upgrade that changes one fails one clear test instead of
silently corrupting delivery. Nothing else in rxrealtime imports a private module of reactivex,
asyncio or websockets, reads a private attribute of their objects, or subclasses their classes
through protected hooks, except through this module.

What is relied on, and why:

``running_loop()``
    ``asyncio.events._get_running_loop``: the running loop or ``None``, without raising. The
    thread-hop and iterator hot paths ask "am I on the loop's thread?" once per value;
    :func:`asyncio.get_running_loop` would raise (and be caught) on every call from another
    thread.
``direct_on_next(observer)``
    reactivex wraps every subscriber in an ``AutoDetachObserver`` whose ``on_next`` only
    re-checks ``is_stopped`` before calling the user's callback, kept in ``_on_next``. A session
    guard already stops delivery on dispose and at the end, so it calls ``_on_next`` directly
    (one Python call less per event and subscriber: the session's hot path).
``subscribe_function(observable)``
    ``Observable._subscribe_core``: the subscribe function of an Observable, so a piped
    Observable can be re-wrapped as a :class:`~rxrealtime.session.SessionObservable` that
    defaults its scheduler.
``SequenceContainsNoElementsError``
    defined in ``reactivex.internal.exceptions``; it is what reactivex's own ``first()``/
    ``last()`` raise on an empty sequence, so :func:`rxrealtime.scheduling.first` raises the
    same class.
``PeriodicScheduler``
    ``reactivex.scheduler.periodicscheduler.PeriodicScheduler`` (not exported by
    ``reactivex.scheduler``): the base class that turns ``schedule_relative`` into
    ``schedule_periodic`` for :class:`~rxrealtime.scheduling.LoopScheduler`.
``Observer``
    ``reactivex.Observer`` subclassed through its protected hooks: the sinks override
    ``_on_next_core``/``_on_error_core``/``_on_completed_core`` and read or set
    ``is_stopped`` (``on_next`` calls ``_on_next_core`` unless stopped; ``on_error`` and
    ``on_completed`` stop, then call their hook once; ``dispose`` stops).
``WebSocketClientConnection``
    websockets' ``ClientConnection`` subclassed through its ``process_event(event)`` hook: the
    connection's ``data_received`` calls it synchronously, once per event and in order — first
    the handshake ``Response``, then every ``Frame`` the protocol parsed (data frames,
    fragments, pings, pongs, close frames); the base implementation queues data frames for
    ``recv()`` and acknowledges pongs. The transport's receive path reads complete messages
    there, with no task wake-up per frame.
``queue_websocket_frame(connection, frame)``
    ``connection.recv_messages.put(frame)``: hands a data frame to the message assembler that
    ``recv()`` reads (frames put there are returned by ``recv()`` in order, fragments joined).
``fail_websocket(connection, code, reason, cause)``
    what websockets' own ``recv()`` does when a message breaks the protocol (invalid UTF-8 in
    a text frame: 1007; too many fragments: 1009): ``set_connection_exc``, then
    ``protocol.fail`` inside ``send_context()``, then wait until the connection is closed.
``release_websocket_queue(connection)``
    replaces ``connection.recv_messages`` (the assembler ``recv()`` reads, with its queue) by a
    stand-in with nothing in it, for a connection whose messages are delivered elsewhere for
    good: websockets touches it only in ``recv()``, ``recv_streaming()``, ``process_event``
    (data frames) and ``connection_lost`` (``close()``); the transport keeps the first three
    away from it, and ``close()`` of the stand-in does nothing.
``send_websocket_frame(connection, data, text)``
    what websockets' ``send()`` does for one unfragmented message, without its
    ``send_context()`` (an async context manager per message) and its frame object: only when
    nothing can make the send wait or fail first, or change the frame (no fragmented message
    being sent, ``send_in_progress`` is ``None``; the protocol ``OPEN``, with nothing waiting in
    its ``writes``, no extension negotiated and no ``debug`` logging; writing not paused,
    ``paused`` false), the masked frame (RFC 6455, masked with websockets' own C
    ``apply_mask`` from ``websockets.speedups``, as ``websockets.frames`` imports it) goes to
    ``transport.write()`` at once, then ``drain()`` if that write paused writing. Returns
    False (nothing done) otherwise: then call ``send()``. The masking keys come from
    ``os.urandom``, as websockets' own do (``secrets.token_bytes``), 4 KiB at a time per
    thread instead of one system call per frame.
``websocket_message_limit(protocol)``
    the size limit of a one-frame message, from the protocol's ``max_message_size`` and
    ``max_fragment_size`` (websockets 16+) or ``max_size`` (before): the transport's frame
    scanner refuses what the protocol would refuse, by handing it to the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from reactivex import Observable, Observer, abc
from reactivex.internal.exceptions import SequenceContainsNoElementsError
from reactivex.observer.autodetachobserver import AutoDetachObserver
from reactivex.scheduler.periodicscheduler import PeriodicScheduler
from websockets.asyncio.client import ClientConnection as WebSocketClientConnection
from websockets.exceptions import ConnectionClosed as _WsConnectionClosed
from websockets.frames import Frame as WebSocketFrame
from websockets.protocol import State as _WsState

try:  # websockets' C masking, as websockets.frames imports it
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask as _apply_mask

_WS_OPEN = _WsState.OPEN

__all__ = [
    "Observer",
    "PeriodicScheduler",
    "SequenceContainsNoElementsError",
    "WebSocketClientConnection",
    "direct_on_next",
    "fail_websocket",
    "queue_websocket_frame",
    "release_websocket_queue",
    "send_websocket_frame",
    "websocket_message_limit",
    "running_loop",
    "subscribe_function",
]

_T = TypeVar("_T")

running_loop: Callable[[], asyncio.AbstractEventLoop | None] = asyncio.events._get_running_loop
"""The running event loop of this thread, or ``None`` (never raises)."""


def direct_on_next(observer: abc.ObserverBase[_T]) -> Callable[[_T], None]:
    """The callable that delivers a value to ``observer``, skipping reactivex's
    ``AutoDetachObserver`` re-check of ``is_stopped`` (the caller must stop delivering on
    dispose and at the end itself). Any other observer's bound ``on_next``."""
    if type(observer) is AutoDetachObserver:
        target: Callable[[_T], None] = observer._on_next
        return target
    return observer.on_next


def subscribe_function(
    observable: Observable[_T],
) -> Callable[[abc.ObserverBase[_T], abc.SchedulerBase | None], abc.DisposableBase]:
    """The function ``observable`` runs for each subscription (observer, scheduler)."""
    return observable._subscribe_core


def queue_websocket_frame(connection: WebSocketClientConnection, frame: WebSocketFrame) -> None:
    """Hand a data ``frame`` to the assembler ``connection.recv()`` reads (in order)."""
    connection.recv_messages.put(frame)


async def fail_websocket(
    connection: WebSocketClientConnection, code: int, reason: str, cause: BaseException
) -> None:
    """Fail ``connection`` with close ``code`` as websockets' own ``recv()`` does on a message
    that breaks the protocol (``cause`` becomes the close exception's ``__cause__``), and wait
    until it is closed (bounded by its close timeout)."""
    connection.set_connection_exc(cause)
    with contextlib.suppress(_WsConnectionClosed):
        async with connection.send_context():
            connection.protocol.fail(code, reason)
    await connection.wait_closed()


class _NoQueue:
    """What a connection whose messages are delivered elsewhere has instead of an assembler."""

    __slots__ = ()

    def put(self, frame: WebSocketFrame) -> None:
        raise RuntimeError("this connection's messages are delivered elsewhere, not queued")

    def close(self) -> None:
        """Nothing is queued: nothing to end."""


_NO_QUEUE: Any = _NoQueue()


def release_websocket_queue(connection: WebSocketClientConnection) -> None:
    """Free ``connection``'s message assembler (see the module docstring)."""
    connection.recv_messages = _NO_QUEUE


async def send_websocket_frame(
    connection: WebSocketClientConnection, data: bytes, text: bool
) -> bool:
    """Send one unfragmented message now, as ``send()`` would (see the module docstring);
    False when it cannot be sent this way."""
    protocol = connection.protocol
    if (
        connection.send_in_progress is not None
        or protocol.state is not _WS_OPEN
        or connection.paused
        or protocol.writes
        or protocol.extensions
        or protocol.debug
    ):
        return False
    connection.transport.write(_client_frame(data, text))
    if _writing_paused(connection):  # this write filled the buffer: wait as send() does
        await connection.drain()
    return True


def _writing_paused(connection: WebSocketClientConnection) -> bool:
    return bool(connection.paused)


_KEYS_AT_ONCE = 4096
_pack_long_header = struct.Struct("!BBQ").pack


class _MaskingKeys(threading.local):
    """Unpredictable masking keys for client frames (``os.urandom``), per thread."""

    pool = b""
    at = 0

    def take(self) -> bytes:
        at = self.at
        pool = self.pool
        if at >= len(pool):
            pool = self.pool = os.urandom(_KEYS_AT_ONCE)
            at = 0
        self.at = at + 4
        return pool[at : at + 4]


_masking_keys = _MaskingKeys()


def _forget_masking_keys() -> None:
    """In a forked child: draw new keys (parent and child must not send the same ones)."""
    _masking_keys.pool = b""
    _masking_keys.at = 0


os.register_at_fork(after_in_child=_forget_masking_keys)


def _client_frame(data: bytes, text: bool) -> bytes:
    """One final, masked text or binary frame carrying ``data`` (RFC 6455, section 5)."""
    length = len(data)
    head1 = 0x81 if text else 0x82
    if length < 126:
        head = bytes((head1, 0x80 | length))
    elif length < 65536:
        head = bytes((head1, 0xFE, length >> 8, length & 0xFF))
    else:
        head = _pack_long_header(head1, 0xFF, length)
    key = _masking_keys.take()
    return b"".join((head, key, _apply_mask(data, key)))


def websocket_message_limit(protocol: Any) -> int | None:
    """The largest payload ``protocol`` (websockets' sans-I/O protocol) accepts in a message of
    one frame: ``max_size`` (websockets 16 and later split it into ``max_message_size`` and
    ``max_fragment_size``, and a one-frame message must fit both); ``None`` for no limit."""
    if hasattr(protocol, "max_message_size"):
        limits = [protocol.max_message_size, getattr(protocol, "max_fragment_size", None)]
    else:
        limits = [getattr(protocol, "max_size", None)]
    found = [int(limit) for limit in limits if limit is not None]
    return min(found) if found else None
