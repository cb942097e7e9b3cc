"""The speaker: a sink that plays the model's audio through an output device and knows, from the
device's own clock, how much of each item was actually heard.

::

    speaker = rr.audio.Speaker()                 # opens the default output device now
    session.events.subscribe(speaker)            # plays every audio part, in arrival order
    speaker.handle_barge_in(session)             # truncates interrupted items where they were heard
    ...
    speaker.position(item_id)                    # ms of that item heard so far
    speaker.close()

Playback
    The output stream is opened and started when the speaker is made and runs until
    :meth:`Speaker.close`, playing silence while there is nothing to play, so a reply starts
    without the device's start-up delay. Audio parts (``response.output_audio.delta`` per
    ``item_id``/``content_index``) play one after the other in the order their first delta
    arrived. Each part's format is the one the stream announced (``session.created``/
    ``session.updated``/``response.created``, followed as :func:`~rxrealtime.operators.audio_chunks`
    does: subscribe before ``session.created``, or pin it with ``format=``); it is decoded
    (G.711 expanded) and converted to the device's rate and channels with ``soxr``.

Jitter buffer
    A part starts playing ``jitter_ms`` after its first audio is ready to play (at once if its
    audio is already complete), so audio that arrives just in time — as a server pacing its
    deltas in real time sends it — keeps ``jitter_ms`` of margin. When a part runs dry before
    its ``…audio.done`` the device plays silence (counted in ``underruns``) and the part waits
    ``jitter_ms`` again once audio is back. Audio arriving faster than real time simply queues
    (the live model sends faster than it speaks): the queue is unbounded, its length is in
    :meth:`Speaker.statistics`.

The playback clock
    Every block handed to the device is stamped with the time the device says its first sample
    reaches the output (PortAudio's ``outputBufferDacTime``, on the stream's clock).
    :meth:`Speaker.position` compares those stamps with the stream's clock now
    (``Pa_GetStreamTime``): the ms of the part whose samples have reached the output. So it
    counts audio as heard only once the device has played it — not when it arrived, not when it
    was queued — and it never passes the audio received.

Interruption
    ``input_audio_buffer.speech_started`` (the user talks over the model) or
    :meth:`Speaker.interrupt` stops playback at once: the queue is flushed, and the rest of
    every part that was playing or streaming is dropped when it arrives. What was already
    handed to the device (at most its latency plus one block) still plays;
    :meth:`Speaker.playback_position` — the truncation point that
    :meth:`Speaker.handle_barge_in` gives :func:`~rxrealtime.operators.barge_in` — counts it,
    so the conversation keeps exactly the audio the user will have heard.

Threads
    ``on_next`` runs on the thread delivering events (a session's loop) and does the decoding
    and resampling; PortAudio's callback thread only copies queued bytes, under one lock held
    for microseconds. ``position`` and ``statistics`` may be called from any thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs
from reactivex import abc
from reactivex import operators as rx_ops

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.audio import AudioFormat, g711
from rxrealtime.audio.devices.backend import (
    PORTAUDIO_LOCK,
    AudioDeviceError,
    find_device,
    load_sounddevice,
)
from rxrealtime.audio.devices.convert import PcmConverter
from rxrealtime.session import SessionBase
from rxrealtime.sinks.tool_runner import SendingSubscription, send_events

__all__ = ["Speaker", "SpeakerStatistics"]

logger = logging.getLogger("rxrealtime.audio")

PartKey = tuple[str, int]
_KEEP_PARTS = 64  # finished parts remembered for position() queries


@attrs.frozen
class SpeakerStatistics:
    """A snapshot of a :class:`Speaker`."""

    device: str
    samplerate: int
    channels: int
    latency_ms: float
    """The output latency the device reported when the stream opened."""
    parts: int
    """Audio parts seen (each ``item_id``/``content_index``)."""
    queued_ms: float
    """Audio waiting to be handed to the device."""
    underruns: int
    """Times a part ran dry before its audio was complete (silence was played)."""
    device_underflows: int
    """Output underflows the device reported (it played silence we did not choose)."""
    interrupted_parts: int
    dropped_ms: float
    """Audio flushed or dropped by interruptions, never played."""


@attrs.define(eq=False)
class _Part:
    key: PartKey
    response_id: str | None
    received_ms: float = 0.0
    queued: int = 0  # device frames queued, not yet handed to the device
    handed: int = 0  # device frames handed to the device
    heard: int = 0  # device frames whose output time has passed (folded marks)
    complete: bool = False  # its …audio.done (or the response's end) arrived
    primed: bool = False
    waiting_since: float | None = None  # stream time its (next) audio became ready to play
    interrupted: bool = False


@attrs.define(eq=False)
class _Segment:
    part: _Part
    data: bytes
    offset: int = 0


@attrs.define(eq=False)
class _Mark:
    part: _Part
    frames: int
    at: float  # stream time at which the first of these frames reaches the output


@attrs.define(eq=False)
class _Converter:
    rate: int
    law: g711.Law | None
    pcm: PcmConverter


class Speaker(abc.ObserverBase[ev.ServerEvent]):
    """Plays the model's audio through an output device (see the module docstring).

    ``device``: ``None`` (the system default), a PortAudio index, or a substring of a device
    name. ``samplerate`` (default: the device's), ``channels`` (default: 2, or 1 for a mono
    device), ``latency`` (PortAudio's suggested latency: seconds, ``"low"`` or ``"high"``),
    ``block_ms`` (audio per device callback), ``jitter_ms`` (see Jitter buffer), ``format``
    (pin the output audio format instead of following the stream's announcements).

    Opening the device takes PortAudio a moment (it probes it); in async code that must not
    stall its loop, make it with ``await asyncio.to_thread(rr.audio.Speaker, ...)``.

    Raises:
        AudioDeviceError: the libraries are missing or the device cannot be opened.
    """

    def __init__(
        self,
        device: int | str | None = None,
        *,
        samplerate: int | None = None,
        channels: int | None = None,
        latency: float | str = 0.1,
        block_ms: float = 10,
        jitter_ms: float = 60,
        format: AudioFormat | None = None,
    ) -> None:
        if not 1 <= block_ms <= 200:
            raise ValueError(f"block_ms must be between 1 and 200, not {block_ms}")
        if jitter_ms < 0:
            raise ValueError(f"jitter_ms must not be negative, not {jitter_ms}")
        sd = load_sounddevice()
        info = find_device("output", device)
        self.device = info.name
        self.samplerate = samplerate or info.default_samplerate
        self.channels = channels or min(2, info.max_channels)
        self._frame_bytes = 2 * self.channels
        self._jitter = jitter_ms / 1000
        self._decoder = ops.AudioDecoder(format)
        self._converters: dict[PartKey, _Converter] = {}
        self._lock = threading.Lock()
        self._parts: dict[PartKey, _Part] = {}
        self._queue: deque[_Segment] = deque()
        self._marks: deque[_Mark] = deque()
        self._current: _Part | None = None
        self._underruns = self._underflows = self._interrupted = 0
        self._dropped_frames = 0
        self._first_callback: float | None = None
        self._last_callback: float | None = None
        self._closed = False
        self._stopped = False
        self.latency = 0.0
        """The output latency (seconds) the device reported when the stream opened."""
        try:
            with PORTAUDIO_LOCK:
                self._stream: Any = sd.RawOutputStream(
                    device=info.index,
                    samplerate=self.samplerate,
                    channels=self.channels,
                    dtype="int16",
                    blocksize=max(1, int(self.samplerate * block_ms / 1000)),
                    latency=latency,
                    callback=self._callback,
                )
                self._stream.start()
        except sd.PortAudioError as error:
            detail = " ".join(str(error).split())
            raise AudioDeviceError(f"cannot open audio output {info.name!r}: {detail}") from None
        self.latency = float(self._stream.latency)

    # -- the observer (the events' thread) ------------------------------------------------------

    def on_next(self, value: ev.ServerEvent) -> None:
        if self._stopped:
            return
        self._decoder.step(value, self._play)
        if isinstance(value, ev.ResponseOutputAudioDone):
            self._finish_part((value.item_id, value.content_index))
        elif isinstance(value, ev.ResponseDone) and value.response is not None:
            done_id = value.response.id
            for part in list(self._parts.values()):
                if part.response_id == done_id and not part.complete:
                    self._finish_part(part.key)
        elif isinstance(value, ev.InputAudioBufferSpeechStarted):
            self.interrupt()

    def on_error(self, error: Exception) -> None:
        self._end()

    def on_completed(self) -> None:
        self._end()

    def _end(self) -> None:
        """The events ended: queued audio still plays out; nothing more arrives."""
        for key in list(self._converters):
            self._finish_part(key)
        self._stopped = True

    def _play(self, chunk: ops.AudioChunk) -> None:
        key = (chunk.item_id, chunk.content_index)
        with self._lock:
            part = self._parts.get(key)
            if part is None:
                part = self._parts[key] = _Part(key, chunk.response_id)
                self._forget_old_parts()
        if part.interrupted:
            self._dropped_frames += int(chunk.duration_ms * self.samplerate / 1000)
            return
        converter = self._converters.get(key)
        if converter is None:
            fmt = chunk.audio_format
            converter = self._converters[key] = _Converter(
                fmt.sample_rate,
                fmt.law,
                PcmConverter(fmt.sample_rate, 1, self.samplerate, self.channels),
            )
        pcm = chunk.data if converter.law is None else g711.decode(chunk.data, converter.law)
        self._enqueue(part, converter.pcm.feed(pcm), chunk.duration_ms)

    def _finish_part(self, key: PartKey) -> None:
        converter = self._converters.pop(key, None)
        part = self._parts.get(key)
        if part is None:
            return
        if converter is not None and not part.interrupted:
            self._enqueue(part, converter.pcm.flush(), 0.0)
        with self._lock:
            part.complete = True

    def _enqueue(self, part: _Part, data: bytes, ms: float) -> None:
        with self._lock:
            part.received_ms += ms
            if data and not part.interrupted:
                self._queue.append(_Segment(part, data))
                part.queued += len(data) // self._frame_bytes

    def _forget_old_parts(self) -> None:
        if len(self._parts) <= _KEEP_PARTS:
            return
        active = {segment.part.key for segment in self._queue}
        active |= {mark.part.key for mark in self._marks}
        for key in list(self._parts)[: len(self._parts) - _KEEP_PARTS]:
            if key not in active and key not in self._converters:
                del self._parts[key]

    # -- interruption ---------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Stop playback now: flush the queue and drop the rest of every part that is playing
        or still streaming. Audio already handed to the device plays out (see
        :meth:`playback_position`). Safe to call at any time, from the events' thread."""
        with self._lock:
            for segment in self._queue:
                self._dropped_frames += (len(segment.data) - segment.offset) // self._frame_bytes
                segment.part.queued = 0
                self._mark_interrupted(segment.part)
            self._queue.clear()
            for part in self._parts.values():
                if not part.complete:
                    self._mark_interrupted(part)
            self._current = None
        for key in [k for k, p in self._parts.items() if p.interrupted]:
            self._converters.pop(key, None)

    def _mark_interrupted(self, part: _Part) -> None:
        if not part.interrupted:
            part.interrupted = True
            self._interrupted += 1

    # -- the device's thread --------------------------------------------------------------------

    def _callback(self, outdata: Any, frames: int, when: Any, status: Any) -> None:
        now = float(when.currentTime)
        dac = float(when.outputBufferDacTime) or now + self.latency
        total = frames * self._frame_bytes
        filled = 0
        with self._lock:
            if status.output_underflow:
                self._underflows += 1
            if self._first_callback is None:
                self._first_callback = now
            self._last_callback = now
            self._fold(now)
            while filled < total and self._queue:
                segment = self._queue[0]
                part = segment.part
                if not part.primed:
                    if part.waiting_since is None:
                        part.waiting_since = now
                    if not part.complete and now - part.waiting_since < self._jitter:
                        break
                    part.primed = True
                take = min(total - filled, len(segment.data) - segment.offset)
                outdata[filled : filled + take] = segment.data[
                    segment.offset : segment.offset + take
                ]
                count = take // self._frame_bytes
                at = dac + filled / self._frame_bytes / self.samplerate
                self._marks.append(_Mark(part, count, at))
                part.handed += count
                part.queued -= count
                segment.offset += take
                filled += take
                self._current = part
                if segment.offset >= len(segment.data):
                    self._queue.popleft()
            if filled < total:
                current = self._current
                if (
                    current is not None
                    and not current.complete
                    and not current.interrupted
                    and current.primed
                    and (not self._queue or self._queue[0].part is current)
                ):
                    self._underruns += 1
                    current.primed = False  # wait for jitter_ms again once audio is back
                    current.waiting_since = None
                outdata[filled:total] = bytes(total - filled)

    def _fold(self, now: float) -> None:
        """Move marks whose last frame has reached the output into their part's ``heard``
        (under the lock)."""
        marks = self._marks
        while marks and marks[0].at + marks[0].frames / self.samplerate <= now:
            mark = marks.popleft()
            mark.part.heard += mark.frames

    # -- the clock ------------------------------------------------------------------------------

    def _now(self) -> float:
        try:
            return float(self._stream.time)
        except Exception:  # a closed stream has no clock: everything handed has been heard
            return float("inf")

    def position(self, item_id: str, content_index: int = 0) -> float:
        """Milliseconds of the item's audio part that the device has played, by its own clock
        (0.0 for a part it has not played). Never more than the audio received."""
        with self._lock:
            part = self._parts.get((item_id, content_index))
            if part is None:
                return 0.0
            now = self._now()
            self._fold(now)
            frames = float(part.heard)
            for mark in self._marks:
                if mark.part is part:
                    frames += min(mark.frames, max(0.0, (now - mark.at) * self.samplerate))
            return min(part.received_ms, frames * 1000 / self.samplerate)

    def playback_position(self, item_id: str, content_index: int) -> float | None:
        """Where to truncate the part: for an interrupted part, all the audio handed to the
        device before the interruption (it plays out within the device's latency, so it is
        exactly what the user hears of it); otherwise :meth:`position`. ``None`` for a part
        the speaker never saw. This is :data:`~rxrealtime.operators.PlaybackPosition`."""
        with self._lock:
            part = self._parts.get((item_id, content_index))
            if part is None:
                return None
            if part.interrupted:
                return min(part.received_ms, part.handed * 1000 / self.samplerate)
        return self.position(item_id, content_index)

    def interrupted(self, item_id: str, content_index: int = 0) -> bool:
        """Whether the part was cut short by an interruption (its rest was never played)."""
        with self._lock:
            part = self._parts.get((item_id, content_index))
            return part is not None and part.interrupted

    def handle_barge_in(
        self,
        session: SessionBase,
        *,
        cancel_response: bool = False,
        clear_output_audio: bool = False,
    ) -> SendingSubscription:
        """Answer barge-ins on ``session``: on ``input_audio_buffer.speech_started`` stop
        playback (:meth:`interrupt`) and then send the ``conversation.item.truncate``
        (options: :func:`~rxrealtime.operators.barge_in`'s) at :meth:`playback_position`.
        Subscribe before ``session.created`` so the output format is known. Returns the
        sending subscription (``dispose()``, ``await aclose()``)."""

        def stop_first(event: ev.ServerEvent) -> None:
            if isinstance(event, ev.InputAudioBufferSpeechStarted):
                self.interrupt()

        decide = ops.barge_in(
            playback_position=self.playback_position,
            cancel_response=cancel_response,
            clear_output_audio=clear_output_audio,
        )
        return send_events(session, session.events.pipe(rx_ops.do_action(stop_first), decide))

    # -- waiting, statistics, closing -----------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the device is consuming audio at its pace: its clock has advanced by its
        latency since the first callback (before that, a device may still be starting up and
        the times it reports are not yet reliable)."""
        with self._lock:
            first, last = self._first_callback, self._last_callback
        return first is not None and last is not None and last - first >= max(self.latency, 0.02)

    async def wait_ready(self, limit: float = 10.0) -> None:
        """Wait until :attr:`ready`. Raises :class:`AudioDeviceError` after ``limit`` s."""
        await self._wait_until(lambda: self.ready, limit, "did not start")

    async def drain(self, limit: float = 60.0) -> None:
        """Wait until every queued part has been played out (parts still streaming may add
        more later). Raises :class:`AudioDeviceError` after ``limit`` s."""

        def played() -> bool:
            with self._lock:
                self._fold(self._now())
                return not self._queue and not self._marks

        await self._wait_until(played, limit, "did not play its queue out")

    async def _wait_until(self, condition: Callable[[], bool], limit: float, what: str) -> None:
        deadline = time.monotonic() + limit
        while not condition():
            if self._closed:
                raise AudioDeviceError(f"audio output {self.device!r} is closed")
            if time.monotonic() > deadline:
                raise AudioDeviceError(f"audio output {self.device!r} {what} in {limit:g} s")
            await asyncio.sleep(0.005)

    def statistics(self) -> SpeakerStatistics:
        with self._lock:
            queued = sum(len(s.data) - s.offset for s in self._queue) // self._frame_bytes
            return SpeakerStatistics(
                device=self.device,
                samplerate=self.samplerate,
                channels=self.channels,
                latency_ms=self.latency * 1000,
                parts=len(self._parts),
                queued_ms=queued * 1000 / self.samplerate,
                underruns=self._underruns,
                device_underflows=self._underflows,
                interrupted_parts=self._interrupted,
                dropped_ms=self._dropped_frames * 1000 / self.samplerate,
            )

    def close(self) -> None:
        """Stop the device at once (queued audio is dropped) and release it. Idempotent."""
        if self._closed:
            return
        self._closed = self._stopped = True
        try:
            with PORTAUDIO_LOCK:
                self._stream.abort()
                self._stream.close()
        except Exception:  # the device went away: there is nothing left to release
            logger.debug("closing speaker %r failed", self.device, exc_info=True)

    def __enter__(self) -> Speaker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
