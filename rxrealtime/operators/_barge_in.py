"""Barge-in: the user speaks while the model's audio plays.

Two operators share the work, both pure functions of the event stream:

* :func:`barge_in` answers the server: it emits the client events to send — a
  ``conversation.item.truncate`` clamped to the audio actually played (and, opt-in,
  ``response.cancel`` / ``output_audio_buffer.clear``);
* :func:`stop_audio_on_speech` silences the client: it drops the rest of an interrupted item's
  audio deltas, so audio derived downstream (``audio_chunks``, ``rechunk``) ends for that item.

``rxrealtime.sinks.tool_runner.handle_barge_in(session)`` wires :func:`barge_in` to a session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs
from reactivex import Observable, abc

from rxrealtime import events as ev
from rxrealtime.audio import AudioFormat

from ._core import Clock, stateful
from ._output_format import OutputFormatTracker

__all__ = ["BargeInDetector", "PlaybackPosition", "barge_in", "stop_audio_on_speech"]

PlaybackPosition = Callable[[str, int], "float | None"]
"""``(item_id, content_index) -> ms of that part's audio played so far`` (``None``: unknown)."""


def _decoded_length(delta: object) -> int:
    """Bytes a base64 string decodes to, computed from its length (no decoding)."""
    if not isinstance(delta, str):
        return 0
    text = delta.strip()
    return max(0, len(text) * 3 // 4 - (len(text) - len(text.rstrip("="))))


@attrs.define
class _Playback:
    item_id: str
    content_index: int
    response_id: str | None
    started_at: datetime
    format: AudioFormat
    received_bytes: int = 0
    streaming: bool = True


class BargeInDetector:
    """The sans-I/O state machine behind :func:`barge_in` (one per subscription).

    It follows the one audio part being played — the part that most recently started
    streaming audio (playback is sequential; a new part means the previous one finished) — and
    the set of responses in progress. Bytes received become milliseconds in the part's
    format, fixed at its first delta by an :class:`OutputFormatTracker`.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        fmt: AudioFormat | None = None,
        playback_position: PlaybackPosition | None = None,
        cancel_response: bool = False,
        clear_output_audio: bool = False,
    ) -> None:
        self._clock = clock
        self.formats = OutputFormatTracker(fmt)
        self._position = playback_position
        self._cancel = cancel_response
        self._clear = clear_output_audio
        self._active: set[str] = set()
        self._interrupted: dict[tuple[str, int], str | None] = {}  # part -> its response id
        self.playback: _Playback | None = None

    def step(self, event: ev.ServerEvent, emit: Callable[[ev.ClientEvent], None]) -> None:
        self.formats.observe(event)
        playback = self.playback
        if isinstance(event, ev.ResponseOutputAudioDelta):
            key = (event.item_id, event.content_index)
            if key in self._interrupted:
                return  # the rest of an interrupted part is never played
            if playback is None or (playback.item_id, playback.content_index) != key:
                playback = self.playback = _Playback(
                    event.item_id,
                    event.content_index,
                    event.response_id,
                    self._clock(),
                    self.formats.format_for(event.response_id),
                )
            playback.received_bytes += _decoded_length(event.delta)
        elif isinstance(event, ev.ResponseOutputAudioDone):
            self._interrupted.pop((event.item_id, event.content_index), None)
            if playback is not None and playback.item_id == event.item_id:
                playback.streaming = False
        elif isinstance(event, ev.ResponseCreated) and event.response is not None:
            if event.response.id is not None:
                self._active.add(event.response.id)
        elif isinstance(event, ev.ResponseDone) and event.response is not None:
            done_id = event.response.id
            self._active.discard(done_id or "")
            for key in [k for k, rid in self._interrupted.items() if rid == done_id]:
                del self._interrupted[key]
            if playback is not None and playback.response_id == done_id:
                playback.streaming = False
        elif isinstance(event, ev.InputAudioBufferSpeechStarted) and playback is not None:
            self.playback = None
            self._interrupt(playback, emit)

    def finish(self, emit: Callable[[ev.ClientEvent], None]) -> None:
        self.playback = None
        self._active.clear()
        self._interrupted.clear()
        self.formats.clear()

    def played_ms(self, playback: _Playback) -> float:
        """Audio of ``playback`` played so far: the playback position (callback, else the
        clock since its first delta), clamped to the audio received."""
        received = playback.format.bytes_to_ms(playback.received_bytes)
        position = (
            self._position(playback.item_id, playback.content_index) if self._position else None
        )
        if position is None:
            position = (self._clock() - playback.started_at).total_seconds() * 1000
        return max(0.0, min(received, position))

    def _interrupt(self, playback: _Playback, emit: Callable[[ev.ClientEvent], None]) -> None:
        received = playback.format.bytes_to_ms(playback.received_bytes)
        played = self.played_ms(playback)
        if not playback.streaming and played >= received:
            return  # it had finished playing: nothing to interrupt
        if playback.streaming:
            self._interrupted[(playback.item_id, playback.content_index)] = playback.response_id
        emit(
            ev.ConversationItemTruncate(
                item_id=playback.item_id,
                content_index=playback.content_index,
                audio_end_ms=int(played),
            )
        )
        if self._cancel and playback.response_id in self._active:
            emit(ev.ResponseCancel(response_id=playback.response_id))
        if self._clear:
            emit(ev.OutputAudioBufferClear())


def barge_in(
    *,
    format: AudioFormat | None = None,
    playback_position: PlaybackPosition | None = None,
    cancel_response: bool = False,
    clear_output_audio: bool = False,
    scheduler: abc.SchedulerBase | None = None,
) -> Callable[[Observable[ev.ServerEvent]], Observable[ev.ClientEvent]]:
    """The client events that answer a barge-in, to send to the server.

    ::

        t=0 audio.delta(i1, 500 ms)  t=0.2 audio.delta(i1, 500 ms)  t=0.3 speech_started
        -------------------------------------------------------------[truncate(i1, 0, 300)]

    When ``input_audio_buffer.speech_started`` arrives while an audio part is playing (still
    streaming, or received audio not yet played out), emits
    ``ev.ConversationItemTruncate(item_id, content_index, audio_end_ms)`` where ``audio_end_ms``
    is the audio actually played, rounded down and clamped to the audio *received* (so the
    server never rejects it as longer than the item's audio):

    * with ``playback_position(item_id, content_index) -> ms`` (your player's position; return
      ``None`` when unknown), that position;
    * otherwise the time since the part's first audio delta on the scheduler's clock
      (``scheduler`` argument, else the subscriber's scheduler, else the wall clock) — right
      when playback starts as audio arrives and is not paused.

    ``cancel_response=True`` also emits ``ev.ResponseCancel(response_id)`` if that response is
    still in progress (leave it off with server VAD's ``interrupt_response``, which cancels
    already); ``clear_output_audio=True`` also emits ``ev.OutputAudioBufferClear()`` (WebRTC/SIP
    output buffers). At most one truncate per played part; emitted synchronously on the
    ``speech_started`` event. Completion and errors are the source's.

    Bytes received become milliseconds in the output audio format, which ``format=None`` (the
    default) follows from the stream exactly as :func:`audio_chunks` does — PCM16 24 kHz until
    ``session.created``/``session.updated`` announces another, per-response overrides from
    ``response.created``, a part's format fixed at its first delta::

        session.updated(pcmu)  t=0 audio.delta(i1, 4000 B = 500 ms)  t=0.3 speech_started
        ------------------------------------------------------------[truncate(i1, 0, 300)]

    (read as PCM16, those 4000 bytes would be 83 ms and the truncate would cut at 83).
    ``format=ops.PCMU`` (any :class:`AudioFormat`) pins the format and ignores announcements.
    """

    def factory(clock: Clock) -> BargeInDetector:
        return BargeInDetector(
            clock,
            fmt=format,
            playback_position=playback_position,
            cancel_response=cancel_response,
            clear_output_audio=clear_output_audio,
        )

    return stateful(factory, scheduler=scheduler)


class _AudioGate:
    def __init__(self) -> None:
        self._streaming: set[tuple[str, int]] = set()
        self._muted: set[tuple[str, int]] = set()

    def step(self, event: ev.ServerEvent, emit: Callable[[ev.ServerEvent], None]) -> None:
        if isinstance(event, ev.ResponseOutputAudioDelta):
            key = (event.item_id, event.content_index)
            if key in self._muted:
                return
            self._streaming.add(key)
        elif isinstance(event, ev.ResponseOutputAudioDone):
            key = (event.item_id, event.content_index)
            self._streaming.discard(key)
            self._muted.discard(key)
        elif isinstance(event, ev.InputAudioBufferSpeechStarted):
            self._muted |= self._streaming
            self._streaming.clear()
        elif isinstance(event, ev.ResponseDone):
            self._muted.clear()  # no audio part outlives its response
            self._streaming.clear()
        emit(event)

    def finish(self, emit: Callable[[ev.ServerEvent], None]) -> None:
        pass


def stop_audio_on_speech() -> Callable[[Observable[ev.ServerEvent]], Observable[ev.ServerEvent]]:
    """Drop the remaining audio deltas of every audio part that was streaming when the user
    started speaking; pass every other event through unchanged.

    ::

        --a(i1)--a(i1)--speech_started--a(i1)--a(i1)--audio.done(i1)--|
        --a(i1)--a(i1)--speech_started-----------------audio.done(i1)--|

    Put it before :func:`audio_chunks`/:func:`rechunk` so a player stops receiving an
    interrupted item (pair it with :func:`barge_in`, whose truncate is also the signal to flush
    audio already buffered in the player). Parts that start after the speech started play
    normally. State is released at ``…audio.done``/``response.done``. Completion and errors are
    the source's.
    """

    def factory(_clock: Clock) -> _AudioGate:
        return _AudioGate()

    return stateful(factory)
