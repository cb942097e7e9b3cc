"""Property tests: interleavings, byte accounting, framing."""

from __future__ import annotations

from typing import Any

import reactivex
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_helpers import (
    args_delta,
    args_done,
    audio_delta,
    audio_done,
    input_completed,
    input_delta,
    text_delta,
    text_done,
    transcript_delta,
    transcript_done,
)
from reactivex import operators as rx_ops

from rxrealtime import events as ev
from rxrealtime import operators as ops


def collect(events: list[ev.ServerEvent], operator: Any) -> list[Any]:
    out: list[list[Any]] = []
    reactivex.from_iterable(events).pipe(operator, rx_ops.to_list()).subscribe(out.append)
    return out[0]


def part_events(kind: str, n: int, deltas: list[str]) -> list[ev.ServerEvent]:
    item, response = f"item{n}", f"resp{n % 2}"
    final = "".join(deltas)
    if kind == "output_text":
        return [
            *(text_delta(item, d, response=response, beta=n % 3 == 0) for d in deltas),
            text_done(item, final, response=response),
        ]
    if kind == "output_audio_transcript":
        return [
            *(transcript_delta(item, d, response=response) for d in deltas),
            transcript_done(item, final, response=response, beta=n % 2 == 0),
        ]
    if kind == "function_call_arguments":
        return [
            *(args_delta(f"call{n}", d, item=item, response=response) for d in deltas),
            args_done(f"call{n}", final, item=item, response=response, name="f"),
        ]
    return [*(input_delta(item, d) for d in deltas), input_completed(item, final)]


parts = st.lists(
    st.tuples(st.sampled_from(ops.DeltaKind.__args__), st.lists(st.text(max_size=5), max_size=6)),  # type: ignore[attr-defined]
    min_size=1,
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(parts=parts, data=st.data())
def test_any_interleaving_accumulates_to_concatenation_and_server_final(parts, data) -> None:  # type: ignore[no-untyped-def]
    queues = [part_events(kind, n, deltas) for n, (kind, deltas) in enumerate(parts)]
    stream: list[ev.ServerEvent] = []
    while any(queues):
        queue = data.draw(st.sampled_from([q for q in queues if q]))
        stream.append(queue.pop(0))

    records = collect(stream, ops.accumulate_deltas())

    for n, (kind, deltas) in enumerate(parts):
        item = f"item{n}"
        mine = [r for r in records if r.item_id == item]
        final = "".join(deltas)
        assert mine[-1].done and mine[-1].text == final and mine[-1].kind == kind
        assert [r.done for r in mine] == [False] * (len(mine) - 1) + [True]
        assert "".join(r.delta for r in mine) == final
        running = ""
        for record in mine[:-1]:
            running += record.delta
            assert record.text == running
        assert [r.delta for r in mine[:-1]] == [d for d in deltas if d]


audio_parts = st.lists(st.lists(st.binary(max_size=300), max_size=8), min_size=1, max_size=3)


def audio_stream(parts: list[list[bytes]], data: Any) -> list[ev.ServerEvent]:
    queues = [
        [audio_delta(f"i{n}", chunk, response=f"r{n}") for chunk in chunks] + [audio_done(f"i{n}")]
        for n, chunks in enumerate(parts)
    ]
    stream: list[ev.ServerEvent] = []
    while any(queues):
        stream.append(data.draw(st.sampled_from([q for q in queues if q])).pop(0))
    return stream


@settings(max_examples=100, deadline=None)
@given(parts=audio_parts, data=st.data())
def test_decoded_audio_is_exactly_the_sum_of_the_deltas(parts, data) -> None:  # type: ignore[no-untyped-def]
    chunks = collect(audio_stream(parts, data), ops.audio_chunks())
    for n, sent in enumerate(parts):
        mine = [c for c in chunks if c.item_id == f"i{n}"]
        assert b"".join(c.data for c in mine) == b"".join(sent)
        assert sum(len(c.data) for c in mine) == sum(len(s) for s in sent)
        offset = 0.0
        for c in mine:
            assert abs(c.offset_ms - offset) < 1e-6
            offset += c.duration_ms


@settings(max_examples=100, deadline=None)
@given(
    parts=audio_parts,
    data=st.data(),
    frame_ms=st.sampled_from([1, 2.5, 5, 20]),
    fmt=st.sampled_from([ops.PCM16, ops.PCMU]),
)
def test_rechunk_preserves_bytes_and_frame_sizes(parts, data, frame_ms, fmt) -> None:  # type: ignore[no-untyped-def]
    frames = collect(audio_stream(parts, data), ops.rechunk(frame_ms, format=fmt))
    size = fmt.ms_to_bytes(frame_ms)
    for n, sent in enumerate(parts):
        mine = [f for f in frames if f.item_id == f"i{n}"]
        assert b"".join(f.data for f in mine) == b"".join(sent)
        assert all(len(f.data) == size for f in mine[:-1])
        assert all(0 < len(f.data) <= size for f in mine)
        assert [f.offset_ms for f in mine] == [fmt.bytes_to_ms(i * size) for i in range(len(mine))]
