"""The recording format (``rxrealtime.recording``): written and parsed in one place, no I/O."""

from __future__ import annotations

import importlib
import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxrealtime import events as ev
from rxrealtime import recording
from rxrealtime.recording import (
    FORMAT_VERSION,
    HEADER_KEY,
    Record,
    encode_line,
    end_record,
    frame_record,
    header_record,
    is_header,
    parse_line,
    read_records,
)

KEY = "sk-test-RECORDING-0123456789abcdef"


def test_the_header_and_the_end_record() -> None:
    header = header_record(1700000000.5, {"model": "gpt-realtime"})
    meta = {"model": "gpt-realtime"}
    assert header == {HEADER_KEY: FORMAT_VERSION, "started_at": 1700000000.5, "meta": meta}
    assert is_header(header) and not is_header({"dir": "in"})
    assert "meta" not in header_record(1.0)
    line = encode_line(header, [])
    assert line.endswith(b"\n") and parse_line(line, 1) is None
    end = end_record("error", "boom", t=1.23456789, ts=5.0)
    assert end == {"t": 1.234568, "ts": 5.0, "dir": "end", "reason": "error", "error": "boom"}


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ('{"type":"session.created","event_id":"e"}', "event"),
        (b'{"type":"x"}', "event"),
        ("not json", "raw"),
        (b"\xff\xfe binary", "raw_base64"),
        (ev.decode("[1, 2]"), "raw"),
        (ev.ConversationItemDelete(item_id="i"), "event"),
        ({"type": "input_audio_buffer.clear"}, "event"),
    ],
)
def test_every_frame_kind_round_trips_through_one_line(frame: object, field: str) -> None:
    record = frame_record("in", frame, t=0.5, ts=10.0)
    assert field in record
    parsed = parse_line(encode_line(record, []), 7)
    assert parsed is not None and parsed.dir == "in" and parsed.line == 7
    assert (parsed.t, parsed.ts) == (0.5, 10.0)
    if isinstance(frame, bytes) and field == "raw_base64":
        assert parsed.frame == frame
    elif isinstance(frame, ev.InvalidEvent):
        assert parsed.decode() == frame
    elif isinstance(frame, str | bytes):
        wanted = frame if isinstance(frame, str) else frame.decode()
        assert parsed.decode() == ev.decode(wanted)


def test_encoding_scrubs_secrets_and_writes_unserialisable_values_as_text() -> None:
    record = frame_record(
        "out",
        {"type": "session.update", "session": {"instructions": f"key {KEY}"}, "api_key": "x"},
        t=0.0,
        ts=0.0,
    )
    line = encode_line({**record, "odd": object()}, [KEY])
    assert KEY.encode() not in line
    assert json.loads(line)["event"]["session"]["instructions"] == "key ***"
    assert json.loads(line)["event"]["api_key"] == "***"
    assert json.loads(line)["odd"].startswith("<object object")
    with pytest.raises(TypeError):
        frame_record("in", 42, t=0.0, ts=0.0)


def test_reading_skips_blank_and_header_lines_and_keeps_anything_else() -> None:
    lines = [
        orjson.dumps(header_record(1.0)) + b"\n",
        b"\n",
        b'{"type":"response.done"}\n',  # plain JSONL: a server event, untimed
        b"not json\n",
        b"[1]\n",
        b'{"t": 1, "dir": "out", "event": {"type": "response.create"}}\n',
        b'{"t": true, "dir": "in", "raw_base64": "***not base64***"}\n',
        b'{"t": 2, "dir": "future-kind", "what": 1}\n',
    ]
    records = list(read_records(lines))
    assert [(r.line, r.dir) for r in records] == [
        (3, "in"),
        (4, "in"),
        (5, "in"),
        (6, "out"),
        (7, "in"),
        (8, "future-kind"),
    ]
    assert records[0] == Record("in", '{"type":"response.done"}', line=3)
    assert records[3].t == 1.0 and records[3].frame == '{"type":"response.create"}'
    assert records[4].t is None  # a bool is not a time
    assert isinstance(records[4].decode(), ev.InvalidEvent)  # bad base64: the line itself
    assert records[5].fields == {"t": 2, "dir": "future-kind", "what": 1}
    assert list(read_records(["", "  "])) == []


@given(st.binary(max_size=200))
def test_parsing_never_raises_on_any_line(raw: bytes) -> None:
    record = parse_line(raw, 1)
    if record is not None:
        assert isinstance(record.decode(), ev.ServerEvent)


def test_the_recorder_and_replay_share_these_names() -> None:
    import rxrealtime as rr
    from rxrealtime import masking, sinks

    replay_module = importlib.import_module("rxrealtime.replay")
    assert rr.Record is recording.Record is replay_module.Record
    assert sinks.scrub is recording.scrub is masking.scrub
    assert sinks.FORMAT_VERSION == FORMAT_VERSION
