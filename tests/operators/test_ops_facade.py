"""The public surface of rxrealtime.operators."""

from __future__ import annotations

import inspect

from rxrealtime import operators as ops

OPERATORS = {
    "of_type",
    "errors",
    "raise_on_error",
    "text_only",
    "accumulate_deltas",
    "transcripts",
    "audio_chunks",
    "rechunk",
    "barge_in",
    "stop_audio_on_speech",
    "tool_calls",
    "tool_call_arguments_partial",
    "responses",
    "per_response",
    "usage",
    "latency",
}
RECORDS = {
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
    "parse_arguments",
    "AudioDecoder",
    "BargeInDetector",
    "OutputFormatTracker",
    "Rechunker",
    "announced_output_format",
    "Accumulator",
    "ResponseTracker",
    "ToolCallAssembler",
}


def test_all_is_the_documented_surface() -> None:
    assert set(ops.__all__) == OPERATORS | RECORDS
    assert len(ops.__all__) == len(set(ops.__all__))
    for name in ops.__all__:
        assert hasattr(ops, name), name


def test_every_operator_documents_a_marble_diagram_and_its_guarantees() -> None:
    for name in OPERATORS:
        doc = inspect.getdoc(getattr(ops, name)) or ""
        assert "::" in doc and "--" in doc, f"{name} has no marble diagram"
        assert any(word in doc.lower() for word in ("order", "completion")), name
