"""Audio sources as Observables of fixed-duration frames in a session's input format.

::

    rr.audio.microphone()                       # the default input device, PCM16 24 kHz mono
    rr.audio.microphone("USB", format=rr.audio.PCMU, frame_ms=40)
    rr.audio.wav_file("question.wav")           # at speaking pace
    rr.audio.wav_file("question.wav", realtime=False)
    pcm_frames.pipe(rr.audio.reframe(20))       # any Observable of PCM16 24 kHz bytes

Every source emits ``bytes`` frames of exactly ``frame_ms`` milliseconds of ``format`` audio
(PCM16 24 kHz mono by default; :data:`~rxrealtime.audio.PCMU`/:data:`~rxrealtime.audio.PCMA`
for G.711 8 kHz), in order; a finite source's last frame may be shorter (what is left; no
silence is invented). They are cold: each subscription opens its own device or file, and
disposing the subscription closes it. Share one microphone between several consumers with
``.pipe(ops.share())``.

Threads: a subscription made on a running asyncio loop gets its frames on that loop's thread
(the microphone converts audio on PortAudio's thread and hops each frame to the loop); a
subscription made without a running loop gets them on PortAudio's thread (microphone) or on the
scheduler's (``wav_file``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import wave
from collections.abc import Callable, Iterator
from datetime import timedelta
from os import PathLike
from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable, SerialDisposable
from reactivex.scheduler import TimeoutScheduler

from rxrealtime.audio import PCM16, AudioFormat
from rxrealtime.audio.devices.backend import (
    PORTAUDIO_LOCK,
    AudioDeviceError,
    find_device,
    load_sounddevice,
)
from rxrealtime.audio.devices.convert import FormatEncoder, Framer
from rxrealtime.scheduling import LoopScheduler

__all__ = ["microphone", "reframe", "wav_file"]

logger = logging.getLogger("rxrealtime.audio")

_WAV_READ_MS = 100  # how much of a WAV file is read (and converted) at a time


def _check_frame_ms(frame_ms: float) -> None:
    if not 1 <= frame_ms <= 10_000:
        raise ValueError(f"frame_ms must be between 1 and 10000, not {frame_ms}")


def microphone(
    device: int | str | None = None,
    *,
    format: AudioFormat = PCM16,
    frame_ms: float = 20,
    samplerate: int | None = None,
    channels: int | None = None,
    latency: float | str = "high",
) -> Observable[bytes]:
    """Audio from an input device, as frames of ``frame_ms`` ms of ``format`` audio.

    ``device`` is ``None`` (the system default), a PortAudio device index, or a substring of
    its name. The device is opened at ``samplerate`` (default: the device's own) with
    ``channels`` channels (default: one, or as many as the device insists on); whatever they
    are, the frames are mono in ``format`` at its API rate — channels averaged, the rate
    converted by ``soxr`` (band-limited, no dropped samples), G.711 companded last.

    ``latency`` (seconds, or PortAudio's ``"low"``/``"high"``) sizes the device's input buffer:
    audio still arrives every 10 ms, and the buffer only bounds how long this process may be
    stalled before the device loses audio (an input overflow).

    Each subscription opens its own input stream and closes it when disposed; subscribed on a
    running loop, the device is opened on a worker thread (it takes PortAudio a moment), so
    the first frames follow shortly after. A device that
    cannot be opened, or missing libraries (the ``[voice]`` extra, PortAudio), reach the
    subscriber as :class:`~rxrealtime.audio.devices.AudioDeviceError` through ``on_error``.
    Input overflows reported by the device (audio lost before it reached us) are logged as
    warnings on ``rxrealtime.audio``. The Observable never completes on its own.

    Raises:
        ValueError: ``frame_ms`` is outside 1..10000, or ``format`` is not at its API rate.
    """
    _check_frame_ms(frame_ms)
    format.encode(b"")  # ValueError for a format that is not at its API rate

    def subscribe(
        observer: abc.ObserverBase[bytes], _scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        handle = _InputHandle()

        def open_stream() -> Callable[[], None]:
            return _open_input(
                observer, loop, handle, device, format, frame_ms, samplerate, channels, latency
            )

        if loop is None:
            try:
                handle.opened(open_stream())
            except AudioDeviceError as error:
                observer.on_error(error)
            return Disposable(handle.close)

        def on_open(future: asyncio.Future[Callable[[], None]]) -> None:
            error = None if future.cancelled() else future.exception()
            if error is None and not future.cancelled():
                handle.opened(future.result())
            elif isinstance(error, AudioDeviceError) and not handle.closed:
                observer.on_error(error)
            elif error is not None:
                logger.error("opening the microphone failed", exc_info=error)

        # Opening a device takes a while (PortAudio probes it): never on the loop's thread.
        loop.run_in_executor(None, open_stream).add_done_callback(on_open)
        return Disposable(handle.close)

    return reactivex.create(subscribe)


class _InputHandle:
    """Stops an input stream that may still be opening on a worker thread when disposed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stop: Callable[[], None] | None = None
        self.closed = False

    def opened(self, stop: Callable[[], None]) -> None:
        with self._lock:
            if not self.closed:
                self._stop = stop
                return
        stop()  # disposed while it was opening

    def close(self) -> None:
        with self._lock:
            self.closed = True
            stop, self._stop = self._stop, None
        if stop is not None:
            stop()


def _open_input(
    observer: abc.ObserverBase[bytes],
    loop: asyncio.AbstractEventLoop | None,
    handle: _InputHandle,
    device: int | str | None,
    format: AudioFormat,
    frame_ms: float,
    samplerate: int | None,
    channels: int | None,
    latency: float | str,
) -> Callable[[], None]:
    """Open and start the input stream; returns the function that stops and closes it."""
    sd = load_sounddevice()
    info = find_device("input", device)
    rate = samplerate or info.default_samplerate
    count = channels or 1
    encoder = FormatEncoder(rate, count, format)
    framer = Framer(frame_ms, format)

    def deliver(frames: list[bytes]) -> None:
        for frame in frames:
            if handle.closed:
                return
            observer.on_next(frame)

    def callback(indata: Any, _frames: int, _time: Any, status: Any) -> None:
        if status.input_overflow:
            logger.warning("microphone %r: input overflow (audio was lost)", info.name)
        frames = framer.feed(encoder.feed(bytes(indata)))
        if not frames or handle.closed:
            return
        if loop is None:
            deliver(frames)
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is listening any more
            loop.call_soon_threadsafe(deliver, frames)

    with PORTAUDIO_LOCK:
        try:
            stream = sd.RawInputStream(
                device=info.index,
                samplerate=rate,
                channels=count,
                dtype="int16",
                blocksize=max(1, rate // 100),  # 10 ms per callback
                latency=latency,
                callback=callback,
            )
            stream.start()
        except sd.PortAudioError as error:
            detail = " ".join(str(error).split())
            raise AudioDeviceError(f"cannot open audio input {info.name!r}: {detail}") from None

    def stop() -> None:
        try:
            with PORTAUDIO_LOCK:
                stream.abort()
                stream.close()
        except sd.PortAudioError:  # the device went away; there is nothing left to stop
            logger.debug("closing microphone %r failed", info.name, exc_info=True)

    return stop


def wav_file(
    path: str | PathLike[str],
    realtime: bool = True,
    *,
    format: AudioFormat = PCM16,
    frame_ms: float = 20,
    scheduler: abc.SchedulerBase | None = None,
) -> Observable[bytes]:
    """A 16-bit PCM WAV file as frames of ``frame_ms`` ms of ``format`` audio, then completion.

    Any rate and channel count: channels are averaged; a rate other than the format's is
    converted with ``soxr`` (the ``[voice]`` extra); a file already at the format's rate (mono
    24 kHz for PCM16) needs nothing beyond the standard library.

    ``realtime=True`` emits at speaking pace: frame *k* at *k* times ``frame_ms`` after the
    subscription, on the scheduler's clock (so a consumer sees the audio as a microphone would
    deliver it); ``realtime=False`` emits as fast as possible, still one frame per scheduled
    action (other work on the loop interleaves). The scheduler is ``scheduler``, else the
    subscription's, else the running asyncio loop's, else a timer thread. The file is opened at
    subscription and read as frames are due; a missing or unreadable file, or one that is not
    16-bit PCM, reaches the subscriber through ``on_error`` (``OSError``, ``wave.Error``,
    ``ValueError``, or :class:`~rxrealtime.audio.devices.AudioDeviceError` when resampling is
    needed and the extra is missing).

    Raises:
        ValueError: ``frame_ms`` is outside 1..10000, or ``format`` is not at its API rate.
    """
    _check_frame_ms(frame_ms)
    format.encode(b"")

    def subscribe(
        observer: abc.ObserverBase[bytes], subscribe_scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        chosen = scheduler or subscribe_scheduler or _default_scheduler()
        try:
            reader = wave.open(str(path), "rb")  # noqa: SIM115 - closed on completion/dispose
        except (OSError, EOFError, wave.Error) as error:
            observer.on_error(error)
            return Disposable()
        try:
            frames = _wav_frames(reader, format, frame_ms)
            first = next(frames, None)
        except (wave.Error, ValueError, EOFError, AudioDeviceError) as error:
            reader.close()
            observer.on_error(error)
            return Disposable()
        start = chosen.now
        step = timedelta(milliseconds=frame_ms)
        serial = SerialDisposable()
        state: dict[str, Any] = {"next": first, "index": 0}

        def emit(_scheduler: abc.SchedulerBase, _state: Any = None) -> abc.DisposableBase | None:
            frame = state["next"]
            if frame is None:
                reader.close()
                observer.on_completed()
                return None
            observer.on_next(frame)
            try:
                state["next"] = next(frames, None)
            except (wave.Error, ValueError, EOFError, OSError) as error:
                reader.close()
                observer.on_error(error)
                return None
            state["index"] += 1
            if realtime and state["next"] is not None:
                serial.disposable = chosen.schedule_absolute(start + state["index"] * step, emit)
            else:
                serial.disposable = chosen.schedule(emit)
            return None

        serial.disposable = chosen.schedule(emit)
        return CompositeDisposable(serial, Disposable(reader.close))

    return reactivex.create(subscribe)


def _default_scheduler() -> abc.SchedulerBase:
    try:
        return LoopScheduler.current()
    except RuntimeError:
        return TimeoutScheduler.singleton()


def _wav_frames(reader: wave.Wave_read, format: AudioFormat, frame_ms: float) -> Iterator[bytes]:
    """The frames of an open WAV file in ``format`` (checks the sample width first)."""
    if reader.getsampwidth() != 2:
        raise ValueError(
            f"only 16-bit PCM WAV files are supported, not {8 * reader.getsampwidth()}-bit"
        )
    rate = reader.getframerate()
    encoder = FormatEncoder(rate, reader.getnchannels(), format)
    framer = Framer(frame_ms, format)
    return _generate(reader, encoder, framer, max(1, rate * _WAV_READ_MS // 1000))


def _generate(
    reader: wave.Wave_read, encoder: FormatEncoder, framer: Framer, block: int
) -> Iterator[bytes]:
    while True:
        data = reader.readframes(block)
        if not data:
            break
        yield from framer.feed(encoder.feed(data))
    yield from framer.feed(encoder.flush())
    rest = framer.flush()
    if rest:
        yield rest


def reframe(
    frame_ms: float = 20, format: AudioFormat = PCM16
) -> Callable[[Observable[bytes]], Observable[bytes]]:
    """Re-cut a stream of ``format`` audio chunks of any size into frames of exactly
    ``frame_ms`` ms, in order; on completion the remainder (shorter than a frame) is emitted
    before completing, on error it is dropped. Cutting never splits a sample.

    ::

        --[30 ms]--[30 ms]--[5 ms]--|
        --[20 ms]--[20 ms]-[20 ms]--[5 ms]|

    Raises:
        ValueError: ``frame_ms`` is outside 1..10000.
    """
    _check_frame_ms(frame_ms)

    def operator(source: Observable[bytes]) -> Observable[bytes]:
        def subscribe(
            observer: abc.ObserverBase[bytes], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            framer = Framer(frame_ms, format)

            def on_next(chunk: bytes) -> None:
                for frame in framer.feed(chunk):
                    observer.on_next(frame)

            def on_completed() -> None:
                rest = framer.flush()
                if rest:
                    observer.on_next(rest)
                observer.on_completed()

            return source.subscribe(on_next, observer.on_error, on_completed, scheduler=scheduler)

        return Observable(subscribe)

    return operator
