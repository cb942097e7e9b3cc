"""``responses``: one summary per response; ``per_response``: one window per response."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
from reactivex import GroupedObservable, Observable, abc
from reactivex.subject import Subject

from rxrealtime import events as ev

from ._accumulate import Accumulated, Accumulator
from ._core import Clock, stateful

__all__ = ["ResponseSummary", "ResponseTracker", "per_response", "responses", "response_id_of"]

_DELTAS = (
    ev.ResponseOutputTextDelta,
    ev.ResponseOutputAudioDelta,
    ev.ResponseOutputAudioTranscriptDelta,
    ev.ResponseFunctionCallArgumentsDelta,
)


def response_id_of(event: ev.ServerEvent) -> str | None:
    """The id of the response an event belongs to, if it says (``response_id`` or
    ``response.id``)."""
    response_id = getattr(event, "response_id", None)
    if isinstance(response_id, str):
        return response_id
    response = getattr(event, "response", None)
    response_id = getattr(response, "id", None)
    return response_id if isinstance(response_id, str) else None


@attrs.frozen
class ResponseSummary:
    """What one response was, available when its ``response.done`` arrives."""

    id: str
    status: str | None
    """``completed``, ``cancelled``, ``failed`` or ``incomplete``."""
    status_details: Any
    output: tuple[Any, ...]
    """The response's output items, as ``response.done`` lists them."""
    text: str
    """All output text of the response, parts concatenated in the order they started."""
    transcript: str
    """All output-audio transcripts of the response, concatenated likewise."""
    usage: Any
    """The response's ``ev.Usage`` (``None`` when the server did not report it)."""
    created_at: datetime | None
    """Scheduler time of ``response.created`` (``None`` if it was not seen)."""
    first_delta_at: datetime | None
    """Scheduler time of the first text, audio, transcript or arguments delta."""
    done_at: datetime
    response: Any = attrs.field(repr=False)
    """The final ``ev.Response`` resource itself."""


@attrs.define
class _Running:
    created_at: datetime | None = None
    first_delta_at: datetime | None = None
    text: dict[tuple[str, int], str] = attrs.Factory(dict)
    transcript: dict[tuple[str, int], str] = attrs.Factory(dict)


class ResponseTracker:
    """The sans-I/O state machine behind :func:`responses` (one per subscription).

    Holds state only for responses that have started and not finished.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._running: dict[str, _Running] = {}
        self._parts = Accumulator(("output_text", "output_audio_transcript"))

    @property
    def open_responses(self) -> int:
        """Responses started and not yet done (the state held)."""
        return len(self._running)

    def step(self, event: ev.ServerEvent, emit: Callable[[ResponseSummary], None]) -> None:
        """Feed one event; ``emit`` is called synchronously with the summary at each
        ``response.done``."""
        self._parts.step(event, self._collect)
        if isinstance(event, ev.ResponseCreated) and event.response is not None:
            self._running.setdefault(event.response.id or "", _Running()).created_at = self._clock()
        elif isinstance(event, _DELTAS) and isinstance(event.response_id, str):
            running = self._running.setdefault(event.response_id, _Running())
            if running.first_delta_at is None:
                running.first_delta_at = self._clock()
        elif isinstance(event, ev.ResponseDone) and event.response is not None:
            response = event.response
            response_id = response.id or ""
            running = self._running.pop(response_id, _Running())
            emit(
                ResponseSummary(
                    id=response_id,
                    status=response.status,
                    status_details=response.status_details,
                    output=tuple(response.output or ()),
                    text="".join(running.text.values()),
                    transcript="".join(running.transcript.values()),
                    usage=response.usage,
                    created_at=running.created_at,
                    first_delta_at=running.first_delta_at,
                    done_at=self._clock(),
                    response=response,
                )
            )

    def finish(self, emit: Callable[[ResponseSummary], None]) -> None:
        """The stream ended: drop unfinished responses (nothing is emitted for them)."""
        self._running.clear()

    def _collect(self, part: Accumulated) -> None:
        if part.response_id is None:
            return
        running = self._running.setdefault(part.response_id, _Running())
        target = running.text if part.kind == "output_text" else running.transcript
        target[(part.item_id, part.content_index)] = part.text


def responses(
    *, scheduler: abc.SchedulerBase | None = None
) -> Callable[[Observable[ev.ServerEvent]], Observable[ResponseSummary]]:
    """One :class:`ResponseSummary` per response, emitted at its ``response.done``.

    ::

        --created(r1)--text.delta(r1,"Hi")--text.done(r1,"Hi!")--done(r1)--|
        -------------------------------------------------------[r1 "Hi!"]--|

    ``text``/``transcript`` use the server's final values where the ``.done`` events came and
    the deltas otherwise. Timings come from ``scheduler`` (default: the subscriber's scheduler,
    so virtual time works in tests, then the wall clock). Summaries are emitted in the order of
    the ``response.done`` events; state is held only while a response runs. A ``response.done``
    without a ``response.created`` still gets a summary (``created_at=None``). Completion and
    errors are the source's.
    """
    return stateful(ResponseTracker, scheduler=scheduler)


def per_response() -> Callable[
    [Observable[ev.ServerEvent]], Observable[GroupedObservable[str, ev.ServerEvent]]
]:
    """Split the stream into one window per response, from ``response.created`` to
    ``response.done`` (both included); ``window.key`` is the response id.

    ::

        --created(r1)--x--d(r1)--done(r1)--created(r2)--d(r2)--done(r2)--|
        --W1-------------------------------W2----------------------------|
        W1: created(r1)--x--d(r1)--done(r1)|
        W2: created(r2)--d(r2)--done(r2)|

    Routing: an event naming a response (``response_id`` or ``response.id``) goes only to that
    response's window (events naming an unknown or finished response go nowhere); an event
    naming none (``conversation.item.added``, ``input_audio_buffer.*``, ``rate_limits.updated``,
    …) goes to every open window. A repeated ``response.created`` for an open response (a
    duplicated frame) goes into that response's window; it never opens a second one. Windows
    are hot, like Rx ``window``/``group_by``: subscribe to a window when it is emitted
    (``flat_map``/``merge_all`` do) or you miss its first events. Source completion completes
    and a source error errors every open window.
    """

    def operator(
        source: Observable[ev.ServerEvent],
    ) -> Observable[GroupedObservable[str, ev.ServerEvent]]:
        def subscribe(
            observer: abc.ObserverBase[GroupedObservable[str, ev.ServerEvent]],
            scheduler: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            windows: dict[str, Subject[ev.ServerEvent]] = {}

            def on_next(event: ev.ServerEvent) -> None:
                if isinstance(event, ev.ResponseCreated) and event.response is not None:
                    key = event.response.id or ""
                    if key not in windows:  # a repeated response.created stays in its window
                        window: Subject[ev.ServerEvent] = Subject()
                        windows[key] = window
                        observer.on_next(GroupedObservable(key, window))
                response_id = response_id_of(event)
                if response_id is None:
                    for open_window in list(windows.values()):
                        open_window.on_next(event)
                    return
                target = windows.get(response_id)
                if target is not None:
                    target.on_next(event)
                    if isinstance(event, ev.ResponseDone):
                        del windows[response_id]
                        target.on_completed()

            def on_error(error: Exception) -> None:
                for window in list(windows.values()):
                    window.on_error(error)
                windows.clear()
                observer.on_error(error)

            def on_completed() -> None:
                for window in list(windows.values()):
                    window.on_completed()
                windows.clear()
                observer.on_completed()

            return source.subscribe(on_next, on_error, on_completed, scheduler=scheduler)

        return Observable(subscribe)

    return operator
