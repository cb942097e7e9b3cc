"""``transcripts``: what the user said, from input-audio transcription."""

from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable, compose
from reactivex import operators as rx_ops

from rxrealtime import events as ev

from ._accumulate import Accumulated, accumulate_deltas
from ._parts import DeltaKind

__all__ = ["transcripts"]

_KINDS: tuple[DeltaKind, ...] = ("input_audio_transcription",)


def transcripts(
    *, deltas: bool = False
) -> Callable[[Observable[ev.ServerEvent]], Observable[Accumulated]]:
    """Transcriptions of the user's input audio, as :class:`Accumulated` records of kind
    ``"input_audio_transcription"``.

    ::

        --tr.delta(i1,"Hel")--tr.delta(i1,"lo")--tr.completed(i1,"Hello")--|
        ---------------------------------------[i1 "Hello" done]-----------|   transcripts()
        --[i1 "Hel"]----------[i1 "Hello"]-----[i1 "Hello" done]-----------|   deltas=True

    By default only completed transcripts (``.done``, ``.text`` = the server's transcript,
    ``.item_id`` = the user's audio item); with ``deltas=True`` also each delta with the text so
    far. A failed transcription emits nothing (``of_type(
    ev.ConversationItemInputAudioTranscriptionFailed)`` sees it). Records come in arrival
    order; completion and errors are the source's.
    """
    accumulated = accumulate_deltas(kinds=_KINDS)
    if deltas:
        return accumulated
    return compose(accumulated, rx_ops.filter(_is_done))


def _is_done(record: Accumulated) -> bool:
    return record.done
