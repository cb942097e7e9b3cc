"""The transport wrapper of :class:`~rxrealtime.sinks.RedisPublisher` (``wrap()``): for a
session that takes no frame tap, every frame it receives and sends, published."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed as WebSocketClosed

from rxrealtime.transport import FrameTransport, TransportClosed, WebSocketTransport, closed_from

__all__ = ["Publisher", "PublishingTransport"]


class PublishingTransport:
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

    __slots__ = ("_inner", "_publisher", "_recv")

    def __init__(self, inner: FrameTransport, publisher: Publisher) -> None:
        self._inner = inner
        self._publisher = publisher
        # a websockets connection is read directly (one coroutine less per frame, as the
        # session itself does); its close is translated as WebSocketTransport.recv does
        self._recv: Callable[[], Awaitable[str | bytes]] = (
            inner.connection.recv if isinstance(inner, WebSocketTransport) else inner.recv
        )

    @property
    def description(self) -> str:
        return self._inner.description

    def _guard(self, call: Callable[..., object], *args: Any) -> None:
        try:
            call(*args)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:
            self._publisher.failed(error)

    async def recv(self) -> str | bytes:
        try:
            frame = await self._recv()
        except TransportClosed as closed:
            self._guard(self._publisher.connection_closed, closed)
            raise
        except WebSocketClosed as exc:
            translated = closed_from(exc)
            self._guard(self._publisher.connection_closed, translated)
            raise translated from None
        self._guard(self._publisher.record_in, frame)
        return frame

    async def send(self, data: str | bytes) -> None:
        await self._inner.send(data)
        self._guard(self._publisher.record_out, data)

    def session_ended(self, terminal: BaseException) -> None:
        """The session's stream ended with ``terminal``: write the ``"end"`` record (and tell
        an inner transport that wants to know too). Never raises."""
        self._guard(self._publisher.session_ended, terminal)
        inner = getattr(self._inner, "session_ended", None)
        if callable(inner):
            self._guard(inner, terminal)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._inner.close(code, reason)

    def abort(self) -> None:
        self._inner.abort()

    def deliver(self, sink: object) -> None:
        """``None``: a published connection is read with :meth:`recv`, so no frame can bypass
        the publisher (the inner transport's pushed delivery is not forwarded)."""
        return None

    @property
    def can_deliver(self) -> bool:
        """``False``: see :meth:`deliver`."""
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Publisher(Protocol):
    """What :class:`PublishingTransport` needs of its publisher."""

    def record_in(self, frame: str | bytes) -> None: ...

    def record_out(self, frame: str | bytes) -> None: ...

    def connection_closed(self, closed: TransportClosed) -> None: ...

    def session_ended(self, terminal: BaseException) -> None: ...

    def failed(self, error: BaseException) -> None: ...
