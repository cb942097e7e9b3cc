"""The base of the sinks' transport wrappers (:class:`~rxrealtime.sinks.RecordingTransport`,
the Redis publisher's ``wrap()``): a transport that tells a sink about every frame of another.

Each frame received is handed to the sink before it is returned, each frame sent once the inner
``send`` succeeded; a close found by ``recv`` is handed over before it is raised, and
:meth:`WrappedTransport.session_ended` (the session calls it once, when its stream ends) is
forwarded. Every call to the sink is guarded: whatever it raises (``KeyboardInterrupt`` and
``SystemExit`` aside) goes to the sink's ``_failed`` hook, and the frame still reaches the
session. A wrapped connection is read with ``recv()``: the inner transport's pushed delivery is
not forwarded, so no frame can bypass the sink.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from websockets.exceptions import ConnectionClosed as WebSocketClosed

from rxrealtime.transport import FrameTransport, TransportClosed, WebSocketTransport, closed_from

__all__ = ["WrappedTransport"]


class WrappedTransport:
    """A :class:`~rxrealtime.transport.FrameTransport` around ``inner``; subclasses say what
    happens to each frame (:meth:`_received`, :meth:`_sent`, :meth:`_closed`, :meth:`_ended`)
    and to a failure of theirs (:meth:`_failed`, which must not raise)."""

    __slots__ = ("_inner", "_recv")

    def __init__(self, inner: FrameTransport) -> None:
        self._inner = inner
        # a websockets connection is read directly (one coroutine less per frame, as the
        # session itself does); its close is translated as WebSocketTransport.recv does
        self._recv: Callable[[], Awaitable[str | bytes]] = (
            inner.connection.recv if isinstance(inner, WebSocketTransport) else inner.recv
        )

    # -- the hooks -------------------------------------------------------------------------

    def _received(self, frame: str | bytes) -> None:
        raise NotImplementedError

    def _sent(self, frame: str | bytes) -> None:
        raise NotImplementedError

    def _closed(self, closed: TransportClosed) -> None:
        raise NotImplementedError

    def _ended(self, terminal: BaseException) -> None:
        raise NotImplementedError

    def _failed(self, error: BaseException) -> None:
        raise NotImplementedError

    # -- the transport ---------------------------------------------------------------------

    @property
    def description(self) -> str:
        return self._inner.description

    def _guard(self, call: Callable[..., object], *args: Any) -> None:
        try:
            call(*args)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:
            self._failed(error)

    async def recv(self) -> str | bytes:
        try:
            frame = await self._recv()
        except TransportClosed as closed:
            self._guard(self._closed, closed)
            raise
        except WebSocketClosed as exc:
            translated = closed_from(exc)
            self._guard(self._closed, translated)
            raise translated from None
        self._guard(self._received, frame)
        return frame

    async def send(self, data: str | bytes) -> None:
        await self._inner.send(data)
        self._guard(self._sent, data)

    def session_ended(self, terminal: BaseException) -> None:
        """The session's stream ended with ``terminal``: tell the sink (and an inner transport
        that wants to know too). Never raises."""
        self._guard(self._ended, terminal)
        inner = getattr(self._inner, "session_ended", None)
        if callable(inner):
            self._guard(inner, terminal)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._inner.close(code, reason)

    def abort(self) -> None:
        self._inner.abort()

    def deliver(self, sink: object) -> None:
        """``None``: a wrapped connection is read with :meth:`recv` (see the module)."""
        return None

    @property
    def can_deliver(self) -> bool:
        """``False``: see :meth:`deliver`."""
        return False

    def __getattr__(self, name: str) -> Any:
        # Anything else (``connection`` of a WebSocketTransport, …) is the inner transport's.
        return getattr(self._inner, name)
