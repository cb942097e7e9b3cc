"""A recorder can never end a session, and it records every connection (issue 12, points 1-2).

Attacks: frames nested deeper than the JSON writer allows (254) and than the recursion limit
(past ~1000), an integer JSON numbers cannot write back, a lone surrogate, a recorder that
raises, and a session that reconnects (accept, talk, cut; accept again, talk, close).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from hostile_peer import Peer, hostile_server, nested

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime.errors import ConnectionClosedOK
from rxrealtime.recording import (
    JSON_READ_DEPTH,
    JSON_WRITE_DEPTH,
    encode_line,
    frame_record,
    parse_line,
)
from rxrealtime.sinks import Recorder

KEY = "sk-hostile-recorder-0123456789abcdef"
FAST = rr.ReconnectPolicy(initial_delay=0, max_attempts=3)

#: Each of these, sent by the server, used to end a recorded session (or lose the frame).
POISON = [
    pytest.param(nested(JSON_WRITE_DEPTH), id="deeper-than-the-writer"),
    pytest.param(nested(600), id="deeper-than-the-recursion-limit"),
    pytest.param(nested(JSON_READ_DEPTH - 3), id="as-deep-as-the-reader-takes"),
    pytest.param(nested(JSON_READ_DEPTH + 10), id="deeper-than-the-reader"),
    pytest.param('{"type":"x.big","n":' + "9" * 40 + "}", id="integer-over-64-bits"),
    pytest.param('{"type":"x.surrogate","s":"\\ud800"}', id="lone-surrogate"),
    pytest.param(
        '{"type":"x.deep.secret","a":' + "[" * 400 + f'"Bearer {KEY}"' + "]" * 400 + "}",
        id="secret-400-deep",
    ),
]


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize("poison", POISON)
async def test_a_poisonous_frame_is_recorded_and_the_recorded_session_goes_on(
    tmp_path: Path, poison: str
) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.text(poison)
        await peer.json({"type": "x.after", "event_id": "after"})

    path = tmp_path / "rec.jsonl"
    recorder = Recorder(path, secrets=[KEY])
    async with (
        hostile_server(script) as server,
        rr.connect(base_url=server.base_url, recorder=recorder) as session,
    ):
        seen: list[ev.ServerEvent] = []
        async for event in session:
            seen.append(event)
            if event.type == "x.after":
                break
        assert not session.closed
        stats = session.statistics()
    assert [e.type for e in seen][-1] == "x.after" and len(seen) == 3
    assert stats.frames_in == 3 and stats.close_code is None
    assert recorder.errors == 0
    text = path.read_text()
    assert KEY not in text
    records = lines(path)
    assert records[-1]["dir"] == "end" and records[-1]["reason"] == "completed"
    inbound = [r for r in records[1:] if r["dir"] == "in"]
    assert len(inbound) == 3
    # the poisonous frame replays as the same event the live session decoded
    replayed = await rr.scheduling.to_list(rr.replay(path))
    assert [type(e) for e in replayed] == [type(e) for e in seen]
    assert replayed[1].type == seen[1].type


def test_the_writer_never_raises_and_falls_back_to_the_frame_text() -> None:
    deep: Any = "core"
    for _ in range(5000):  # far past any recursion limit
        deep = {"k": deep, "api_key": "hidden"}
    record = frame_record("out", {"type": "x.deep", "v": deep}, t=1.0, ts=2.0)
    line = encode_line(record, [KEY])
    parsed = orjson.loads(line)
    assert parsed["dir"] == "out" and isinstance(parsed["raw"], str)
    assert "hidden" not in parsed["raw"] and parsed["raw"].count('"api_key":"***"') == 5000
    # what cannot be written at all still gives one well-formed line saying why
    line = encode_line({"t": 0.0, "ts": 0.0, "dir": "in", "event": _Unprintable()}, [])
    parsed = orjson.loads(line)
    assert parsed["dir"] == "in" and "unrecordable" in parsed


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def test_a_record_of_any_depth_parses_without_raising() -> None:
    for depth in (10, 300, JSON_READ_DEPTH - 2, JSON_READ_DEPTH + 5, 100_000):
        line = '{"t":1,"ts":1,"dir":"in","event":' + nested(depth) + "}"
        record = parse_line(line, 7)
        assert record is not None and record.dir == "in"
        assert isinstance(record.decode(), ev.ServerEvent)


class _RaisingRecorder(Recorder):
    """A recorder whose every frame fails, as a buggy user subclass would."""

    def record_in(self, frame: Any) -> None:
        raise RuntimeError("recorder bug (in)")

    def record_out(self, frame: Any) -> None:
        raise BaseException("recorder bug (out)")  # even a BaseException


async def test_a_recorder_that_raises_is_counted_and_logged_never_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.recv()
        await peer.json({"type": "x.after", "event_id": "after"})

    recorder = _RaisingRecorder(tmp_path / "rec.jsonl")
    with caplog.at_level(logging.WARNING, logger="rxrealtime"):
        async with (
            hostile_server(script) as server,
            rr.connect(base_url=server.base_url, recorder=recorder) as session,
        ):
            await session.send_raw('{"type":"response.create"}')
            types = []
            async for event in session:
                types.append(event.type)
                if event.type == "x.after":
                    break
    assert types == ["session.created", "x.after"]
    assert session.close_code == 1000 and session.statistics().last_error is None
    assert recorder.errors == 3  # two frames in, one out
    assert "recorder bug" in caplog.text  # the first failure is logged (then every 100th)
    assert recorder.last_error is not None and "recorder bug" in recorder.last_error


async def test_every_connection_is_recorded_across_reconnects(tmp_path: Path) -> None:
    async def script(peer: Peer) -> None:
        await peer.created()
        await peer.json({"type": "x.hello", "event_id": f"hello-{peer.index}"})
        sent = await peer.recv()
        await peer.json({"type": "x.echo", "event_id": f"echo-{peer.index}", "of": str(sent)})
        if peer.index == 1:
            peer.cut()
        else:
            await peer.close(1000, "done")

    path = tmp_path / "rec.jsonl"
    recorder = Recorder(path)
    async with hostile_server(script) as server:
        session = await rr.connect(base_url=server.base_url, recorder=recorder, reconnect=FAST)
        ids: list[str | None] = []
        sends = 0
        try:
            async for event in session:
                ids.append(event.event_id)
                if event.type == "x.hello":
                    sends += 1
                    await session.send_raw(f'{{"type":"response.create","n":{sends}}}')
        except ConnectionClosedOK:
            pass
        await session.close()
    assert ids == ["evt_" + ids[0][4:], "hello-1", "echo-1", None, ids[4], "hello-2", "echo-2"]
    records = lines(path)[1:]
    kinds = [(r["dir"], (r.get("event") or {}).get("event_id")) for r in records]
    ins = [eid for d, eid in kinds if d == "in"]
    assert ins == [ids[0], "hello-1", "echo-1", ids[4], "hello-2", "echo-2"]
    outs = [r["event"]["n"] for r in records if r["dir"] == "out"]
    assert outs == [1, 2]
    dirs = [d for d, _ in kinds]
    assert dirs.count("reconnect") == 1 and dirs.count("end") == 1 and dirs[-1] == "end"
    marker = records[dirs.index("reconnect")]
    assert marker["connection"] == 2 and marker["close_code"] == 1006
    # the marker sits between the two connections' frames
    assert dirs == ["in", "in", "out", "in", "reconnect", "in", "in", "out", "in", "end"]
    assert records[-1]["reason"] == "completed"
    # readers skip the marker: replay gives the six server events
    assert len(await rr.scheduling.to_list(rr.replay(path))) == 6
    json.dumps(records)  # every record is plain JSON
