"""The C encoder of record lines (``rxrealtime._native_records``, optional) writes exactly what the
pure-Python one writes, byte for byte, for every kind of frame, stamp and flag; and the
publisher's clock gives whole microseconds.

Where the extension is not built, ``FrameEncoder.lines`` is the pure-Python encoder and these
comparisons hold trivially (``test_the_extension_is_used_where_built`` says which it is)."""

from __future__ import annotations

import importlib.util
import math
import os
import random
import time
from typing import Any

import orjson
import pytest
from test_redis_encode import FRAMES, SECRET

from rxrealtime.recording import JSON_WRITE_DEPTH, FrameEncoder, _frames
from rxrealtime.recording._frames import micro_time

ORIGIN = 1_764_000_000.123456
STREAMED = [  # what a streamed response is mostly made of
    '{"type":"response.output_audio_transcript.delta","event_id":"event_1","response_id":"resp_1",'
    '"item_id":"item_1","output_index":0,"content_index":0,"delta":"word "}',
    '{"type":"response.output_text.delta","event_id":"event_1","response_id":"resp_1",'
    '"item_id":"item_1","output_index":0,"content_index":0,"delta":"token"}',
    '{"type":"response.done","event_id":"event_1","response":{"id":"resp_1","status":"completed",'
    '"usage":{"total_tokens":120,"input_tokens":20,"output_tokens":100},"output":[]}}',
]


def _pieces() -> list[str]:
    """What generated frames are made of: plain text, and everything a rule is about."""
    return [
        "hello",
        "word ",
        "token",
        '"k":1',
        "Bearer x",
        "bEaReR",
        "authorization",
        "AUTHORIZATIon",
        "api_key",
        "API-KEY",
        "ApiKey",
        "api_\u212aey",  # KELVIN SIGN: lower-cases to "k"
        "ap\u0130key",  # U+0130: lower-cases to "i" + U+0307 (matches nothing)
        "\u212a",
        "\u0130",
        "z",
        "K",
        "b",
        "\\n",
        "\\u0041",
        "\\/",
        "\\\\",
        "\\",
        "\n",
        "\r",
        "{",
        "[",
        "héllo ☃",
        "日本語",
        "\U0001f600",
        SECRET,
        "sk-live",
        "x" * 40,
    ]


def _frame(rng: random.Random) -> str:
    pieces = _pieces()
    body = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12)))
    if rng.random() < 0.1:  # long and deep: around the depth rule's limits
        body += "{" * rng.randrange(JSON_WRITE_DEPTH - 3, JSON_WRITE_DEPTH + 3)
        body += "y" * rng.randrange(0, 2 * JSON_WRITE_DEPTH)
    return '{"type":"x.y","s":' + orjson.dumps(body).decode() + "}"


def _given(rng: random.Random, frame: str) -> object:
    kind = rng.randrange(4)
    if kind == 0:
        return frame
    try:
        data = frame.encode()
    except UnicodeEncodeError:
        return frame
    return (data, bytearray(data), memoryview(data))[kind - 1]


def _stamp(rng: random.Random) -> float:
    kind = rng.randrange(6)
    if kind == 0:
        return micro_time()
    if kind == 1:
        return ORIGIN + rng.randrange(0, 10**10) / 1e6  # whole microseconds after the origin
    if kind == 2:
        return ORIGIN + rng.uniform(-1, 1) * 10.0 ** rng.randrange(-9, 9)  # anything, either side
    if kind == 3:
        return ORIGIN + rng.randrange(0, 1000) / 1e6  # t under a millisecond: dumps decides
    if kind == 4:
        return rng.choice([ORIGIN, 0.0, -1.5, 2.0**33 + ORIGIN, 1e17, 123.456789])
    return time.time()


def _items(seed: int, count: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    frames = [*FRAMES, *STREAMED]
    out: list[tuple[Any, ...]] = []
    for _ in range(count):
        frame = rng.choice(frames) if rng.random() < 0.3 else _frame(rng)
        valid = rng.choice([True, True, 1, 1, False, 0, 2])
        direction = rng.choice(["in", "in", "out", "end"]) if rng.random() < 0.1 else "in"
        out.append((_stamp(rng), direction, _given(rng, frame), valid))
    return out


def _python(encoder: FrameEncoder, items: list[tuple[Any, ...]], origin: float) -> list[Any]:
    out: list[Any] = []
    for item in items:
        try:
            out += encoder.python_lines([item], origin)
        except Exception as error:
            out.append(type(error))
    return out


def _native(encoder: FrameEncoder, items: list[tuple[Any, ...]], origin: float) -> list[Any]:
    out: list[Any] = []
    for item in items:
        try:
            out += encoder.lines([item], origin)
        except Exception as error:
            out.append(type(error))
    return out


def test_the_extension_is_used_where_built() -> None:
    built = importlib.util.find_spec("rxrealtime._native_records") is not None
    wanted = built and os.environ.get("RXREALTIME_PURE_PYTHON") != "1"
    assert wanted == _frames.NATIVE


@pytest.mark.parametrize("secrets", [(), (SECRET,), (SECRET, "héllo", "\u212a")])
@pytest.mark.parametrize("seed", range(4))
def test_the_c_encoder_writes_what_python_writes(seed: int, secrets: tuple[str, ...]) -> None:
    encoder = FrameEncoder(secrets)
    items = [item for item in _items(seed, 1500) if item[1] != "end"]
    for origin in (ORIGIN, 0.0):
        assert _native(encoder, items, origin) == _python(encoder, items, origin)
        batch = [item for item in items if not _fails(encoder, item, origin)]
        assert encoder.lines(batch, origin) == encoder.python_lines(batch, origin)


def _fails(encoder: FrameEncoder, item: tuple[Any, ...], origin: float) -> bool:
    try:
        encoder.python_lines([item], origin)
    except Exception:
        return True
    return False


def test_other_items_go_to_the_callers_handler_in_order() -> None:
    encoder = FrameEncoder((SECRET,))
    items = [item for item in _items(7, 800) if not _fails(encoder, item, ORIGIN)]
    items += [(ORIGIN + 1, "end", ("completed", None), 0), (ORIGIN + 2, "reconnect", (2,), 0)]

    def other(item: tuple[Any, ...], origin: float) -> object:
        assert origin == ORIGIN
        return ("other", item[1], item[3])

    got = encoder.lines_with(items, ORIGIN, other)
    assert len(got) == len(items)
    for item, line in zip(items, got, strict=True):
        if item[3] == 1 and item[1] in ("in", "out"):
            assert line == encoder.python_lines([item], ORIGIN)[0]
        else:
            assert line == ("other", item[1], item[3])


def test_the_clock_gives_whole_microseconds() -> None:
    for clock in (micro_time, _frames._micro_time):
        before = time.time()
        now = clock()
        after = time.time()
        assert before - 1e-6 <= now <= after + 1e-6
        assert round(now * 1e6) / 1e6 == now


def test_stamps_in_whole_microseconds_are_written_as_orjson_writes_them() -> None:
    rng = random.Random(3)
    encoder = FrameEncoder()
    frame = '{"type":"x.y"}'
    values = [rng.randrange(1, 2**33 * 10**6) / 1e6 for _ in range(20_000)]
    values += [10.0**e for e in range(-6, 10)] + [0.001, 0.0009999, 2.0**33 - 1e-6, 1.0, 0.5]
    for value in values:
        line = encoder.lines([(value, "in", frame, 1)], 0.0)[0]
        record = orjson.loads(line)
        assert record["ts"] == value and math.isfinite(record["t"])
        assert b'"ts":' + orjson.dumps(value) + b"," in line
