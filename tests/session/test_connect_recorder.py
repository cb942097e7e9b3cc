"""``connect(recorder=...)`` records both directions of a live session, secrets masked."""

from __future__ import annotations

import json
from pathlib import Path

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.scheduling import first
from rxrealtime.server import serve

KEY = "sk-test-recorder-0123456789abcdef"


async def test_connect_records_every_frame_in_both_directions(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    async with serve(realtime_audio=False, api_key=KEY) as server:
        recorder = rr.sinks.Recorder(path)
        async with rr.connect(base_url=server.base_url, api_key=KEY, recorder=recorder) as s:
            done = first(s.events.pipe(ops.of_type(ev.ResponseDone)))
            await s.send(ev.ConversationItemCreate.user_text(f"my key is {KEY}"))
            await s.send(ev.ResponseCreate())
            await done
            received = s.statistics().frames_in
        recorder.close()

    text = path.read_text()
    assert KEY not in text
    records = [json.loads(line) for line in text.splitlines()[1:]]
    sent = [r["event"]["type"] for r in records if r.get("dir") == "out"]
    assert sent == ["conversation.item.create", "response.create"]
    got = [r["event"]["type"] for r in records if r.get("dir") == "in"]
    assert got[0] == "session.created" and "response.done" in got
    assert len(got) >= received  # every frame the session had received was already recorded
    replayed = await rr.scheduling.to_list(rr.replay(path).pipe(ops.text_only()))
    assert "".join(replayed).startswith("You said:")


async def test_several_recorders_each_record_every_frame(tmp_path: Path) -> None:
    paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    async with serve(realtime_audio=False, api_key=KEY) as server:
        recorders = [rr.sinks.Recorder(path) for path in paths]
        async with rr.connect(base_url=server.base_url, api_key=KEY, recorder=recorders) as s:
            done = first(s.events.pipe(ops.of_type(ev.ResponseDone)))
            await s.send(ev.ConversationItemCreate.user_text(f"my key is {KEY}"))
            await s.send(ev.ResponseCreate())
            await done
        for recorder in recorders:
            recorder.close()

    def frames(path: Path) -> list[tuple[str, str]]:
        text = path.read_text()
        assert KEY not in text
        records = [json.loads(line) for line in text.splitlines()[1:]]
        return [(r["dir"], r["event"]["type"]) for r in records if r.get("dir") in ("in", "out")]

    first_frames, second_frames = frames(paths[0]), frames(paths[1])
    assert first_frames == second_frames
    assert ("out", "response.create") in first_frames and ("in", "response.done") in first_frames
