"""Decode throughput, events/second: ``rxrealtime.events.decode`` vs ``orjson.loads`` and the SDK.

The frames are one realistic voice turn, repeated: the user speaks (VAD events, the user item,
its input transcription streamed), then the model answers with 100 ms audio deltas (4,800 PCM
bytes each, base64 as on the wire) interleaved with transcript deltas, framed by the item,
content-part and response events and a closing ``rate_limits.updated``. About half the frames
are audio deltas, a third transcript deltas.

Three decoders on the same frames (``str``, as a text frame arrives):

* ``rxrealtime``: ``rxrealtime.events.decode`` (typed, immutable events);
* ``orjson``: bare ``orjson.loads`` (plain dicts): the floor every typed decoder pays, and the
  baseline of the goal (decode at most 1.3x its cost);
* ``sdk``: exactly what ``AsyncRealtimeConnection.parse_event`` does:
  ``construct_type_unchecked(value=json.loads(data), type_=RealtimeServerEvent)``.

Each round decodes the whole list with each, taking turns on blocks of five voice turns (the
order rotating) so all see the same machine conditions, after a warm-up. The figures are the
medians over the rounds, the ratios the medians of the per-round ratios. Time is the process's
CPU time, so other work on a shared machine does not count against either side.
Usage::

    python benchmarks/bench_codec.py [--events 20000] [--rounds 9]

The ``openai`` package is a test dependency; without it only rxrealtime's figure is printed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from rxrealtime import events as ev

AUDIO_DELTA_BYTES = 4800  # 100 ms of 24 kHz 16-bit mono PCM
WORDS = ("Sure,", "the", "weather", "in", "Oslo", "is", "seven", "degrees", "and", "cloudy")


def _response(status: str, output: list[dict[str, Any]], usage: Any) -> dict[str, Any]:
    return {
        "object": "realtime.response",
        "id": "resp_CCXHw0UJld10EzIUXQCNh",
        "status": status,
        "status_details": None,
        "output": output,
        "conversation_id": "conv_CCXHsurMKcaVxIZvaCI5m",
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
        "usage": usage,
        "metadata": None,
    }


def voice_turn(audio_deltas: int = 50, transcript_deltas: int = 36) -> list[str]:
    """The wire frames of one spoken exchange, in the order a server sends them."""
    counter = iter(range(1_000_000))

    def frame(type_: str, **fields: Any) -> str:
        return json.dumps({"type": type_, "event_id": f"event_{next(counter):06d}", **fields})

    user, reply, resp = "item_user_0001", "item_asst_0001", "resp_CCXHw0UJld10EzIUXQCNh"
    stream = {"response_id": resp, "item_id": reply, "output_index": 0, "content_index": 0}
    audio = base64.b64encode(bytes(range(256)) * (AUDIO_DELTA_BYTES // 256 + 1))
    audio_text = audio[: AUDIO_DELTA_BYTES * 4 // 3].decode()
    words = WORDS
    spoken = " ".join(words[i % len(words)] for i in range(transcript_deltas))
    user_item = {
        "id": user,
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    out_item = {
        "id": reply,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": spoken}],
    }
    usage = {
        "total_tokens": 253,
        "input_tokens": 132,
        "output_tokens": 121,
        "input_token_details": {
            "text_tokens": 119,
            "audio_tokens": 13,
            "image_tokens": 0,
            "cached_tokens": 64,
            "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": 30, "audio_tokens": 91},
    }
    frames = [
        frame("input_audio_buffer.speech_started", audio_start_ms=1000, item_id=user),
        frame("input_audio_buffer.speech_stopped", audio_end_ms=2600, item_id=user),
        frame("input_audio_buffer.committed", previous_item_id=None, item_id=user),
        frame("conversation.item.added", previous_item_id=None, item=user_item),
        frame("conversation.item.done", previous_item_id=None, item=user_item),
        frame("response.created", response=_response("in_progress", [], None)),
    ]
    frames += [
        frame(
            "conversation.item.input_audio_transcription.delta",
            item_id=user,
            content_index=0,
            delta=word + " ",
        )
        for word in ("What's", "the", "weather", "in", "Oslo?")
    ]
    frames.append(
        frame(
            "conversation.item.input_audio_transcription.completed",
            item_id=user,
            content_index=0,
            transcript="What's the weather in Oslo?",
            usage={
                "type": "tokens",
                "total_tokens": 22,
                "input_tokens": 13,
                "input_token_details": {"text_tokens": 0, "audio_tokens": 13},
                "output_tokens": 9,
            },
        )
    )
    in_progress = {**out_item, "status": "in_progress", "content": []}
    frames += [
        frame("response.output_item.added", response_id=resp, output_index=0, item=in_progress),
        frame("conversation.item.added", previous_item_id=user, item=in_progress),
        frame(
            "response.content_part.added",
            **stream,
            part={"type": "audio", "transcript": ""},
        ),
    ]
    for i in range(max(audio_deltas, transcript_deltas)):
        if i < transcript_deltas:
            delta = words[i % len(words)] + (" " if i + 1 < transcript_deltas else "")
            frames.append(frame("response.output_audio_transcript.delta", **stream, delta=delta))
        if i < audio_deltas:
            frames.append(frame("response.output_audio.delta", **stream, delta=audio_text))
    frames += [
        frame("response.output_audio.done", **stream),
        frame("response.output_audio_transcript.done", **stream, transcript=spoken),
        frame(
            "response.content_part.done",
            **stream,
            part={"type": "audio", "transcript": spoken},
        ),
        frame("response.output_item.done", response_id=resp, output_index=0, item=out_item),
        frame("conversation.item.done", previous_item_id=user, item=out_item),
        frame("response.done", response=_response("completed", [out_item], usage)),
        frame(
            "rate_limits.updated",
            rate_limits=[
                {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 60},
                {"name": "tokens", "limit": 50000, "remaining": 49747, "reset_seconds": 0.3},
            ],
        ),
    ]
    return frames


def event_mix(n: int) -> list[str]:
    """``n`` frames: voice turns repeated (the last one cut short)."""
    turn = voice_turn()
    return [turn[i % len(turn)] for i in range(n)]


def sdk_parser() -> Callable[[str], object] | None:
    """The SDK's ``parse_event`` logic, or ``None`` when ``openai`` is not installed."""
    try:
        from openai._models import construct_type_unchecked
        from openai.types.realtime import RealtimeServerEvent
    except ImportError:
        return None

    union: Any = RealtimeServerEvent

    def parse_event(data: str) -> object:
        return construct_type_unchecked(value=json.loads(data), type_=union)

    return parse_event


