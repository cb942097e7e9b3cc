"""The C decoder of flat frames gives exactly what the general decoder gives, or declines.

``rxrealtime._native.FlatDecoder`` (see ``rxrealtime/events/_flat.py``) decodes a flat frame's
text straight into its event. It must take the frames a session is made of (the stream deltas,
VAD and buffer events), agree with the general decoder (``decode.__wrapped__``) on every frame
it takes, and decline (``None``) anything it cannot decode exactly as that would, after which
``decode`` gives the general decoder's answer. Checked on real frames and on tens of thousands
of frames mutated at random (seeded) -- escapes, whitespace, bad numbers, repeated or unknown
keys, invalid UTF-8, truncation -- in every input form (``str``, ``bytes``, ``bytearray``,
``memoryview``).
"""

from __future__ import annotations

import contextlib
import gc
import json
import random
import sys
import tracemalloc
from pathlib import Path
from typing import Any, cast

import pytest
from events_support import BETA_SERVER, CAPTURE, GA_SERVER, spec_examples

from rxrealtime import _construct
from rxrealtime import events as ev
from rxrealtime.events import _flat, server
from rxrealtime.events._base import EMPTY

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_codec  # the benchmark's voice turn: the frames a session is made of

pytestmark = pytest.mark.skipif(not _construct.NATIVE, reason="the C extension is not in use")

reference = cast(Any, ev.decode).__wrapped__
flat = cast(Any, ev.decode).__globals__["_flat"]

VOICE_TURN = bench_codec.voice_turn(audio_deltas=3, transcript_deltas=4)
FLAT_TYPES = {wire for wire, cls in server.SERVER_EVENT_TYPES.items() if _flat.flat_fields(cls)}
SEEDS = (
    VOICE_TURN
    + [json.dumps(ex) for _, ex in spec_examples(GA_SERVER)]
    + [json.dumps(ex) for _, ex in spec_examples(BETA_SERVER)]
    + CAPTURE.read_text().splitlines()
)


def _forms(frame: str | bytes) -> list[Any]:
    data = frame.encode() if isinstance(frame, str) else frame
    forms: list[Any] = [data, bytearray(data), memoryview(data)]
    with contextlib.suppress(UnicodeDecodeError):
        forms.append(data.decode())
    return forms


def _assert_agrees(frame: Any) -> Any:
    """``decode`` and the flat decoder agree with the general decoder on ``frame``; returns the
    flat decoder's answer."""
    expected = reference(frame)
    taken = flat(frame)
    if taken is not None:
        assert type(taken) is type(expected), (frame, taken, expected)
        assert taken == expected, frame
        assert taken.extra is expected.extra or taken.extra == expected.extra
    decoded = ev.decode(frame)
    assert type(decoded) is type(expected) and decoded == expected, frame
    return taken


@pytest.mark.parametrize("frame", SEEDS, ids=lambda f: str(json.loads(f).get("type")))
def test_every_real_frame_agrees_in_every_input_form(frame: str) -> None:
    for form in _forms(frame):
        _assert_agrees(form)


def test_it_takes_the_frames_a_session_is_made_of() -> None:
    taken = [frame for frame in VOICE_TURN if flat(frame) is not None]
    flat_in_turn = [
        frame
        for frame in VOICE_TURN
        if json.loads(frame)["type"] in FLAT_TYPES
        and not any(isinstance(v, dict | list) for v in json.loads(frame).values())
    ]
    assert taken == flat_in_turn
    kinds = {json.loads(frame)["type"] for frame in taken}
    assert {
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "conversation.item.input_audio_transcription.delta",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.committed",  # previous_item_id: null, an optional field
    } <= kinds
    assert not {"response.done", "conversation.item.added", "rate_limits.updated"} & kinds


