"""The operator algebra: pure, pipeable ``Observable[ServerEvent] -> Observable[T]`` functions.

Every operator works the same on GA and beta event names (beta names decode to the GA
classes), on live sessions, recordings and the embedded server; every docstring carries a
marble diagram and states ordering and completion guarantees. Stateful operators keep their
state per subscription and release it when the thing it tracks ends.

::

    from rxrealtime import operators as ops

    session.events.pipe(ops.text_only()).subscribe(print)
"""

from __future__ import annotations

from rxrealtime.audio import PCM16, PCMA, PCMU, AudioFormat, AudioFormatType

from ._accumulate import Accumulated, Accumulator, accumulate_deltas
from ._audio_chunks import AudioChunk, AudioDecoder, InvalidAudioHandler, audio_chunks
from ._barge_in import BargeInDetector, PlaybackPosition, barge_in, stop_audio_on_speech
from ._error_ops import ProblemEvent, errors, raise_on_error
from ._errors import RealtimeServerError
from ._latency import Latency, latency
from ._of_type import of_type
from ._output_format import OutputFormatTracker, announced_output_format
from ._parts import DeltaKind
from ._rechunk import Rechunker, rechunk
from ._responses import ResponseSummary, ResponseTracker, per_response, responses
from ._text_only import text_only
from ._tool_calls import (
    ToolCall,
    ToolCallAssembler,
    parse_arguments,
    tool_call_arguments_partial,
    tool_calls,
)
from ._transcripts import transcripts
from ._usage import Prices, UsageTotals, usage

__all__ = [
    # filtering
    "of_type",
    "errors",
    "raise_on_error",
    # text
    "text_only",
    "accumulate_deltas",
    "transcripts",
    # audio
    "audio_chunks",
    "rechunk",
    "barge_in",
    "stop_audio_on_speech",
    # tools
    "tool_calls",
    "tool_call_arguments_partial",
    "parse_arguments",
    # per response
    "responses",
    "per_response",
    "usage",
    "latency",
    # records and helpers
    "Accumulated",
    "AudioChunk",
    "AudioFormat",
    "AudioFormatType",
    "DeltaKind",
    "InvalidAudioHandler",
    "Latency",
    "PlaybackPosition",
    "Prices",
    "ProblemEvent",
    "RealtimeServerError",
    "ResponseSummary",
    "ToolCall",
    "UsageTotals",
    "PCM16",
    "PCMU",
    "PCMA",
    # sans-I/O state machines of the audio operators (for sinks and players)
    "AudioDecoder",
    "BargeInDetector",
    "OutputFormatTracker",
    "Rechunker",
    "announced_output_format",
    # sans-I/O state machines of the text, response and tool operators (for sinks and tests)
    "Accumulator",
    "ResponseTracker",
    "ToolCallAssembler",
]
