"""``errors`` and ``raise_on_error``: the two ways to look at what went wrong."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeAlias, cast

from reactivex import Observable, abc

from rxrealtime import events as ev

from ._errors import RealtimeServerError
from ._of_type import of_type

__all__ = ["ProblemEvent", "errors", "raise_on_error"]

ProblemEvent: TypeAlias = "ev.ErrorEvent | ev.InvalidEvent | ev.UnknownEvent"


def errors(
    *, unknown: bool = False
) -> Callable[[Observable[ev.ServerEvent]], Observable[ProblemEvent]]:
    """Server ``error`` events and frames that did not decode, as data.

    ::

        --x--E--I--U--x--|     E: ErrorEvent, I: InvalidEvent, U: UnknownEvent
        -----E--I--------|     errors()
        -----E--I--U-----|     errors(unknown=True)

    ``InvalidEvent`` (a frame that is not a well-formed event) is always included;
    ``UnknownEvent`` (a well-formed event of a type this library does not know, e.g. a newer
    API) only with ``unknown=True``. Stateless: ordering, completion and errors are the source's.
    """
    if unknown:
        return of_type(ev.ErrorEvent, ev.InvalidEvent, ev.UnknownEvent)
    return cast(
        Callable[[Observable[ev.ServerEvent]], Observable[ProblemEvent]],
        of_type(ev.ErrorEvent, ev.InvalidEvent),
    )


def raise_on_error(
    *,
    codes: Collection[str] | None = None,
    ignore: Collection[str] = (),
) -> Callable[[Observable[ev.ServerEvent]], Observable[ev.ServerEvent]]:
    """Pass every event through, but turn a server ``error`` event into ``on_error``.

    ::

        --x--y--E(invalid_value)--z--|
        --x--y--#RealtimeServerError(invalid_value)

    This is the opt-in exit from the "errors are data" policy: the error event itself is not
    emitted; the stream ends with :class:`RealtimeServerError` (``.code``, ``.type``,
    ``.message``, ``.param``, ``.client_event_id``, ``.event``) and upstream is disposed,
    as for any Rx error. Other events pass in order, unbuffered; completion is the source's.

    Args:
        codes: only these error codes raise (default: every error).
        ignore: error codes that never raise; those events are passed through as data.
    """
    wanted = None if codes is None else frozenset(codes)
    skipped = frozenset(ignore)

    def fatal(event: ev.ErrorEvent) -> bool:
        code = event.error.code if event.error is not None else None
        if code in skipped:
            return False
        return wanted is None or code in wanted

    def operator(source: Observable[ev.ServerEvent]) -> Observable[ev.ServerEvent]:
        def subscribe(
            observer: abc.ObserverBase[ev.ServerEvent], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            def on_next(event: ev.ServerEvent) -> None:
                if isinstance(event, ev.ErrorEvent) and fatal(event):
                    observer.on_error(RealtimeServerError(event))
                else:
                    observer.on_next(event)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return Observable(subscribe)

    return operator
