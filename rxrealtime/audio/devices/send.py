"""``send_audio``: pipe an Observable of audio frames into a session's input audio buffer.

::

    sender = rr.audio.send_audio(session, rr.audio.microphone())        # server VAD turns
    await rr.audio.send_audio(session, rr.audio.wav_file("q.wav"), push_to_talk=True)
    rr.audio.send_audio(session, rr.audio.microphone(), push_to_talk=button)  # Observable[bool]

Turn modes
    ``push_to_talk=False`` (server VAD): every frame is appended; the server's turn detection
    (on by default in Realtime sessions) decides where turns end and starts the responses.
    ``push_to_talk=True``: the whole stream is one turn: when ``frames`` completes, the buffer
    is committed and (``respond=True``) a response is requested. ``push_to_talk=button``, an
    ``Observable[bool]`` (True while the button is held): frames are appended only while it is
    held (others are counted in ``frames_ignored``); pressing clears what an earlier press left
    uncommitted, releasing commits and requests a response (so does the end of ``frames`` while
    it is held). Push-to-talk is for sessions whose
    turn detection is off (``"turn_detection": None``), as the API requires for manual commits.

Frames, size limit and back-pressure
    Frames travel through one bounded buffer to one sending task, in order. Frames that queued
    up while an append was in flight go out together in the next append (fewer, larger
    events), and an append never exceeds what one client event may carry (15 MiB encoded: the
    session's ``input_audio_buffer.append`` splits larger audio). The buffer holds at most
    ``max_buffer_bytes`` of audio not yet handed to the socket (default: one minute of PCM16
    24 kHz); ``overflow`` says what happens beyond: ``"drop_oldest"`` (default: a live source
    keeps its most recent audio) or ``"drop_newest"`` discard audio and count it in
    ``dropped_bytes`` (logged as a warning on ``rxrealtime.audio``), ``"error"`` stops the
    sender with :class:`~rxrealtime.errors.BufferOverflowError`.

Stopping
    The sender stops when ``frames`` completes and everything is sent (``reason ==
    "completed"``), when the session's stream ends or a send finds it closed (``"closed"``:
    the frames subscription is disposed, which closes a microphone), when ``frames`` errors
    (``"error"``), or when you ``dispose()``/``await aclose()`` it (``"disposed"``). A stopping
    sender never affects the session. ``await sender`` (or ``await sender.wait()``) returns
    the final :class:`AudioSendStatistics`, and raises the error of ``frames`` or of a failed
    send other than a closed connection.

Works with a live :class:`~rxrealtime.session.RealtimeSession` and with a
:class:`~rxrealtime.replay.ReplaySession` (whose sent frames are kept). Must be called on the
session's event loop; every callback then runs on that loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Generator
from typing import Any, Literal

import attrs
from reactivex import Observable
from reactivex.disposable import CompositeDisposable

from rxrealtime import events as ev
from rxrealtime.errors import BufferOverflowError, ConnectionClosed
from rxrealtime.session import SessionBase
from rxrealtime.validation import MAX_AUDIO_APPEND_BYTES

__all__ = ["AudioSendStatistics", "AudioSender", "send_audio"]

logger = logging.getLogger("rxrealtime.audio")

AudioOverflow = Literal["drop_oldest", "drop_newest", "error"]
StopReason = Literal["running", "completed", "closed", "error", "disposed"]

_COMMIT = object()  # a release (or the end of a push-to-talk stream): commit, then respond
_CLEAR = object()  # a press: forget what an earlier press left uncommitted


@attrs.frozen
class AudioSendStatistics:
    """A snapshot of what an :class:`AudioSender` has done."""

    frames_received: int
    frames_ignored: int
    """Frames that arrived while a push-to-talk button was released."""
    bytes_sent: int
    appends: int
    commits: int
    responses_requested: int
    dropped_bytes: int
    buffered_bytes: int
    reason: StopReason
    """``"running"`` until the sender stops, then why it stopped."""


def send_audio(
    session: SessionBase,
    frames: Observable[bytes],
    *,
    push_to_talk: bool | Observable[bool] = False,
    respond: bool = True,
    max_buffer_bytes: int = 60 * 48_000,
    overflow: AudioOverflow = "drop_oldest",
) -> AudioSender:
    """Append ``frames`` (audio in the session's input format) to the session's input audio
    buffer; see the module docstring for the turn modes, back-pressure and stopping.

    Returns the running :class:`AudioSender` (awaitable). Must be called on the session's loop.

    Raises:
        ValueError: ``max_buffer_bytes`` below 1 or an unknown ``overflow``.
        RuntimeError: no running event loop.
    """
    return AudioSender(
        session,
        frames,
        push_to_talk=push_to_talk,
        respond=respond,
        max_buffer_bytes=max_buffer_bytes,
        overflow=overflow,
    )


class AudioSender:
    """A running :func:`send_audio`: ``await`` it for the final statistics, ``dispose()`` or
    ``await aclose()`` to stop it early. Not thread-safe: use it on the session's loop."""

    def __init__(
        self,
        session: SessionBase,
        frames: Observable[bytes],
        *,
        push_to_talk: bool | Observable[bool],
        respond: bool,
        max_buffer_bytes: int,
        overflow: AudioOverflow,
    ) -> None:
        if max_buffer_bytes < 1:
            raise ValueError(f"max_buffer_bytes must be at least 1, not {max_buffer_bytes}")
        if overflow not in ("drop_oldest", "drop_newest", "error"):
            raise ValueError(f"overflow must be drop_oldest, drop_newest or error: {overflow!r}")
        self._session = session
        self._respond = respond
        self._commit_at_end = push_to_talk is True
        self._limit = max_buffer_bytes
        self._overflow = overflow
        self._queue: deque[bytes | object] = deque()
        self._buffered = 0
        self._wakeup = asyncio.Event()
        self._source_done = False
        self._error: BaseException | None = None
        self._reason: StopReason = "running"
        self._button = isinstance(push_to_talk, Observable)
        self._talking = not self._button
        self._received = self._ignored = self._sent = self._appends = 0
        self._commits = self._responses = self._dropped = 0
        self._subscriptions = CompositeDisposable()
        self._task = asyncio.get_running_loop().create_task(self._pump())
        self._subscriptions.add(
            session.events.subscribe(on_error=self._session_ended, on_completed=self._session_ended)
        )
        if isinstance(push_to_talk, Observable):
            self._subscriptions.add(push_to_talk.subscribe(self._on_button, self._on_error))
        self._subscriptions.add(frames.subscribe(self._on_frame, self._on_error, self._on_end))

    # -- the public side ------------------------------------------------------------------------

    def statistics(self) -> AudioSendStatistics:
        return AudioSendStatistics(
            frames_received=self._received,
            frames_ignored=self._ignored,
            bytes_sent=self._sent,
            appends=self._appends,
            commits=self._commits,
            responses_requested=self._responses,
            dropped_bytes=self._dropped,
            buffered_bytes=self._buffered,
            reason=self._reason,
        )

    @property
    def done(self) -> bool:
        """Whether the sender has stopped."""
        return self._task.done()

    async def wait(self) -> AudioSendStatistics:
        """Wait until the sender stops; the final statistics (see the module docstring for
        what it raises)."""
        await asyncio.shield(self._task)
        if self._error is not None:
            raise self._error
        return self.statistics()

    def __await__(self) -> Generator[Any, None, AudioSendStatistics]:
        return self.wait().__await__()

    def dispose(self) -> None:
        """Stop now: unsubscribe from the frames (closing a microphone) and drop what is
        queued; an append already handed to the socket completes."""
        self._stop("disposed")

    async def aclose(self) -> None:
        """:meth:`dispose`, then wait for the sending task to finish."""
        self.dispose()
        await asyncio.gather(self._task, return_exceptions=True)

    # -- inputs (on the loop) -------------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        self._received += 1
        if not self._talking:
            self._ignored += 1
            return
        if not frame or self._reason != "running":
            return
        if self._buffered + len(frame) > self._limit:
            if self._overflow == "error":
                self._fail(BufferOverflowError("send_audio: the audio buffer is full"))
                return
            if self._overflow == "drop_newest":
                self._drop(len(frame))
                return
            while self._buffered + len(frame) > self._limit and self._drop_oldest():
                pass
        self._queue.append(frame)
        self._buffered += len(frame)
        self._wakeup.set()

    def _drop_oldest(self) -> bool:
        for index, entry in enumerate(self._queue):
            if isinstance(entry, bytes):
                del self._queue[index]
                self._buffered -= len(entry)
                self._drop(len(entry))
                return True
        return False

    def _drop(self, size: int) -> None:
        if not self._dropped:
            logger.warning("send_audio: the socket is not keeping up; dropping audio")
        self._dropped += size

    def _on_button(self, pressed: bool) -> None:
        if pressed == self._talking:
            return
        self._talking = pressed
        self._queue.append(_CLEAR if pressed else _COMMIT)
        self._wakeup.set()

    def _on_end(self) -> None:
        if self._commit_at_end or (self._button and self._talking):
            self._queue.append(_COMMIT)  # the stream ended mid-turn: that ends the turn
        self._source_done = True
        self._wakeup.set()

    def _on_error(self, error: Exception) -> None:
        self._fail(error)

    def _session_ended(self, _error: Exception | None = None) -> None:
        self._stop("closed")

    def _fail(self, error: BaseException) -> None:
        if self._reason == "running":
            self._error = error
        self._stop("error")

    def _stop(self, reason: StopReason) -> None:
        if self._reason == "running":
            self._reason = reason
        self._subscriptions.dispose()
        self._queue.clear()
        self._buffered = 0
        self._wakeup.set()

    # -- the sending task ----------------------------------------------------------------------

    async def _pump(self) -> None:
        try:
            while True:
                while not self._queue:
                    if self._reason != "running":
                        return
                    if self._source_done:
                        self._stop("completed")
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                entry = self._queue.popleft()
                if isinstance(entry, bytes):
                    await self._append(entry)
                elif entry is _CLEAR:
                    await self._session.input_audio_buffer.clear()
                else:
                    await self._commit()
        except ConnectionClosed:
            self._stop("closed")
        except Exception as error:  # a refused send: the sender stops, the session goes on
            self._fail(error)
        finally:
            self._subscriptions.dispose()

    async def _append(self, first: bytes) -> None:
        chunk = bytearray(first)
        self._buffered -= len(first)
        while self._queue and isinstance(self._queue[0], bytes):
            following = self._queue[0]
            assert isinstance(following, bytes)
            if len(chunk) + len(following) > MAX_AUDIO_APPEND_BYTES:
                break
            self._queue.popleft()
            self._buffered -= len(following)
            chunk += following
        await self._session.input_audio_buffer.append(chunk)
        self._sent += len(chunk)
        self._appends += 1

    async def _commit(self) -> None:
        await self._session.input_audio_buffer.commit()
        self._commits += 1
        if self._respond:
            await self._session.send(ev.ResponseCreate())
            self._responses += 1
