"""Event tables (``rr.sinks.to_dataframe``, ``events_dataframe``, ``DataFrameCollector``): one row
per frame with the documented columns, from an Observable, a recording (both directions: the
tool runner's own sends included) or events in hand; pandas is only imported when a table is
built."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import reactivex
from reactivex import operators as rx
from sinks_helpers import audio_delta, error_event, response_done, text_delta, wire

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.server import serve
from rxrealtime.sinks import dataframe

COLUMNS = ["t", "direction", "type", "event_id", "response_id", "item_id", "call_id", "text",
           "event"]  # fmt: skip


def get_weather(city: str) -> dict[str, Any]:
    return {"city": city, "sky": "clear"}


@pytest.fixture
async def recorded(tmp_path: Path) -> AsyncIterator[tuple[Path, pd.DataFrame]]:
    """A real session recorded with ``connect(recorder=...)``: a tool call answered by the
    runner; yields the recording and the live collector's table."""
    path = tmp_path / "session.jsonl"
    async with serve(realtime_audio=False) as server:
        recorder = rr.sinks.Recorder(path)
        async with rr.connect(base_url=server.base_url, recorder=recorder) as session:
            collector = rr.sinks.DataFrameCollector()
            session.events.subscribe(collector)
            runner = rr.sinks.run_tools(session, [rr.tool(get_weather)])
            await runner.declared()
            two = rr.scheduling.to_list(session.events.pipe(ops.responses(), rx.take(2)))
            await session.send(ev.ConversationItemCreate.user_text("What's the weather in Oslo?"))
            await session.response.create(response={"output_modalities": ["text"]})
            summaries = await asyncio.wait_for(two, 30)
            assert [s.status for s in summaries] == ["completed", "completed"]
            await runner.aclose()
        yield path, collector.frame()


async def test_a_recording_gives_both_directions_with_the_runners_sends(
    recorded: tuple[Path, pd.DataFrame],
) -> None:
    path, _ = recorded
    table = await rr.sinks.to_dataframe(path)
    assert list(table.columns) == COLUMNS
    assert set(table.direction) == {"in", "out"}
    assert table.t.is_monotonic_increasing and table.t.notna().all()
    sent = table[table.direction == "out"]
    # the runner's own sends are in the recording: its tool output and its response.create
    [call] = table[table.type == "response.function_call_arguments.done"].itertuples()
    answers = sent[(sent.type == "conversation.item.create") & (sent.call_id == call.call_id)]
    assert len(answers) == 1
    answer_row = answers.iloc[0]
    assert json.loads(answer_row.text) == {"city": "Oslo", "sky": "clear"}
    assert json.loads(call.text) == {"city": "Oslo"}
    assert (sent.type == "response.create").sum() == 2  # ours, then the runner's
    assert "What's the weather in Oslo?" in set(sent.text)  # the user message's text
    assert isinstance(answer_row.event, dict)  # "out" rows keep the wire dict
    received = table[table.direction == "in"]
    assert all(isinstance(e, ev.ServerEvent) for e in received.event)
    assert received.event_id.str.startswith("event_").all()


async def test_an_observable_and_the_file_agree(recorded: tuple[Path, pd.DataFrame]) -> None:
    path, live = recorded
    from_file = await rr.sinks.to_dataframe(path)
    replayed = await rr.sinks.to_dataframe(rr.replay(path))
    assert list(replayed.columns) == COLUMNS
    assert set(replayed.direction) == {"in"}
    assert replayed.t.ge(0).all() and replayed.t.is_monotonic_increasing
    incoming = from_file[from_file.direction == "in"].reset_index(drop=True)
    ids = ["type", "event_id", "response_id", "item_id", "call_id", "text"]
    pd.testing.assert_frame_equal(replayed[ids], incoming[ids])
    # the live collector saw the same server events (arrival times of its own)
    pd.testing.assert_frame_equal(live[ids], incoming[ids])
    assert live.t.is_monotonic_increasing and live.t.ge(0).all()
    words = "".join(live[live.type == "response.output_text.delta"].text)
    assert words.startswith("Here is the result from get_weather")
    response_ids = set(live.response_id.dropna())
    assert len(response_ids) == 2 and all(r.startswith("resp_") for r in response_ids)


