"""``audio_chunks``: output audio, base64-decoded once, with ids and a running offset."""

from __future__ import annotations

import binascii
import logging
from collections.abc import Callable

import attrs
from reactivex import Observable

from rxrealtime import events as ev
from rxrealtime._construct import slot_builder
from rxrealtime.audio import AudioFormat, AudioFormatType, b64

from ._core import Clock, stateful
from ._output_format import OutputFormatTracker

__all__ = ["AudioChunk", "AudioDecoder", "InvalidAudioHandler", "audio_chunks"]

logger = logging.getLogger("rxrealtime.operators")

InvalidAudioHandler = Callable[[ev.ResponseOutputAudioDelta, str], None]
"""Called with the offending event and a description when a delta is not valid base64."""


def _short_bytes(data: bytes) -> str:
    return f"<{len(data)} bytes>"


@attrs.frozen
class AudioChunk:
    """Decoded output audio of one delta (or one re-chunked frame), in ``format`` at
    ``sample_rate`` (the format of its part: see :func:`audio_chunks`)."""

    data: bytes = attrs.field(repr=_short_bytes)
    format: AudioFormatType
    sample_rate: int
    item_id: str
    response_id: str | None
    content_index: int
    offset_ms: float
    """Where ``data`` starts within its item's content part, in ms from the part's start."""
    duration_ms: float

    @property
    def audio_format(self) -> AudioFormat:
        return AudioFormat(self.format, self.sample_rate)

    @property
    def end_ms(self) -> float:
        return self.offset_ms + self.duration_ms


_chunk = slot_builder(AudioChunk)  # the hot path's constructor (every field, in order)


def _log_invalid(event: ev.ResponseOutputAudioDelta, error: str) -> None:
    logger.warning("skipping undecodable audio delta of item %s: %s", event.item_id, error)


@attrs.define
class _Part:
    decoded_bytes: int
    response_id: str | None
    format: AudioFormat


class AudioDecoder:
    """The sans-I/O state machine behind :func:`audio_chunks` (one per subscription).

    Keeps one byte counter and format per ``(item_id, content_index)`` while its audio
    streams; released on ``…audio.done`` and on the response's ``response.done``. ``fmt=None``
    follows the formats the stream announces (:class:`OutputFormatTracker`); a format pins it.
    """

    accepts: tuple[type[ev.ServerEvent], ...] = (
        ev.ResponseOutputAudioDelta,
        ev.ResponseOutputAudioDone,
        ev.ResponseDone,
        ev.ResponseCreated,
        ev.SessionCreated,
        ev.SessionUpdated,
    )
    """The only events it reacts to (what the format tracker reads, and the audio)."""

    def __init__(
        self, fmt: AudioFormat | None = None, on_invalid: InvalidAudioHandler | None = None
    ) -> None:
        self.formats = OutputFormatTracker(fmt)
        self._on_invalid = on_invalid or _log_invalid
        self._parts: dict[tuple[str, int], _Part] = {}

    @property
    def open_parts(self) -> int:
        return len(self._parts)

    def step(self, event: ev.ServerEvent, emit: Callable[[AudioChunk], None]) -> None:
        if event.__class__ is ev.ResponseOutputAudioDelta:  # the hot path (no format news)
            self._decode(event, emit)
            return
        self.formats.observe(event)
        if isinstance(event, ev.ResponseOutputAudioDelta):
            self._decode(event, emit)
        elif isinstance(event, ev.ResponseOutputAudioDone):
            self._parts.pop((event.item_id, event.content_index), None)
        elif isinstance(event, ev.ResponseDone) and event.response is not None:
            done_id = event.response.id
            for key in [k for k, part in self._parts.items() if part.response_id == done_id]:
                del self._parts[key]

    def finish(self, emit: Callable[[AudioChunk], None]) -> None:
        self._parts.clear()
        self.formats.clear()

    def _decode(
        self, event: ev.ResponseOutputAudioDelta, emit: Callable[[AudioChunk], None]
    ) -> None:
        try:
            data = b64.decode(event.delta)
        except (binascii.Error, ValueError) as error:
            self._on_invalid(event, f"invalid base64: {error}")
            return
        if not data:
            return
        key = (event.item_id, event.content_index)
        part = self._parts.get(key)
        if part is None:
            fmt = self.formats.format_for(event.response_id)
            part = self._parts[key] = _Part(0, event.response_id, fmt)
        fmt = part.format
        emit(
            _chunk(
                data,
                fmt.type,
                fmt.sample_rate,
                event.item_id,
                event.response_id,
                event.content_index,
                fmt.bytes_to_ms(part.decoded_bytes),
                fmt.bytes_to_ms(len(data)),
            )
        )
        part.decoded_bytes += len(data)


def audio_chunks(
    format: AudioFormat | None = None,
    *,
    on_invalid: InvalidAudioHandler | None = None,
) -> Callable[[Observable[ev.ServerEvent]], Observable[AudioChunk]]:
    """Output audio deltas decoded from base64 into raw bytes, exactly once, in arrival order.

    ::

        --a(i1,"AAAA")--t("hi")--a(i1,"AAAA")--audio.done(i1)--|
        --[i1 0ms 3b]------------[i1 0.06ms 3b]----------------|

    Each :class:`AudioChunk` carries the format and sample rate, ``item_id``, ``response_id``,
    ``content_index``, its duration and its running ``offset_ms`` within its item's content part
    (parts of interleaved items are counted apart).

    The Realtime API does not repeat the format on audio events, so with ``format=None`` (the
    default) the operator follows what the stream announces::

        --session.updated(pcmu)--response.created(r1)--a(r1, 160 B)--response.done(r1)--|
        -----------------------------------------------[pcmu 8 kHz 0ms 20ms]-------------|

    PCM16 at 24 kHz (the service default) until ``session.created``/``session.updated``
    announces ``session.audio.output.format`` (beta: ``output_audio_format``); a
    ``response.created`` announcing ``response.audio.output.format`` overrides it for that
    response's audio. A response keeps the format in force when it was created; a part keeps
    the format of its first delta (formats never change within a part). Unknown format values
    are ignored (logged). The announcement must pass through this operator: subscribe before
    ``session.created`` (the session's backlog delivers it to the first subscribers) or pin the
    format. ``format=ops.PCMU`` (any :class:`AudioFormat`) pins it and ignores announcements.

    Invalid base64 never ends the stream: the delta is skipped (its bytes don't advance the
    offset) and reported to ``on_invalid(event, description)`` — by default a warning on the
    ``rxrealtime.operators`` logger. Empty deltas produce no chunk. Per-part counters and
    per-response formats are released on ``…audio.done`` and ``response.done``. Completion and
    errors are the source's.
    """

    def factory(_clock: Clock) -> AudioDecoder:
        return AudioDecoder(format, on_invalid)

    return stateful(factory)
