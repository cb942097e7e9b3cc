"""``accumulate_deltas``: every streamed text part with its value so far."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import attrs
from reactivex import Observable

from rxrealtime import events as ev
from rxrealtime._construct import slot_builder

from ._core import Clock, stateful
from ._parts import DELTA_KINDS, PART_EVENT_TYPES, DeltaKind, PartKey, classify

__all__ = ["Accumulated", "Accumulator", "accumulate_deltas"]


@attrs.frozen
class Accumulated:
    """One step of one streamed text part.

    ``text`` is the value so far (the server's final value when ``done``); ``delta`` is what this
    step added. On the closing step ``delta`` is the part of the server's final value not yet
    seen (empty when the deltas already spelled it out), so concatenating every ``delta`` of a
    part gives its final value whenever the server's deltas are a prefix of it.
    """

    kind: DeltaKind
    item_id: str
    content_index: int
    delta: str
    text: str
    done: bool
    response_id: str | None = None
    """The response that produced the part; ``None`` for input-audio transcription."""
    call_id: str | None = None
    """For ``function_call_arguments`` parts: the call's ``call_id``."""

    @property
    def key(self) -> PartKey:
        """``(item_id, content_index, kind)``."""
        return (self.item_id, self.content_index, self.kind)


_accumulated = slot_builder(Accumulated)  # every field, in order (the per-delta hot path)


@attrs.define
class _Open:
    text: str
    response_id: str | None
    call_id: str | None


class Accumulator:
    """The sans-I/O state machine behind :func:`accumulate_deltas` (one per subscription).

    ``open_parts`` is the number of parts that have started and not ended; it returns to zero
    when every part has been closed by its final event, a failure, its response's
    ``response.done`` or its item's deletion.
    """

    accepts: tuple[type[ev.ServerEvent], ...] = (
        *PART_EVENT_TYPES,
        ev.ResponseDone,
        ev.ConversationItemDeleted,
    )
    """The only events it reacts to."""

    def __init__(self, kinds: Collection[DeltaKind] = DELTA_KINDS) -> None:
        self._kinds = frozenset(kinds)
        self._parts: dict[PartKey, _Open] = {}

    @property
    def open_parts(self) -> int:
        """Parts started and not yet closed (the state held)."""
        return len(self._parts)

    def step(self, event: ev.ServerEvent, emit: Callable[[Accumulated], None]) -> None:
        """Feed one event; ``emit`` is called synchronously, in order, for each record it makes
        (never raises for any event)."""
        part = classify(event)
        if part is None:
            if isinstance(event, ev.ResponseDone):
                self._release(lambda part, _key: part.response_id == _response_id(event))
            elif isinstance(event, ev.ConversationItemDeleted):
                self._release(lambda _part, key: key[0] == event.item_id)
            return
        if part.kind not in self._kinds:
            return
        key = part.key
        if part.failed:
            self._parts.pop(key, None)
        elif part.final is None:
            if not part.delta:
                return
            current = self._parts.get(key)
            if current is None:
                current = self._parts[key] = _Open("", part.response_id, part.call_id)
            current.text += part.delta
            emit(_record(part, current, delta=part.delta, text=current.text, done=False))
        else:
            current = self._parts.pop(key, None) or _Open("", part.response_id, part.call_id)
            final = part.final
            rest = final[len(current.text) :] if final.startswith(current.text) else ""
            emit(_record(part, current, delta=rest, text=final, done=True))

    def finish(self, emit: Callable[[Accumulated], None]) -> None:
        """The stream ended: drop every open part (nothing is emitted for them)."""
        self._parts.clear()

    def _release(self, doomed: Callable[[_Open, PartKey], bool]) -> None:
        for key in [key for key, part in self._parts.items() if doomed(part, key)]:
            del self._parts[key]


def _record(part: Any, current: _Open, *, delta: str, text: str, done: bool) -> Accumulated:
    return _accumulated(
        part.kind,
        part.item_id,
        part.content_index,
        delta,
        text,
        done,
        part.response_id or current.response_id,
        part.call_id or current.call_id,
    )


def _response_id(event: ev.ResponseDone) -> str | None:
    response = event.response
    return response.id if response is not None else None


def accumulate_deltas(
    *, kinds: Collection[DeltaKind] = DELTA_KINDS
) -> Callable[[Observable[ev.ServerEvent]], Observable[Accumulated]]:
    """Assemble every streamed text part, emitting each delta with the text so far.

    ::

        --d(a,"He")--d(b,"Yo")--d(a,"y")--done(a,"Hey")--done(b,"Yo!")--|
        --[a "He"]---[b "Yo"]---[a "Hey"]-[a "Hey" done]-[b "Yo!" done]-|

    Parts are keyed by ``(item_id, content_index, kind)``; the kinds are ``"output_text"``,
    ``"output_audio_transcript"``, ``"function_call_arguments"`` (content index 0, ``call_id``
    set) and ``"input_audio_transcription"``. Interleaved items, content parts and responses are
    kept apart; GA and beta event names behave the same.

    Guarantees:

    * one record per non-empty delta, in arrival order, then exactly one ``done=True`` record per
      closing event (``*.done`` / ``…transcription.completed``) whose ``text`` is the *server's*
      final value, even when no delta preceded it;
    * state is released when a part closes, when its input transcription fails, when its
      response's ``response.done`` arrives (parts whose closing event never came: nothing is
      emitted for them), and when its item is deleted — memory stays flat in long sessions;
    * completion and errors are the source's.

    Args:
        kinds: restrict to these kinds (default: all four).
    """
    unknown = set(kinds) - set(DELTA_KINDS)
    if unknown:
        raise ValueError(f"unknown delta kinds: {sorted(unknown)}")
    chosen = tuple(kinds)

    def factory(_clock: Clock) -> Accumulator:
        return Accumulator(chosen)

    return stateful(factory)