def test_whitespace_utf8_and_key_order_are_taken() -> None:
    frame = (
        ' \n{ "type" :\t"response.output_audio_transcript.delta" ,\r\n "delta": "Grüße, 世界",'
        ' "content_index": 0, "output_index": 12, "item_id": "item_1",'
        ' "response_id": "resp_1", "event_id": "event_1" } \n'
    )
    data = frame.encode()
    for form in (data, bytearray(data), memoryview(data)):
        event = _assert_agrees(form)
        assert isinstance(event, ev.ResponseOutputAudioTranscriptDelta)
        assert event.delta == "Grüße, 世界" and event.output_index == 12
    assert flat(frame) is None  # a non-ASCII str goes the general way (same result)
    assert ev.decode(frame) == reference(frame)


@pytest.mark.parametrize(
    ("replacement", "taken"),
    [
        ('"delta":"a\\"b"', False),  # an escape
        ('"delta":"a\\u00e9"', False),
        ('"delta":"a\tb"', False),  # a raw control character: not JSON
        ('"delta":"a\u007fb"', True),  # DEL is not a control character in JSON
        ('"delta":null', False),  # null for a required field
        ('"delta":5', False),  # a number for a string
        ('"output_index":-3', True),
        ('"output_index":-0', False),
        ('"output_index":007', False),
        ('"output_index":1.0', False),
        ('"output_index":1e2', False),
        ('"output_index":123456789012345678', True),
        ('"output_index":1234567890123456789', False),
        ('"output_index":true', False),  # a boolean is never an integer
        ('"output_index":"0"', False),
        ('"output_index":[0]', False),
        ('"delta":"x","delta":"y"', False),  # a key twice
        ('"delta":"x","zz_unknown":1', False),  # a key the class does not declare
        ('"delta":"x","extra":{}', False),
        ('"delta":"x",', False),  # a trailing comma
    ],
)
def test_what_it_declines_the_general_decoder_decides(replacement: str, taken: bool) -> None:
    frame = (
        '{"type":"response.output_audio_transcript.delta","event_id":"e","response_id":"r",'
        '"item_id":"i","output_index":0,"content_index":0,"delta":"hi"}'
    )
    if replacement.startswith('"delta"'):
        mutated = frame.replace('"delta":"hi"', replacement)
    else:
        mutated = frame.replace('"output_index":0', replacement)
    assert mutated != frame
    for form in _forms(mutated):
        assert (_assert_agrees(form) is not None) == taken, (replacement, form)


def test_type_must_come_first_and_be_known() -> None:
    later = '{"event_id":"e","type":"input_audio_buffer.cleared"}'
    assert flat(later) is None and isinstance(ev.decode(later), ev.InputAudioBufferCleared)
    unknown = '{"type":"input_audio_buffer.brand_new","event_id":"e"}'
    assert flat(unknown) is None and isinstance(ev.decode(unknown), ev.UnknownEvent)
    nested = '{"type":"response.done","event_id":"e","response":{}}'
    assert flat(nested) is None


def test_not_text_and_not_json_are_declined() -> None:
    for frame in [b"\xff\xfe", b'{"type":"input_audio_buffer.cleared","event_id":"\xc3"}', 5,
                  None, "", "[]", "{", b"{\"type\":\"input_audio_buffer.cleared\"}x"]:  # fmt: skip
        assert flat(frame) is None
        assert isinstance(ev.decode(cast(Any, frame)), ev.InvalidEvent)


_NOISE = [
    b" ", b"\t", b"\n", b"\r", b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b"0", b"9", b"-",
    b".", b"e", b"t", b"n", b"\x00", b"\x1f", b"\x7f", b"\x80", b"\xc3", b"\xc3\xa9", b"\xff",
    b"\xed\xa0\x80", b"\\n", b"\\u00e9", b"\\ud83d", b"null", b"true", b"-0", b"1.5",
]  # fmt: skip
_VALUES = [
    b"null", b"true", b"false", b"0", b"-1", b"1.0", b"1e3", b"-0", b"01", b"99999999999999999999",
    b'""', b'"x"', b'"\xc3\xa9"', b'"\\n"', b"[]", b"{}", b'"\xc3"', b'"a\x01"',
]  # fmt: skip