def test_rows_from_events_in_hand_have_ids_and_words_but_no_audio() -> None:
    unknown = ev.decode('{"type": "future.thing", "event_id": "e9", "item_id": "it", "text": "x"}')
    invalid = ev.decode('{"type": "response.done", "event_id": "e8", "response": 5}')
    not_json = ev.decode("not json")
    item_done = wire(
        "conversation.item.done",
        item={"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
              "content": [{"type": "output_text", "text": "Hello"},
                          {"type": "output_audio", "transcript": "there"}]},
    )  # fmt: skip
    table = rr.sinks.events_dataframe(
        [
            text_delta("Hel", beta=True),
            audio_delta(b"\x00\x01" * 10),
            response_done("resp_9"),
            error_event("boom"),
            item_done,
            unknown,
            invalid,
            not_json,
            {"type": "input_audio_buffer.append", "audio": "AAAA"},
        ]
    )
    assert list(table.columns) == COLUMNS
    assert table.t.isna().all() and set(table.direction) == {"in"}
    rows = table.to_dict("records")
    assert rows[0]["type"] == "response.text.delta"  # the beta name, as received
    assert (rows[0]["response_id"], rows[0]["item_id"], rows[0]["text"]) == (
        "resp_1", "item_1", "Hel"
    )  # fmt: skip
    assert rows[1]["type"] == "response.output_audio.delta" and pd.isna(rows[1]["text"])
    assert rows[2]["response_id"] == "resp_9" and pd.isna(rows[2]["text"])
    assert rows[3]["text"] == "boom"
    assert (rows[4]["item_id"], rows[4]["text"]) == ("msg_1", "Hello there")
    assert (rows[5]["type"], rows[5]["event_id"], rows[5]["item_id"], rows[5]["text"]) == (
        "future.thing", "e9", "it", "x"
    )  # fmt: skip
    assert rows[6]["type"] == "(invalid)" and "'response'" in rows[6]["text"]
    assert rows[7]["type"] == "(invalid)" and rows[7]["text"] == not_json.error
    assert rows[8]["type"] == "input_audio_buffer.append" and pd.isna(rows[8]["text"])
    assert rows[6]["event"] is invalid


def test_a_file_that_is_not_a_recording_gives_invalid_rows(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n", encoding="utf-8")
    table = rr.sinks.events_dataframe(path)
    assert list(table.type) == ["(invalid)", "(invalid)"]
    with pytest.raises(FileNotFoundError):
        rr.sinks.events_dataframe(tmp_path / "missing.jsonl")


async def test_an_observable_that_fails_fails_the_future() -> None:
    source: reactivex.Observable[ev.ServerEvent] = reactivex.concat(
        reactivex.of(text_delta("a")), reactivex.throw(RuntimeError("stream broke"))
    )
    with pytest.raises(RuntimeError, match="stream broke"):
        await rr.sinks.to_dataframe(source)


async def test_to_dataframe_subscribes_at_call_time() -> None:
    """A hot source's events between the call and the ``await`` are in the table."""
    subject: reactivex.subject.Subject[ev.ServerEvent] = reactivex.subject.Subject()
    table = rr.sinks.to_dataframe(subject)
    subject.on_next(text_delta("early"))
    subject.on_completed()
    assert list((await table).text) == ["early"]


def test_collector_table_grows_while_the_stream_goes_on() -> None:
    collector = dataframe.DataFrameCollector()
    assert collector.frame().empty and list(collector.frame().columns) == COLUMNS
    collector.on_next(text_delta("one"))
    first = collector.frame()
    collector.on_next(text_delta("two"))
    assert len(first) == 1 and list(collector.frame().text) == ["one", "two"]
    assert all(isinstance(t, float) and not math.isnan(t) for t in collector.frame().t)


def test_without_pandas_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'rxrealtime\[notebook\]'"):
        rr.sinks.events_dataframe([text_delta("x")])
    with pytest.raises(ImportError, match="pandas"):
        dataframe.DataFrameCollector().frame()


def test_the_core_never_imports_pandas() -> None:
    code = "import sys, rxrealtime, rxrealtime.sinks.dataframe; print('pandas' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
