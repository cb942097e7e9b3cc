"""A real response from the live service (beta protocol) through the operators."""

from __future__ import annotations

import reactivex
from ops_helpers import capture
from reactivex import operators as rx_ops

from rxrealtime import events as ev
from rxrealtime import operators as ops


def test_capture_text_equals_server_final_text() -> None:
    events = capture()
    [final] = [e for e in events if isinstance(e, ev.ResponseOutputTextDone)]
    assert final.type == "response.text.done"

    pieces: list[str] = []
    reactivex.from_iterable(events).pipe(ops.text_only()).subscribe(pieces.append)
    assert len(pieces) == 77
    assert "".join(pieces) == final.text

    records: list[ops.Accumulated] = []
    reactivex.from_iterable(events).pipe(ops.accumulate_deltas()).subscribe(records.append)
    assert records[-1].done and records[-1].text == final.text
    assert records[-2].text == final.text and records[-1].delta == ""
    assert {r.item_id for r in records} == {"item_C1PSbur7hgTONg4H8lKhl"}


def test_capture_summary_and_usage_survive_truncated_objects() -> None:
    events = capture()
    summaries: list[ops.ResponseSummary] = []
    reactivex.from_iterable(events).pipe(ops.responses()).subscribe(summaries.append)
    [summary] = summaries
    assert summary.id == "resp_C1PSbsyhar4EpjNZg9fkB" and summary.status == "completed"
    assert summary.text.startswith('{\n  "word": "pending"')
    totals: list[list[ops.UsageTotals]] = []
    reactivex.from_iterable(events).pipe(ops.usage(), rx_ops.to_list()).subscribe(totals.append)
    [[total]] = totals
    assert (total.total_tokens, total.input_tokens, total.output_tokens) == (151, 72, 79)
    assert (total.input_text, total.output_text) == (0, 0)  # details were "[Object]" in the dump
