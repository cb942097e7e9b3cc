"""What every session shares, live or replayed: the consumer side (through one
:class:`~rxrealtime.session.hub.EventHub`) and the send side (the typed helpers).

:class:`~rxrealtime.session.RealtimeSession` and :class:`~rxrealtime.replay.ReplaySession` both
derive from :class:`SessionBase`, so the same consumer rules, statistics, end states and
helpers hold for both by construction; they differ only in where events come from and where
sent frames go.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from types import TracebackType
from typing import Any, ClassVar, Literal, Self

from reactivex import abc

from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosedError
from rxrealtime.scheduling import ObservableIterator, Overflow
from rxrealtime.session.ask import Ask
from rxrealtime.session.hub import EventHub, SessionStatistics
from rxrealtime.session.observable import SessionObservable
from rxrealtime.session.resources import TypedSenders

__all__ = ["SessionBase"]


class SessionBase(TypedSenders):
    """The consumer side and the send side of a session. Subclasses call :meth:`_init_base`
    and implement ``send_raw``, ``_send_frame``, ``close`` and ``wait_closed``."""

    _hub: EventHub
    _events: SessionObservable[ev.ServerEvent]
    _scheduler: abc.SchedulerBase
    replayed: ClassVar[bool] = False
    """True when the events come from a recording (nothing sent steers them)."""

    def _init_base(self, hub: EventHub, scheduler: abc.SchedulerBase) -> None:
        self._hub = hub
        self._scheduler = scheduler
        self._events = SessionObservable(hub.subscribe, scheduler)
        self._init_senders()

    # -- consumers ---------------------------------------------------------------------------

    @property
    def events(self) -> SessionObservable[ev.ServerEvent]:
        """Every server event, as a hot Observable shared by all subscribers.

        Each subscriber sees the events from the moment it subscribes, in arrival order,
        called synchronously on the session's thread (subscribers of the first turn also get
        the backlog of events that arrived before anyone listened). A subscriber that raises
        is logged and detached; the others go on. It completes when the session closes
        normally and errors with the session's
        :class:`~rxrealtime.errors.ConnectionClosedError` otherwise. Subscriptions and
        everything piped from it default to :attr:`scheduler`. The same object for the
        session's whole life (reconnects included).
        """
        return self._events

    @property
    def scheduler(self) -> abc.SchedulerBase:
        """The scheduler events are delivered on, and the default scheduler of every
        subscription to :attr:`events` and of everything piped from it (so ``delay``,
        ``debounce``, ``buffer_with_time``, ``timeout`` need no ``scheduler=``)."""
        return self._scheduler

    def iterate(
        self, *, maxsize: int | None = None, overflow: Overflow = "block"
    ) -> ObservableIterator[ev.ServerEvent]:
        """An async iterator over every event from now on (``async for e in session`` uses the
        defaults: ``maxsize=buffer_size``, ``overflow="block"`` — a slow loop body pauses the
        producer instead of losing events; see :mod:`rxrealtime.scheduling`). Closing the
        iterator (``aclose()``, ``async with``, or dropping it) detaches it."""
        return self._hub.iterate(maxsize=maxsize, overflow=overflow)

    def __aiter__(self) -> ObservableIterator[ev.ServerEvent]:
        return self._hub.iterate()

    def recv(self) -> Coroutine[Any, Any, ev.ServerEvent]:
        """``await session.recv()``: the next event not yet returned by ``recv()``/
        ``recv_bytes()``.

        The first call joins the session as a consumer (it gets the backlog if it is the first
        one); events are then queued for ``recv`` (``buffer_size``, oldest dropped and counted
        when full). Raises :class:`~rxrealtime.errors.ConnectionClosedOK` after a normal end
        and the session's :class:`~rxrealtime.errors.ConnectionClosedError` after another.
        Cancelling it is safe.
        """
        return self._hub.recv()

    def recv_bytes(self) -> Coroutine[Any, Any, bytes]:
        """``await session.recv_bytes()``: like :meth:`recv`, but the raw frame (text frames as
        UTF-8 bytes)."""
        return self._hub.recv_bytes()

    def ask(
        self,
        text: str | None,
        *,
        output: Literal["text", "audio"] = "text",
        instructions: str | None = None,
        metadata: Mapping[str, str] | None = None,
        response: Mapping[str, Any] | None = None,
        follow_tools: bool | None = None,
        timeout: float | None = None,
    ) -> Ask:
        """``await session.ask("question")``: send ``text`` as a user message, request one
        response (``output_modalities=[output]``, ``instructions``, ``metadata`` and any other
        ``response`` options) and return its :class:`~rxrealtime.session.ask.Answer` (an
        ``ops.ResponseSummary`` with ``audio`` and ``tool_calls``); ``async for`` over it
        yields the text (or transcript) deltas instead. See :mod:`rxrealtime.session.ask`."""
        return Ask(
            self,
            text,
            output=output,
            instructions=instructions,
            metadata=metadata,
            response=response,
            follow_tools=follow_tools,
            timeout=timeout,
        )

    # -- state -------------------------------------------------------------------------------

    @property
    def buffer_size(self) -> int:
        """Bound of the pre-consumer backlog, of the ``recv()`` queue and (by default) of
        every iterator's queue."""
        return self._hub.buffer_size

    @property
    def closed(self) -> bool:
        """True once the stream has ended (every consumer has been, or will be, ended)."""
        return self._hub.terminal is not None

    @property
    def close_code(self) -> int | None:
        """The close code of the end (``None`` while open)."""
        terminal = self._hub.terminal
        return terminal.code if terminal is not None else None

    @property
    def close_reason(self) -> str | None:
        """The close reason of the end, secrets masked (``None`` while open)."""
        terminal = self._hub.terminal
        return terminal.reason if terminal is not None else None

    def exception(self) -> ConnectionClosedError | None:
        """The error that ended the session, or None (open, or ended normally)."""
        terminal = self._hub.terminal
        return terminal if isinstance(terminal, ConnectionClosedError) else None

    def statistics(self) -> SessionStatistics:
        """An immutable snapshot of the session's counters (:class:`SessionStatistics`)."""
        return self._hub.statistics()

    # -- lifecycle ---------------------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """End the session and wait until every consumer has been ended; idempotent."""
        raise NotImplementedError

    async def wait_closed(self) -> None:
        """Wait until the session has ended."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