def _mutate(rng: random.Random, data: bytes) -> bytes:
    """One to three random edits of a frame's bytes (most of them keep it flat)."""
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        at = rng.randrange(len(data) + 1)
        if choice < 0.25:
            data = data[:at] + rng.choice(_NOISE) + data[at:]
        elif choice < 0.35:
            data = data[:at] + data[at + 1 :]
        elif choice < 0.45:
            data = data[:at]
        elif choice < 0.8:  # a value replaced (found after a colon)
            colons = [i for i, c in enumerate(data) if c == ord(":")]
            if colons:
                start = rng.choice(colons) + 1
                end = start
                while end < len(data) and data[end] not in b",}":
                    end += 1
                data = data[:start] + rng.choice(_VALUES) + data[end:]
        else:  # a member repeated, or moved
            obj = json.loads(data) if _is_object(data) else None
            if obj:
                items = list(obj.items())
                item = rng.choice(items)
                extra = [item] if rng.random() < 0.5 else []
                rng.shuffle(items)
                data = b"{" + b",".join(_member(k, v) for k, v in items + extra) + b"}"
    return data


def _is_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:
        return False


def _member(key: str, value: Any) -> bytes:
    value_text = json.dumps(value, ensure_ascii=False)
    return json.dumps(key).encode() + b":" + value_text.encode("utf-8", "surrogatepass")


def test_frames_mutated_at_random_agree() -> None:
    rng = random.Random(20261126)
    flat_seeds = [f.encode() for f in SEEDS if json.loads(f).get("type") in FLAT_TYPES]
    others = [f.encode() for f in SEEDS if json.loads(f).get("type") not in FLAT_TYPES]
    taken = declined = 0
    for i in range(12_000):
        seed = rng.choice(flat_seeds if i % 10 else others)
        mutated = _mutate(rng, seed)
        for form in _forms(mutated):
            if _assert_agrees(form) is None:
                declined += 1
            else:
                taken += 1
    assert taken > 1_000 and declined > 10_000  # both ways were exercised


def test_no_references_leak() -> None:
    frames = [f.encode() for f in VOICE_TURN] + [
        b'{"type":"input_audio_buffer.speech_started","event_id":"e","item_id":"i",'
        b'"audio_start_ms":1.5}',  # declined after building values
        b'{"type":"input_audio_buffer.speech_started","event_id":"\xc3\xa9","item_id":"\xc3"}',
    ]
    type_string = flat(VOICE_TURN[-10]).type  # the decoder's own string, stored in each event
    for frame in frames:  # warm up
        flat(frame)
    gc.collect()
    refs = sys.getrefcount(type_string), sys.getrefcount(EMPTY)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            for frame in frames:
                flat(frame)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024
    assert (sys.getrefcount(type_string), sys.getrefcount(EMPTY)) == refs


def test_events_it_builds_are_ordinary_instances() -> None:
    event = flat(VOICE_TURN[-10])
    assert event is not None and gc.is_tracked(event)
    assert hash(event) == hash(reference(VOICE_TURN[-10]))
    with pytest.raises(AttributeError):
        event.delta = "changed"


def test_bad_shapes_are_refused() -> None:
    from rxrealtime._native import FlatDecoder

    cls = ev.InputAudioBufferCleared
    good = (("type", _flat.KIND_TYPE), ("extra", _flat.KIND_EXTRA), ("event_id", 9))
    assert FlatDecoder((("input_audio_buffer.cleared", cls, good),), EMPTY) is not None
    bad_shapes: list[Any] = [
        ("input_audio_buffer.cleared", cls, good[1:]),  # no type field
        ("input_audio_buffer.cleared", cls, (*good, ("missing", 1))),  # not a slot
        ("input_audio_buffer.cleared", cls, (*good, ("event_id", 99))),  # a bad kind
        ("input_audio_buffer.cleared", dict, good),  # not a slotted class
        ("input_audio_buffer.cleared", cls),
        "not a shape",
    ]
    for shape in bad_shapes:
        with pytest.raises(TypeError):
            FlatDecoder((shape,), EMPTY)
    decoder = FlatDecoder((), EMPTY)
    with pytest.raises(TypeError, match="one frame"):
        decoder()
    with pytest.raises(TypeError, match="one frame"):
        decoder("{}", "{}")
