"""``latency``: how long the model took, per response, on the scheduler's clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs
from reactivex import Observable, abc

from rxrealtime import events as ev

from ._core import Clock, stateful

__all__ = ["Latency", "latency"]

_DELTAS = (
    ev.ResponseOutputTextDelta,
    ev.ResponseOutputAudioDelta,
    ev.ResponseOutputAudioTranscriptDelta,
    ev.ResponseFunctionCallArgumentsDelta,
)


@attrs.frozen
class Latency:
    """Latencies of one response in milliseconds; ``None`` where an endpoint was not seen."""

    response_id: str
    speech_to_first_audio_ms: float | None
    """``input_audio_buffer.speech_stopped`` → the response's first audio delta (voice turns)."""
    created_to_first_delta_ms: float | None
    """``response.created`` → first text, audio, transcript or arguments delta."""
    created_to_done_ms: float | None
    """``response.created`` → ``response.done``."""


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() * 1000


@attrs.define
class _Times:
    created: datetime | None = None
    first_delta: datetime | None = None
    speech_to_audio_ms: float | None = None
    audio_seen: bool = False


class _LatencyMeter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._speech_stopped: datetime | None = None
        self._running: dict[str, _Times] = {}

    def step(self, event: ev.ServerEvent, emit: Callable[[Latency], None]) -> None:
        if isinstance(event, ev.InputAudioBufferSpeechStopped):
            self._speech_stopped = self._clock()
        elif isinstance(event, ev.ResponseCreated) and event.response is not None:
            self._running.setdefault(event.response.id or "", _Times()).created = self._clock()
        elif isinstance(event, _DELTAS) and isinstance(event.response_id, str):
            times = self._running.setdefault(event.response_id, _Times())
            now = self._clock()
            if times.first_delta is None:
                times.first_delta = now
            if isinstance(event, ev.ResponseOutputAudioDelta) and not times.audio_seen:
                times.audio_seen = True
                # The first audio after the user stopped speaking answers that speech.
                times.speech_to_audio_ms = _ms(self._speech_stopped, now)
                self._speech_stopped = None
        elif isinstance(event, ev.ResponseDone) and event.response is not None:
            response_id = event.response.id or ""
            times = self._running.pop(response_id, _Times())
            emit(
                Latency(
                    response_id=response_id,
                    speech_to_first_audio_ms=times.speech_to_audio_ms,
                    created_to_first_delta_ms=_ms(times.created, times.first_delta),
                    created_to_done_ms=_ms(times.created, self._clock()),
                )
            )

    def finish(self, emit: Callable[[Latency], None]) -> None:
        self._running.clear()


def latency(
    *, scheduler: abc.SchedulerBase | None = None
) -> Callable[[Observable[ev.ServerEvent]], Observable[Latency]]:
    """One :class:`Latency` record per response, emitted at its ``response.done``.

    ::

        t=0 speech_stopped, t=1 created(r1), t=3 audio.delta(r1), t=9 done(r1)
        -------------------------------------------------[r1 speech→audio 3000 ms,
                                                            created→delta 2000 ms, →done 8000 ms]

    Time is read from ``scheduler`` when given, else from the subscriber's scheduler (virtual
    time in marble tests; the loop-bound scheduler in a live session), else the wall clock.
    ``speech_to_first_audio_ms`` pairs the latest ``speech_stopped`` with the first audio delta
    of the next response that sends audio. Records come in ``response.done`` order; state is held
    only for running responses. Completion and errors are the source's.
    """
    return stateful(_LatencyMeter, scheduler=scheduler)