def _cpu_time(decode: Callable[[str], object], frames: list[str]) -> float:
    start = time.process_time()
    for data in frames:
        decode(data)
    return time.process_time() - start


def run(n: int = 20_000, rounds: int = 9, block: int = 540) -> dict[str, float | None]:
    """Median events/s of each decoder over ``rounds`` rounds of ``n`` frames, and the medians
    of the per-round ratios: ``ratio`` rxrealtime/SDK speed, ``orjson_ratio`` the cost of
    ``ev.decode`` over the cost of ``orjson.loads`` (1.0 = as cheap as plain ``orjson``).

    Within a round the decoders take turns on blocks of ``block`` frames (five voice turns),
    the order rotating, so all see the same machine conditions; a round's rate is its frames
    over the summed CPU time of its blocks.
    """
    frames = event_mix(n)
    blocks = [frames[i : i + block] for i in range(0, len(frames), block)]
    sdk = sdk_parser()
    loads: Callable[[str], object] = orjson.loads
    decoders: list[Callable[[str], object]] = [ev.decode, loads] + ([sdk] if sdk else [])
    for decode in decoders:  # warm-up (the SDK builds its pydantic caches on first use)
        _cpu_time(decode, blocks[0])
    rates: dict[Callable[[str], object], list[float]] = {decode: [] for decode in decoders}
    for _ in range(rounds):
        spent = {decode: 0.0 for decode in decoders}
        for i, chunk in enumerate(blocks):
            shift = i % len(decoders)
            for decode in decoders[shift:] + decoders[:shift]:
                spent[decode] += _cpu_time(decode, chunk)
        for decode in decoders:
            rates[decode].append(n / max(spent[decode], 1e-9))
    ours, plain = rates[ev.decode], rates[loads]
    result: dict[str, float | None] = {
        "rxrealtime": statistics.median(ours),
        "orjson": statistics.median(plain),
        "orjson_ratio": statistics.median(p / o for p, o in zip(plain, ours, strict=True)),
        "sdk": None,
        "ratio": None,
    }
    if sdk is not None:
        result["sdk"] = statistics.median(rates[sdk])
        result["ratio"] = statistics.median(o / t for o, t in zip(ours, rates[sdk], strict=True))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="frames per round")
    parser.add_argument("--rounds", type=int, default=9, help="rounds (medians are printed)")
    args = parser.parse_args()
    turn = voice_turn()
    audio = sum('"response.output_audio.delta"' in f for f in turn)
    print(
        f"voice turn: {len(turn)} frames ({audio} audio deltas of {AUDIO_DELTA_BYTES} PCM bytes); "
        f"{args.events} frames x {args.rounds} rounds"
    )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    result = run(args.events, args.rounds)
    if load is not None:
        print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"rxrealtime ev.decode      {result['rxrealtime']:>12,.0f} events/s (median)")
    print(f"bare orjson.loads         {result['orjson']:>12,.0f} events/s (median)")
    print(
        f"cost ev.decode/orjson     {result['orjson_ratio']:>12.2f}x (median of the per-round "
        "ratios; goal <= 1.3)"
    )
    if result["sdk"] is None:
        print("openai SDK parse_event    (openai not installed)")
        return
    print(f"openai SDK parse_event    {result['sdk']:>12,.0f} events/s (median)")
    print(f"ratio rxrealtime/SDK      {result['ratio']:>12.1f}x (median of the per-round ratios)")


if __name__ == "__main__":
    main()
