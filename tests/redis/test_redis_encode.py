"""The one encoder of frame records (``recording.FrameEncoder``, the publisher's) writes exactly
what the recording format's reference encoder writes, and every line reads back as a record."""

from __future__ import annotations

import json

import orjson
import pytest

from rxrealtime import events as ev
from rxrealtime.recording import (
    JSON_READ_DEPTH,
    JSON_WRITE_DEPTH,
    FrameEncoder,
    encode_line,
    frame_record,
    parse_line,
)
from rxrealtime.sinks._redis_encode import (
    MARKER,
    OMIT,
    SESSION,
    VALID,
    RecordEncoder,
    _empty_delta,
    kind_of,
)

SECRET = "sk-live-0123456789abcdef"


def nested(depth: int) -> str:
    return '{"type":"x.deep","v":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


FRAMES = [
    '{"type":"response.output_text.delta","event_id":"e1","delta":"hi"}',
    '{"type":"response.done","event_id":"e2","response":{"id":"r","usage":{"total_tokens":3}}}',
    '{"type":"x.y","note":"my key is ' + SECRET + '"}',
    '{"type":"x.y","headers":{"Authorization":"Bearer abc"}}',
    '{"type":"x.y","text":"BEARER token"}',
    '{"type":"x.y","api_key":"zzz"}',
    '{"type":"x.y","api_\u212aey":"zzz"}',  # KELVIN SIGN: lower-cases to "api_key"
    '{"type":"x.y","AUTHORIZATION":"q"}',  # upper case only: the letters are looked for in both
    '{"type":"x.y","X-API-KEY":"q"}',
    '{"type":"x.y","ApiKey":"q","s":"bEaReR q"}',
    '{"type":"x.y","escaped":"\\u0073k-live-0123456789abcdef"}',
    '{"type":"x.y","slash":"a\\/b"}',
    '{"type":"x.y",\n"pretty":true}',
    '{"type":"x.y", "broken": ',
    '{"type":"x.y","unicode":"héllo ☃"}',
    '{"event_id":"e3","type":"late.type"}',
    '{"type":"x.big","n":' + "9" * 40 + "}",
    '{"type":"x.surrogate","s":"\\ud800"}',
    '{"type":"x.lone","s":"\ud800"}',
    "not json",
    "[1, 2]",
    nested(JSON_WRITE_DEPTH - 2),  # the deepest a record holds as nested JSON
    nested(JSON_WRITE_DEPTH - 1),
    nested(JSON_WRITE_DEPTH),
    nested(JSON_READ_DEPTH - 1),
    nested(JSON_READ_DEPTH),
    nested(JSON_READ_DEPTH + 5),
    '{"type":"x.braces","s":"' + "{" * 300 + '"}',
]


def _variants(frame: str) -> list[tuple[object, bool]]:
    """The frame as the session may hand it over: text or bytes, with or without the decoder
    having vouched for it (only when it really decoded to an event)."""
    out: list[tuple[object, bool]] = [(frame, False)]
    try:
        data = frame.encode()
    except UnicodeEncodeError:
        return out
    valid = not isinstance(ev.decode(frame), ev.InvalidEvent)
    out += [(data, False), (bytearray(data), valid), (memoryview(data), valid), (frame, valid)]
    return out


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("direction", ["in", "out"])
def test_every_line_matches_the_recording_encoder(frame: str, direction: str) -> None:
    encoder = FrameEncoder((SECRET,))
    reference = encode_line(frame_record(direction, frame, t=23.456789, ts=123.456789), (SECRET,))
    expected = parse_line(reference)
    assert expected is not None
    for given, valid in _variants(frame):
        line = encoder.line(direction, given, t=23.456789, ts=123.456789, valid=valid)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        try:  # one JSON value, as the format's reader (orjson) reads it
            assert orjson.loads(line) == orjson.loads(reference)
        except orjson.JSONDecodeError:  # JSON only Python's reader takes: written alike
            assert line == reference
        assert SECRET.encode() not in line and "sk-live" not in json.dumps(json.loads(line))
        parsed = parse_line(line)
        assert parsed is not None and parsed.dir == expected.dir
        if parsed.frame != expected.frame:  # the same frame back, or the same JSON value:
            # the reference writes it again, the fast path keeps the text as received
            assert orjson.loads(parsed.frame) == orjson.loads(expected.frame)
        assert type(parsed.decode()) is type(expected.decode()) is type(ev.decode(frame))


def test_secrets_json_may_escape_turn_the_fast_path_off() -> None:
    secret = 'pa"ss/word'
    frame = '{"type":"x.y","s":"pa\\"ss\\/word"}'  # the secret, escaped as JSON allows
    line = FrameEncoder((secret,)).line("in", frame, t=0.0, ts=1.0, valid=True)
    assert orjson.loads(line)["event"]["s"] == "***"


def test_audio_is_left_out_except_a_marker_per_response() -> None:
    encoder = RecordEncoder(0.0, include_audio=False, secrets=())
    audio = '{"type":"response.output_audio.delta","event_id":"a","response_id":"r","delta":"AAAA"}'
    created = '{"type":"response.created","event_id":"c","response":{"id":"r"}}'
    append = '{"type":"input_audio_buffer.append","audio":"AAAA"}'
    flags = [encoder.admit("in", kind_of(f), f) for f in (created, audio, audio, created, audio)]
    assert flags == [0, MARKER, OMIT, 0, MARKER]
    assert encoder.admit("out", kind_of(append), append) == OMIT
    assert encoder.omitted == 2
    marker = encoder.line(1.0, "in", audio, MARKER)
    assert marker is not None and orjson.loads(marker)["event"]["delta"] == ""
    # a frame whose type is not first is parsed to find it
    late = '{"delta":"AAAA","type":"response.output_audio.delta","event_id":"b"}'
    assert kind_of(late) is None and encoder.admit("in", None, late) == OMIT


def test_the_model_is_learnt_from_session_events() -> None:
    encoder = RecordEncoder(0.0, include_audio=False, secrets=())
    frame = '{"type":"session.created","event_id":"s","session":{"model":"gpt-realtime-mini"}}'
    flags = encoder.admit("in", kind_of(frame), frame)
    assert flags == SESSION
    encoder.line(1.0, "in", frame, flags)
    assert encoder.model == "gpt-realtime-mini"


@pytest.mark.parametrize(
    ("text", "emptied"),
    [
        ('{"type":"x","event_id":"e","delta":"AAAA"}', '{"type":"x","event_id":"e","delta":""}'),
        ('{"delta":"AAAA","type":"x"}', '{"delta":"","type":"x"}'),
        ('{"type":"x","delta":"a\\"b"}', None),  # an escape: parsed instead
        ('{"type":"x","o":{"delta":"q"},"delta":"AAA"}', None),  # "delta" twice
        ('{"delta":"AAA","x":"delta"}', None),
        ('{"x":"\\"delta\\":\\"","delta":"A"}', None),
        ('{"x":1, "delta":"AAA"}', None),  # not right after "{" or ","
    ],
)
def test_a_marker_is_emptied_by_editing_its_text_only_when_provably_right(
    text: str, emptied: str | None
) -> None:
    assert _empty_delta(text) == emptied
    assert _empty_delta(text.encode()) == emptied
    encoder = RecordEncoder(0.0, include_audio=False, secrets=())
    line = encoder.line(1.0, "in", text, MARKER | VALID)  # either way, the same record
    assert orjson.loads(line)["event"] == {**orjson.loads(text), "delta": ""}
