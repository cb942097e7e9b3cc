"""Fuzzing: mutated real-shaped events through decoding and every operator (issue 8, point 5).

Strategies start from real events (the API reference examples and a recorded beta response in
``tests/data/events``) and mutate them: drop fields at any depth, put values of the wrong JSON
type, huge strings, deep nesting, unknown and swapped types, broken base64 and broken frames.
The properties: ``ev.decode`` never raises and gives one event per frame; every operator in
``rxrealtime.operators`` consumes the whole mutated stream, never calls ``on_error`` (except
``raise_on_error``, exactly at the first error event) and emits counts consistent with its input.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import reactivex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reactivex import Observable, abc

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.reconnect import Reconnected, ResponseInterrupted

DATA = Path(__file__).resolve().parents[1] / "data" / "events"


def _real_events() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in (
        DATA / "server_events_ga.jsonl",
        DATA / "server_events_beta.jsonl",
        DATA.parent / "liusida-dictionary_beta_text_response.jsonl",
    ):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            event = row.get("example", row) if "schema" in row else row
            if isinstance(event, dict) and isinstance(event.get("type"), str):
                found.append(event)
    return found


REAL = _real_events()
TYPES = sorted({e["type"] for e in REAL})
AUDIO = {
    "type": "response.output_audio.delta",
    "event_id": "e_a",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "delta": "AAAAAA==",
}
SPEECH = {
    "type": "input_audio_buffer.speech_started",
    "event_id": "e_s",
    "audio_start_ms": 5,
    "item_id": "item_u",
}
SEEDS = [*REAL, AUDIO, SPEECH]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
wrong_values = st.one_of(
    json_scalars,
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
    st.integers(10_000, 200_000).map(lambda n: "x" * n),  # huge strings
    st.integers(20, 200).map(lambda depth: _nested(depth)),  # deep nesting
)


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        root = root[step]
    return root


@st.composite
def mutated(draw: st.DrawFn) -> str | bytes:
    """One frame: a real event, possibly mutated, possibly not an event at all."""
    event = json.loads(json.dumps(draw(st.sampled_from(SEEDS))))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(event)
        action = draw(st.sampled_from(["drop", "wrong", "type", "swap", "keep"]))
        if action in ("drop", "wrong") and paths:
            path = draw(st.sampled_from(paths))
            parent = _parent(event, path)
            if action == "drop":
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(wrong_values)
        elif action == "type":
            event["type"] = draw(st.one_of(st.text(max_size=30), st.sampled_from(TYPES)))
        elif action == "swap":  # a real type on the body of another event
            event["type"] = draw(st.sampled_from(TYPES))
    try:
        frame = orjson.dumps(event).decode()
    except TypeError:  # nested deeper than orjson writes (two deep mutations): the stdlib can
        frame = json.dumps(event)
    broken = draw(st.sampled_from(["none"] * 8 + ["bytes", "cut", "deep", "binary"]))
    if broken == "bytes":
        return frame.encode()
    if broken == "cut":
        return frame[: draw(st.integers(0, max(0, len(frame) - 1)))]
    if broken == "deep":
        return "[" * 5000 + "]" * 5000
    if broken == "binary":
        return bytes([0xFF, 0xFE, 0x00]) + frame.encode()[:10]
    return frame


streams = st.lists(mutated(), min_size=1, max_size=25)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(frame=mutated())
def test_decode_never_raises_and_always_gives_one_event(frame: str | bytes) -> None:
    event = ev.decode(frame)
    assert isinstance(event, ev.ServerEvent)
    if isinstance(event, ev.InvalidEvent):
        assert event.error


# -- every operator ---------------------------------------------------------------------------


def _decoded(frames: list[str | bytes]) -> list[ev.ServerEvent]:
    events = [ev.decode(f) for f in frames]
    assert len(events) == len(frames)
    return events


OPERATORS: dict[str, Callable[[], Callable[[Observable[ev.ServerEvent]], Observable[Any]]]] = {
    "of_type": lambda: ops.of_type(ev.ResponseOutputTextDelta, ev.ResponseDone),
    "errors": ops.errors,
    "raise_on_error": ops.raise_on_error,
    "text_only": ops.text_only,
    "accumulate_deltas": ops.accumulate_deltas,
    "transcripts": ops.transcripts,
    "audio_chunks": lambda: ops.audio_chunks(on_invalid=lambda _e, _why: None),
    "rechunk": lambda: ops.rechunk(20),
    "barge_in": lambda: ops.barge_in(cancel_response=True, clear_output_audio=True),
    "stop_audio_on_speech": ops.stop_audio_on_speech,
    "tool_calls": ops.tool_calls,
    "tool_call_arguments_partial": ops.tool_call_arguments_partial,
    "responses": ops.responses,
    "per_response": lambda: (
        lambda source: ops.per_response()(source).pipe(
            reactivex.operators.flat_map(lambda window: window)
        )
    ),
    "usage": ops.usage,
    "latency": ops.latency,
}


def test_the_fuzz_covers_every_operator() -> None:
    operators = {
        name
        for name in ops.__all__
        # helpers, not operators
        if name[0].islower() and name not in {"parse_arguments", "announced_output_format"}
    }
    assert operators == set(OPERATORS)


class _Run:
    """Feed ``events`` through an operator; count what the source gave and what came out."""

    def __init__(self, events: list[ev.ServerEvent], operator: Callable[[Any], Any]) -> None:
        self.consumed = 0
        self.out: list[Any] = []
        self.errors: list[Exception] = []
        self.completed = False

        def subscribe(observer: abc.ObserverBase[Any], _: Any = None) -> abc.DisposableBase:
            for event in events:
                self.consumed += 1
                observer.on_next(event)
                if self.errors:
                    break
            else:
                observer.on_completed()
            return reactivex.disposable.Disposable()

        operator(Observable(subscribe)).subscribe(
            self.out.append, self.errors.append, lambda: setattr(self, "completed", True)
        )


def _count(events: list[ev.ServerEvent], *classes: type) -> int:
    return sum(isinstance(e, classes) for e in events)


@FUZZ
@given(frames=streams)
def test_every_operator_consumes_everything_and_never_errors(frames: list[str | bytes]) -> None:
    events = _decoded(frames)
    # the markers a reconnect adds are part of real streams too
    events.insert(len(events) // 2, ResponseInterrupted.for_response("resp_1", 1006))
    events.insert(len(events) // 2 + 1, Reconnected(attempt=1, close_code=1006))
    errors_at = [i for i, e in enumerate(events) if isinstance(e, ev.ErrorEvent)]
    for name, make in OPERATORS.items():
        run = _Run(events, make())
        if name == "raise_on_error" and errors_at:
            assert run.consumed == errors_at[0] + 1 and not run.completed, name
            assert isinstance(run.errors[0], ops.RealtimeServerError), name
            assert run.out == events[: errors_at[0]], name
            continue
        assert run.errors == [], (name, run.errors)
        assert run.completed and run.consumed == len(events), name
        dones = _count(events, ev.ResponseDone)
        if name == "of_type":
            assert len(run.out) == _count(events, ev.ResponseOutputTextDelta, ev.ResponseDone)
        elif name == "errors":
            assert len(run.out) == _count(events, ev.ErrorEvent, ev.InvalidEvent)
        elif name == "raise_on_error":
            assert run.out == events
        elif name == "stop_audio_on_speech":
            kept = [e for e in events if not isinstance(e, ev.ResponseOutputAudioDelta)]
            assert [e for e in run.out if not isinstance(e, ev.ResponseOutputAudioDelta)] == kept
        elif name in ("responses", "latency"):
            assert len(run.out) == _count(
                [e for e in events if isinstance(e, ev.ResponseDone) and e.response is not None],
                ev.ResponseDone,
            )
        elif name == "usage":  # one record per response.done and per finished transcription
            finished = _count(events, ev.ConversationItemInputAudioTranscriptionCompleted)
            assert len(run.out) <= dones + finished
        elif name == "audio_chunks":
            assert len(run.out) <= _count(events, ev.ResponseOutputAudioDelta)
        elif name == "per_response":
            assert all(isinstance(e, ev.ServerEvent) for e in run.out)
        elif name == "tool_calls":
            calls_in_done = sum(
                len(e.response.output or ())
                for e in events
                if isinstance(e, ev.ResponseDone) and e.response is not None
            )
            limit = _count(events, ev.ResponseFunctionCallArgumentsDone) + calls_in_done
            assert len(run.out) <= limit
