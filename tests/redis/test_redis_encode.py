"""The publisher's fast path writes exactly what the recording format's own encoder writes."""

from __future__ import annotations

import orjson
import pytest

from rxrealtime.recording import encode_line, frame_record, parse_line
from rxrealtime.sinks._redis_encode import RecordEncoder

SECRET = "sk-live-0123456789abcdef"
FRAMES = [
    '{"type":"response.output_text.delta","event_id":"e1","delta":"hi"}',
    '{"type":"response.done","event_id":"e2","response":{"id":"r","usage":{"total_tokens":3}}}',
    '{"type":"x.y","note":"my key is ' + SECRET + '"}',
    '{"type":"x.y","headers":{"Authorization":"Bearer abc"}}',
    '{"type":"x.y","text":"BEARER token"}',
    '{"type":"x.y","api_key":"zzz"}',
    '{"type":"x.y","escaped":"\\u0073k-live-0123456789abcdef"}',
    '{"type":"x.y",\n"pretty":true}',
    '{"type":"x.y", "broken": ',
    '{"type":"x.y","unicode":"héllo ☃"}',
    '{"event_id":"e3","type":"late.type"}',
    "not json",
]


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("direction", ["in", "out"])
def test_every_line_matches_the_recording_encoder(frame: str, direction: str) -> None:
    encoder = RecordEncoder(100.0, include_audio=True, secrets=(SECRET,))
    line = encoder.line(123.456789, direction, frame)
    assert line is not None and line.endswith(b"\n") and line.count(b"\n") == 1
    reference = encode_line(frame_record(direction, frame, t=23.456789, ts=123.456789), (SECRET,))
    assert orjson.loads(line) == orjson.loads(reference)
    assert SECRET.encode() not in line and b"sk-live" not in orjson.dumps(orjson.loads(line))
    parsed, expected = parse_line(line), parse_line(reference)
    assert parsed is not None and expected is not None
    assert parsed.decode() == expected.decode()


def test_audio_is_left_out_except_a_marker_per_response() -> None:
    encoder = RecordEncoder(0.0, include_audio=False, secrets=())
    audio = '{"type":"response.output_audio.delta","event_id":"a","response_id":"r","delta":"AAAA"}'
    created = '{"type":"response.created","event_id":"c","response":{"id":"r"}}'
    append = '{"type":"input_audio_buffer.append","audio":"AAAA"}'
    lines = [encoder.line(1.0, "in", f) for f in (created, audio, audio, created, audio)]
    assert encoder.line(1.0, "out", append) is None
    kept = [orjson.loads(line)["event"] for line in lines if line is not None]
    assert [e["type"] for e in kept] == [
        "response.created",
        "response.output_audio.delta",
        "response.created",
        "response.output_audio.delta",
    ]
    assert all(e.get("delta", "") == "" for e in kept if e["type"].endswith("delta"))
    assert encoder.omitted == 2


def test_the_model_is_learnt_from_session_events() -> None:
    encoder = RecordEncoder(0.0, include_audio=False, secrets=())
    frame = '{"type":"session.created","event_id":"s","session":{"model":"gpt-realtime-mini"}}'
    encoder.line(1.0, "in", frame)
    assert encoder.model == "gpt-realtime-mini"
