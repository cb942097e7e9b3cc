"""The transport wrapper of :class:`~rxrealtime.sinks.RedisPublisher` (``wrap()``): for a
session that takes no frame tap, every frame it receives and sends, published."""

from __future__ import annotations

from typing import Protocol

from rxrealtime.sinks._wrapping import WrappedTransport
from rxrealtime.transport import FrameTransport, TransportClosed

__all__ = ["Publisher", "PublishingTransport"]


class PublishingTransport(WrappedTransport):
    """A :class:`~rxrealtime.transport.FrameTransport` that publishes the frames of another
    to a :class:`~rxrealtime.sinks.RedisPublisher` (its ``wrap()``).

    Each frame received is published before it is returned, each frame sent once the inner
    ``send`` succeeded; a close found by ``recv`` is remembered for the ``"reconnect"`` record
    of a next connection, and :meth:`session_ended` (the session calls it once, when its
    stream ends) writes the ``"end"`` record. Every call to the publisher is guarded: whatever
    it raises (``KeyboardInterrupt`` and ``SystemExit`` aside) is counted in its
    ``statistics().errors`` and logged, and the frame still reaches the session. Prefer the
    publisher's ``tap()`` where the session takes taps: a wrapped transport
    is read with ``recv()``, which is slower than the session's pushed receive path.
    """

    __slots__ = ("_publisher",)

    def __init__(self, inner: FrameTransport, publisher: Publisher) -> None:
        super().__init__(inner)
        self._publisher = publisher

    def _received(self, frame: str | bytes) -> None:
        self._publisher.record_in(frame)

    def _sent(self, frame: str | bytes) -> None:
        self._publisher.record_out(frame)

    def _closed(self, closed: TransportClosed) -> None:
        self._publisher.connection_closed(closed)

    def _ended(self, terminal: BaseException) -> None:
        self._publisher.session_ended(terminal)

    def _failed(self, error: BaseException) -> None:
        self._publisher.failed(error)


class Publisher(Protocol):
    """What :class:`PublishingTransport` needs of its publisher."""

    def record_in(self, frame: str | bytes) -> None: ...

    def record_out(self, frame: str | bytes) -> None: ...

    def connection_closed(self, closed: TransportClosed) -> None: ...

    def session_ended(self, terminal: BaseException) -> None: ...

    def failed(self, error: BaseException) -> None: ...
