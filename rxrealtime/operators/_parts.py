"""One normalised view of every streamed text part, shared by the operators that assemble them.

The server streams four kinds of text: output text, the transcript of output audio, the JSON
arguments of a function call, and the transcription of the user's input audio. Each arrives as
``*.delta`` events and ends with one event carrying the server's final value (``*.done``, or
``…transcription.completed``). :func:`classify` maps any such event, GA or beta name alike, to a
:class:`PartEvent`; every other event maps to ``None``. The dispatch table is built once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import attrs

from rxrealtime import events as ev
from rxrealtime._construct import slot_builder

__all__ = ["DELTA_KINDS", "PART_EVENT_TYPES", "DeltaKind", "PartEvent", "PartKey", "classify"]

DeltaKind: TypeAlias = Literal[
    "output_text", "output_audio_transcript", "function_call_arguments", "input_audio_transcription"
]
"""What a streamed text part is."""

DELTA_KINDS: tuple[DeltaKind, ...] = (
    "output_text",
    "output_audio_transcript",
    "function_call_arguments",
    "input_audio_transcription",
)

PartKey: TypeAlias = tuple[str, int, DeltaKind]
"""``(item_id, content_index, kind)``: what keeps interleaved parts apart."""


@attrs.frozen
class PartEvent:
    """A delta, a final value, or a failure of one streamed part."""

    kind: DeltaKind
    item_id: str
    content_index: int
    response_id: str | None
    call_id: str | None
    delta: str | None = None
    """The new text of a delta event; ``None`` for a final or failed event."""
    final: str | None = None
    """The server's complete value on the closing event; ``None`` otherwise."""
    failed: bool = False
    """The part ended without a value (input transcription failed)."""

    @property
    def key(self) -> PartKey:
        return (self.item_id, self.content_index, self.kind)

    @property
    def closes(self) -> bool:
        """Whether this event ends the part."""
        return self.final is not None or self.failed


_part = slot_builder(PartEvent)  # every field, in order (the per-delta hot path)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _index(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _opt(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _output(kind: DeltaKind, final_field: str | None) -> Callable[[Any], PartEvent]:
    def build(event: Any) -> PartEvent:
        return _part(
            kind,
            _text(event.item_id),
            _index(event.content_index),
            _opt(event.response_id),
            None,
            None if final_field else _text(event.delta),
            _text(getattr(event, final_field)) if final_field else None,
            False,
        )

    return build


def _arguments(final: bool) -> Callable[[Any], PartEvent]:
    def build(event: Any) -> PartEvent:
        return _part(
            "function_call_arguments",
            _text(event.item_id),
            0,
            _opt(event.response_id),
            _opt(event.call_id),
            None if final else _text(event.delta),
            _text(event.arguments) if final else None,
            False,
        )

    return build


def _transcription(final_field: str | None, *, failed: bool = False) -> Callable[[Any], PartEvent]:
    def build(event: Any) -> PartEvent:
        return _part(
            "input_audio_transcription",
            _text(event.item_id),
            _index(getattr(event, "content_index", 0)),
            None,
            None,
            None if (final_field or failed) else _text(event.delta),
            _text(getattr(event, final_field)) if final_field else None,
            failed,
        )

    return build


_TABLE: dict[type[Any], Callable[[Any], PartEvent]] = {
    ev.ResponseOutputTextDelta: _output("output_text", None),
    ev.ResponseOutputTextDone: _output("output_text", "text"),
    ev.ResponseOutputAudioTranscriptDelta: _output("output_audio_transcript", None),
    ev.ResponseOutputAudioTranscriptDone: _output("output_audio_transcript", "transcript"),
    ev.ResponseFunctionCallArgumentsDelta: _arguments(final=False),
    ev.ResponseFunctionCallArgumentsDone: _arguments(final=True),
    ev.ConversationItemInputAudioTranscriptionDelta: _transcription(None),
    ev.ConversationItemInputAudioTranscriptionCompleted: _transcription("transcript"),
    ev.ConversationItemInputAudioTranscriptionFailed: _transcription(None, failed=True),
}


PART_EVENT_TYPES: tuple[type[ev.ServerEvent], ...] = tuple(_TABLE)
"""Every event class :func:`classify` gives a part for."""


def classify(event: object) -> PartEvent | None:
    """The streamed-part view of ``event``, or ``None`` when it is not part of a text stream."""
    build = _TABLE.get(event.__class__)
    return build(event) if build is not None else None
