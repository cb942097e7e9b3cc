"""Sending client events from sinks: an ordered sender, ``send_events`` and barge-in wiring.

``send_events(session, client_events)`` sends an Observable of client events in order;
``handle_barge_in(session)`` sends what :func:`rxrealtime.operators.barge_in` decides. Both need
only something shaped like a session (:class:`SessionLike`) and must be started on the loop
that ``send`` belongs to. :mod:`rxrealtime.sinks.tool_runner` re-exports every name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeAlias

from reactivex import Observable
from reactivex.abc import DisposableBase

from rxrealtime import events as ev
from rxrealtime.operators import AudioFormat, PlaybackPosition, barge_in

__all__ = [
    "EventSender",
    "Outgoing",
    "SendingSubscription",
    "SessionLike",
    "handle_barge_in",
    "on_loop",
    "send_events",
    "type_of",
]

logger = logging.getLogger("rxrealtime.sinks")

Outgoing: TypeAlias = "ev.ClientEvent | Mapping[str, Any]"


class SessionLike(Protocol):
    """What the sinks here need from a session (``rxrealtime.connect()`` gives one)."""

    @property
    def events(self) -> Observable[ev.ServerEvent]: ...

    def send(self, event: Any, /) -> Awaitable[Any]: ...


class EventSender(DisposableBase):
    """Sends client events to a session one at a time, in the order they were queued.

    One asyncio task awaits ``session.send`` for each event in turn, so events are written in
    queue order even when ``send`` suspends. If a send raises, the error is logged, the sender
    stops and later events are dropped (a failing ``send`` means the session is gone). An
    ``on_sent`` callback given to :meth:`put` runs once the event's send has returned, failed,
    or will never happen (the sender stopped or was disposed), so nothing waits forever on it.
    """

    def __init__(self, session: SessionLike) -> None:
        self._session = session
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[Outgoing, Callable[[], None] | None]] = asyncio.Queue()
        self._task = self._loop.create_task(self._run(), name="rxrealtime-send")
        self.sent = 0
        self.failed: BaseException | None = None

    def put(self, event: Outgoing, on_sent: Callable[[], None] | None = None) -> None:
        """Queue ``event``; callable from any thread (``on_sent`` then runs on the loop)."""
        if self._task.done():
            if on_sent is not None:
                self._loop.call_soon_threadsafe(on_sent)
            return
        if on_loop(self._loop):
            self._queue.put_nowait((event, on_sent))
        else:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (event, on_sent))

    async def _run(self) -> None:
        waiting: list[Callable[[], None]] = []  # the callback of the event being sent
        try:
            while True:
                event, on_sent = await self._queue.get()
                waiting[:] = [on_sent] if on_sent is not None else []
                try:
                    await self._session.send(event)
                except Exception as error:
                    self.failed = error
                    logger.error("sending %s failed; sender stopped: %r", type_of(event), error)
                    return
                self.sent += 1
                while waiting:
                    waiting.pop()()
        finally:
            while waiting:
                waiting.pop()()
            while not self._queue.empty():
                _, left = self._queue.get_nowait()
                if left is not None:
                    left()

    def dispose(self) -> None:
        self._task.cancel()

    async def aclose(self) -> None:
        """Dispose and wait until the sending task has stopped."""
        self.dispose()
        await asyncio.gather(self._task, return_exceptions=True)


def on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def type_of(event: Outgoing) -> str:
    return str(event.get("type") if isinstance(event, Mapping) else event.type)


class SendingSubscription(DisposableBase):
    """A subscription whose values go to an :class:`EventSender`."""

    def __init__(self, session: SessionLike, client_events: Observable[Outgoing]) -> None:
        self.sender = EventSender(session)
        self._subscription = client_events.subscribe(
            self.sender.put,
            lambda error: logger.error("client event stream failed: %r", error),
        )

    def dispose(self) -> None:
        self._subscription.dispose()
        self.sender.dispose()

    async def aclose(self) -> None:
        self._subscription.dispose()
        await self.sender.aclose()


def send_events(session: SessionLike, client_events: Observable[Outgoing]) -> SendingSubscription:
    """Subscribe to ``client_events`` and send each to ``session``, in order.

    Must be called on the session's event loop. Returns a disposable: ``dispose()`` stops
    subscribing and sending (events still queued are dropped); ``await aclose()`` also waits
    for the sending task to finish.
    """
    return SendingSubscription(session, client_events)


def handle_barge_in(
    session: SessionLike,
    *,
    format: AudioFormat | None = None,
    playback_position: PlaybackPosition | None = None,
    cancel_response: bool = False,
    clear_output_audio: bool = False,
) -> SendingSubscription:
    """Send the ``conversation.item.truncate`` (and opt-in ``response.cancel`` /
    ``output_audio_buffer.clear``) that :func:`rxrealtime.operators.barge_in` emits for
    ``session.events``. The options are ``barge_in``'s; the clock is the subscriber's default
    (the wall clock, or the session's scheduler if its ``events`` supplies one).
    """
    options: dict[str, Any] = {}
    if format is not None:
        options["format"] = format
    decide = barge_in(
        playback_position=playback_position,
        cancel_response=cancel_response,
        clear_output_audio=clear_output_audio,
        **options,
    )
    return send_events(session, session.events.pipe(decide))
