"""``usage`` counts input-audio transcription usage apart from the realtime model's usage."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from ops_helpers import done, input_failed, wire
from reactivex import Observable, Subject
from reactivex import operators as rx_ops
from reactivex.testing import ReactiveTest, TestScheduler

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.server import encode_text, serve
from rxrealtime.server.audio import BYTES_PER_MS
from rxrealtime.session import connect

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed
on_error = ReactiveTest.on_error

Operator = Callable[[Observable[ev.ServerEvent]], Observable[ops.UsageTotals]]

TOKENS = {
    "type": "tokens",
    "input_tokens": 40,
    "output_tokens": 6,
    "total_tokens": 46,
    "input_token_details": {"audio_tokens": 35, "text_tokens": 5},
}
DURATION = {"type": "duration", "seconds": 3.5}
RESPONSE = {
    "total_tokens": 15,
    "input_tokens": 10,
    "output_tokens": 5,
    "input_token_details": {"text_tokens": 10, "audio_tokens": 0},
    "output_token_details": {"text_tokens": 5, "audio_tokens": 0},
}


def completed(usage: Any = None, *, item: str = "u1", transcript: str = "hi") -> ev.ServerEvent:
    fields: dict[str, Any] = {"usage": usage} if usage is not None else {}
    return wire(
        "conversation.item.input_audio_transcription.completed",
        item_id=item,
        content_index=0,
        transcript=transcript,
        **fields,
    )


def totals_of(events: list[ev.ServerEvent], operator: Operator) -> list[ops.UsageTotals]:
    """Push ``events`` through ``operator`` with a plain Subject; collect what comes out."""
    subject: Subject[ev.ServerEvent] = Subject()
    out: list[ops.UsageTotals] = []
    subject.pipe(operator).subscribe(out.append)
    for event in events:
        subject.on_next(event)
    subject.on_completed()
    return out


def values(messages: list[Any]) -> list[ops.UsageTotals]:
    return [m.value.value for m in messages if m.value.kind == "N"]


# -- marble -----------------------------------------------------------------------------------


def test_marble_mixed_response_and_transcription_usage() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(
        on_next(210, done("r1", usage=RESPONSE)),
        on_next(220, completed(TOKENS)),
        on_next(230, wire("input_audio_buffer.cleared")),
        on_next(240, done("r2", usage=RESPONSE)),
        on_next(250, completed(DURATION, item="u2")),
        on_completed(300),
    )
    messages = scheduler.start(lambda: source.pipe(ops.usage())).messages

    assert [m.time for m in messages] == [210, 220, 240, 250, 300]
    assert messages[-1] == on_completed(300)
    a, b, c, d = values(messages)
    assert (a.responses, a.input_tokens, a.transcriptions) == (1, 10, 0)
    assert (b.responses, b.input_tokens, b.transcriptions) == (1, 10, 1)
    assert (b.transcription_input_tokens, b.transcription_output_tokens) == (40, 6)
    assert (c.responses, c.input_tokens, c.output_tokens, c.total_tokens) == (2, 20, 10, 30)
    assert (c.transcriptions, c.transcription_input_tokens) == (1, 40)  # running, carried over
    assert (d.transcriptions, d.transcription_seconds) == (2, 3.5)
    assert d.transcription_total_tokens == 46
    # the realtime model's fields never absorb transcription tokens
    assert (d.input_tokens, d.output_tokens, d.input_audio, d.output_text) == (20, 10, 0, 10)
    assert all(t.cost is None for t in (a, b, c, d))


def test_marble_errors_pass_through() -> None:
    scheduler = TestScheduler()
    boom = RuntimeError("boom")
    source = scheduler.create_hot_observable(on_next(210, completed(TOKENS)), on_error(220, boom))
    messages = scheduler.start(lambda: source.pipe(ops.usage())).messages
    assert [m.time for m in messages] == [210, 220]
    assert messages[1] == on_error(220, boom)


# -- units ------------------------------------------------------------------------------------


def test_tokens_usage_split_into_audio_and_text() -> None:
    (first, second) = totals_of([completed(TOKENS), completed(TOKENS, item="u2")], ops.usage())
    assert first == ops.UsageTotals(
        transcriptions=1,
        transcription_input_tokens=40,
        transcription_output_tokens=6,
        transcription_total_tokens=46,
        transcription_input_audio=35,
        transcription_input_text=5,
    )
    assert (second.transcriptions, second.transcription_input_audio) == (2, 70)
    assert (second.transcription_total_tokens, second.transcription_seconds) == (92, 0.0)
    assert second.responses == second.total_tokens == 0


def test_duration_usage_accumulates_seconds() -> None:
    out = totals_of(
        [completed(DURATION), completed({"type": "duration", "seconds": 2}, item="u2")],
        ops.usage(),
    )
    assert [t.transcription_seconds for t in out] == [3.5, 5.5]
    assert [t.transcriptions for t in out] == [1, 2]
    assert out[-1].transcription_input_tokens == out[-1].transcription_total_tokens == 0


def test_missing_or_odd_usage_counts_a_transcription_with_zero_tokens() -> None:
    events = [
        completed(),  # beta frames: no usage at all
        completed("[Object]", item="u2"),  # truncated by a recorder
        completed({"type": "tokens", "input_tokens": "x", "input_token_details": "[Object]"}),
        completed({"type": "duration", "seconds": True}),
        completed({"type": "duration", "seconds": -2}),
        ev.ConversationItemInputAudioTranscriptionCompleted(
            item_id="u4",
            content_index=0,
            transcript="",
            usage=ev.TranscriptionUsageDuration(seconds=float("nan")),
        ),
        completed({"type": "mystery", "whatever": 1}),
        input_failed("u3"),  # a failed transcription counts nothing
    ]
    out = totals_of(events, ops.usage(ops.Prices(1, 1, transcription_input=1.0)))
    assert len(out) == 7
    last = out[-1]
    assert last.transcriptions == 7
    assert last.transcription_input_tokens == last.transcription_output_tokens == 0
    assert last.transcription_total_tokens == last.transcription_seconds == 0
    assert last.cost == 0.0


def test_beta_token_shape_without_type_is_counted() -> None:
    untyped = {key: value for key, value in TOKENS.items() if key != "type"}
    event = completed(untyped)
    assert isinstance(event, ev.ConversationItemInputAudioTranscriptionCompleted)
    assert not isinstance(event.usage, ev.TranscriptionUsageTokens)  # decoded to the base
    (totals,) = totals_of([event], ops.usage())
    assert (totals.transcription_input_tokens, totals.transcription_output_tokens) == (40, 6)
    assert (totals.transcription_input_audio, totals.transcription_input_text) == (35, 5)


def test_beta_event_names_decode_and_count() -> None:
    # the beta API used the same event name for completed transcriptions
    frame = {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": "e1",
        "item_id": "u1",
        "content_index": 0,
        "transcript": "hello",
    }
    (totals,) = totals_of([ev.decode(json.dumps(frame))], ops.usage())
    assert totals.transcriptions == 1 and totals.transcription_total_tokens == 0


# -- prices -----------------------------------------------------------------------------------


def test_prices_without_transcription_prices_exclude_transcription() -> None:
    prices = ops.Prices(input_text=4, output_text=16)
    out = totals_of(
        [done("r1", usage=RESPONSE), completed(TOKENS), completed(DURATION)], ops.usage(prices)
    )
    realtime = (10 * 4 + 5 * 16) / 1e6
    assert [t.cost for t in out] == pytest.approx([realtime] * 3)
    assert out[-1].transcription_cost_under(prices) is None
    assert out[-1].cost_under(prices) == pytest.approx(realtime)


def test_prices_with_transcription_prices_add_to_cost() -> None:
    prices = ops.Prices(
        input_text=4,
        output_text=16,
        transcription_input=2.5,
        transcription_output=10,
        transcription_per_minute=0.006,
    )
    out = totals_of(
        [done("r1", usage=RESPONSE), completed(TOKENS), completed(DURATION)], ops.usage(prices)
    )
    realtime = (10 * 4 + 5 * 16) / 1e6
    tokens = (40 * 2.5 + 6 * 10) / 1e6
    minutes = 3.5 / 60 * 0.006
    assert [t.cost for t in out] == pytest.approx(
        [realtime, realtime + tokens, realtime + tokens + minutes]
    )
    assert out[-1].transcription_cost_under(prices) == pytest.approx(tokens + minutes)


def test_prices_price_each_transcription_part_independently() -> None:
    per_minute_only = ops.Prices(input_text=0, output_text=0, transcription_per_minute=0.006)
    out = totals_of([completed(TOKENS), completed(DURATION)], ops.usage(per_minute_only))
    assert out[0].cost == 0.0  # token usage is not priced here
    assert out[1].cost == pytest.approx(3.5 / 60 * 0.006)


def test_existing_prices_and_totals_keep_positional_shape() -> None:
    prices = ops.Prices(1, 2, 3, 4, 5, 0.1, 0.2, 0.3)
    assert prices.transcription_input is prices.transcription_output is None
    assert prices.transcription_per_minute is None
    totals = ops.UsageTotals(1, 10, 5, 15)
    assert (totals.responses, totals.total_tokens, totals.transcriptions) == (1, 15, 0)


def test_each_subscription_counts_from_zero() -> None:
    subject: Subject[ev.ServerEvent] = Subject()
    counted = subject.pipe(ops.usage())
    first: list[ops.UsageTotals] = []
    second: list[ops.UsageTotals] = []
    counted.subscribe(first.append)
    subject.on_next(completed(TOKENS))
    counted.subscribe(second.append)
    subject.on_next(completed(TOKENS, item="u2"))
    assert [t.transcriptions for t in first] == [1, 2]
    assert [t.transcriptions for t in second] == [1]


# -- against the embedded server ----------------------------------------------------------------


@pytest.mark.timeout(30)
async def test_embedded_server_transcription_usage_is_counted() -> None:
    pcm = encode_text("what is two plus two")
    async with (
        serve(realtime_audio=False) as server,
        connect(model="gpt-realtime", base_url=server.base_url, api_key="test-key") as session,
    ):
        loop = asyncio.get_running_loop()
        totals: list[ops.UsageTotals] = []
        session.events.pipe(ops.usage()).subscribe(totals.append)
        transcribed: asyncio.Future[ev.ConversationItemInputAudioTranscriptionCompleted] = (
            loop.create_future()
        )
        answered: asyncio.Future[ev.ResponseDone] = loop.create_future()

        def resolve(future: asyncio.Future[Any]) -> Callable[[Any], None]:
            return lambda value: None if future.done() else future.set_result(value)

        session.events.pipe(
            ops.of_type(ev.ConversationItemInputAudioTranscriptionCompleted), rx_ops.take(1)
        ).subscribe(resolve(transcribed))
        session.events.pipe(ops.of_type(ev.ResponseDone), rx_ops.take(1)).subscribe(
            resolve(answered)
        )

        await session.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "audio": {
                        "input": {
                            "transcription": {"model": "gpt-4o-transcribe"},
                            "turn_detection": None,
                        }
                    },
                },
            }
        )
        await session.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
        )
        await session.send({"type": "input_audio_buffer.commit"})
        await session.send({"type": "response.create"})
        event, response = await asyncio.wait_for(asyncio.gather(transcribed, answered), 20)

    assert event.transcript == "what is two plus two"
    reported = event.usage
    assert isinstance(reported, ev.TranscriptionUsageTokens)
    audio_tokens = -(-len(pcm) // (100 * BYTES_PER_MS))  # the server: 10 tokens per second
    assert reported.input_tokens == audio_tokens > 0
    assert reported.output_tokens is not None and reported.output_tokens > 0

    last = totals[-1]
    assert last.transcriptions == 1 and last.responses == 1
    assert last.transcription_input_tokens == last.transcription_input_audio == audio_tokens
    assert last.transcription_input_text == 0
    assert last.transcription_output_tokens == reported.output_tokens
    assert last.transcription_total_tokens == reported.total_tokens
    assert last.transcription_seconds == 0.0
    assert response.response is not None and response.response.usage is not None
    assert last.total_tokens == response.response.usage.total_tokens  # realtime model only
