"""``record`` then ``replay``: a recording says what was seen live; plain JSONL replays too."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import pytest
from cli_helpers import CONVERSATION_PREFIXES, GREETING, PLAIN_FIXTURE, ROOT, Result, run_cli

from rxrealtime.cli.demo import WAV_NAME


@pytest.fixture(scope="module")
def recorded_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    """``rxrealtime record FILE`` (the demo by default): the live output and the file."""
    where = tmp_path_factory.mktemp("record")
    path = where / "demo.jsonl"
    live = run_cli("record", path, "--out", where, cwd=where)
    assert live.returncode == 0, live.stderr
    live.assert_clean()
    assert (where / WAV_NAME).exists()
    return live, path


def test_the_recording_holds_both_directions(recorded_demo: tuple[Result, Path]) -> None:
    live, path = recorded_demo
    assert live.lines("recorded to ") == [f"recorded to {path}"]
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0]["rxrealtime_recording"] == 1
    assert {r["dir"] for r in records[1:]} == {"in", "out", "end"}
    sent = [r["event"]["type"] for r in records[1:] if r["dir"] == "out"]
    assert sent[0] == "session.update"
    assert sent.count("response.create") == 6  # 4 questions + 2 tool-runner follow-ups


def test_replayed_text_is_the_text_seen_live(recorded_demo: tuple[Result, Path]) -> None:
    live, path = recorded_demo
    replayed = run_cli("replay", path, "--only", "text")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.lines() == live.lines("you: ", "assistant: ")
    assert f"assistant: {GREETING}" in replayed.lines()


def test_replayed_tool_calls_are_the_calls_seen_live(recorded_demo: tuple[Result, Path]) -> None:
    live, path = recorded_demo
    replayed = run_cli("replay", path, "--only", "tools")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.lines() == live.lines("tool: ")
    assert len(replayed.lines()) == 2


def test_default_view_is_the_live_conversation_then_a_timeline(
    recorded_demo: tuple[Result, Path],
) -> None:
    live, path = recorded_demo
    replayed = run_cli("replay", path)
    assert replayed.returncode == 0, replayed.stderr
    lines = replayed.lines()
    conversation = lines[: lines.index("")]
    assert conversation == live.lines(*CONVERSATION_PREFIXES)
    timeline = lines[lines.index("") + 1 :]
    assert timeline[0] == "timeline (seconds from the first frame)"
    headers = [line for line in timeline if line.startswith("response ")]
    assert len(headers) == 6
    assert all(re.fullmatch(r"response resp_\w+ \(completed, \d+\.\d{3} s\)", h) for h in headers)
    assert re.fullmatch(r" +0\.000  session\.created", timeline[1])
    assert any(
        re.fullmatch(r" +\d+\.\d{3}  response\.output_text\.delta x\d+", t) for t in timeline
    )
    assert any(line.endswith("response.create (sent)") for line in timeline)


def test_events_view_lists_every_frame_with_its_direction(
    recorded_demo: tuple[Result, Path],
) -> None:
    _, path = recorded_demo
    replayed = run_cli("replay", path, "--only", "events")
    assert replayed.returncode == 0, replayed.stderr
    frames = [r for r in map(json.loads, path.read_text().splitlines()) if "event" in r]
    assert len(replayed.lines()) == len(frames)
    for line, frame in zip(replayed.lines(), frames, strict=True):
        assert line.split()[1:] == [frame["dir"], frame["event"]["type"]]


def test_replay_with_original_timing_streams_the_same_text(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    live = run_cli("record", path, "chat", stdin="hello\nwhat is 10 divided by 4?\n")
    assert live.returncode == 0, live.stderr
    replayed = run_cli("replay", path, "--speed", "4", "--only", "text")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.lines() == live.lines("you: ", "assistant: ")
    assert replayed.lines()[-1] == "assistant: Here is the result from calculate: 2.5"


def test_chat_record_option_writes_the_same_recording(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    live = run_cli("chat", "--record", path, stdin="hi\n")
    assert live.returncode == 0, live.stderr
    assert live.lines()[-1] == f"recorded to {path}"
    assert run_cli("replay", path, "--only", "text").lines() == live.lines("you: ", "assistant: ")


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    """The real beta capture (one server event per line, no timestamps)."""
    return Path(shutil.copy(PLAIN_FIXTURE, tmp_path / "capture.jsonl"))


def test_plain_server_events_replay_as_text(plain: Path) -> None:
    replayed = run_cli("replay", plain, "--only", "text")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.startswith("assistant: {\n")
    answer = json.loads(replayed.stdout.removeprefix("assistant: "))
    assert answer["word"] == "pending"


def test_plain_server_events_timeline_has_no_times(plain: Path) -> None:
    replayed = run_cli("replay", plain, "--only", "timeline")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.lines() == [
        "response resp_C1PSbsyhar4EpjNZg9fkB (completed)",
        "  response.created",
        "  response.output_item.added",
        "  conversation.item.created",
        "  response.content_part.added",
        "  response.text.delta x77",
        "  response.text.done",
        "  response.content_part.done",
        "  (invalid frame: response.output_item.done)",  # its item's content is "[Object]"
        "  response.done",
    ]


def test_plain_server_events_have_no_tool_calls_and_list_every_event(plain: Path) -> None:
    assert run_cli("replay", plain, "--only", "tools").stdout == ""
    events = run_cli("replay", plain, "--only", "events").lines()
    assert len(events) == len(plain.read_text().splitlines())
    assert events[0] == "in   response.created"


def _wav(path: Path) -> Path:
    import wave

    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24000)
        wav.writeframes(bytes(range(256)) * 64)
    return path


@pytest.mark.parametrize(
    ("what", "why"),
    [
        ("empty", "the file is empty"),
        ("blank", "the file is empty"),
        ("wav", "no line is a JSON event or a recording's record"),
        ("readme", "no line is a JSON event or a recording's record"),
        ("random", "no line is a JSON event or a recording's record"),
        ("json", "no line is a JSON event or a recording's record"),
    ],
)
def test_a_file_that_is_not_a_recording_is_one_line_and_exit_1(
    tmp_path: Path, what: str, why: str
) -> None:
    path = tmp_path / f"{what}.jsonl"
    if what == "wav":
        _wav(path)
    elif what == "readme":
        shutil.copy(ROOT / "README.md", path)
    elif what == "random":
        path.write_bytes(random.Random(18).randbytes(8192))
    elif what == "json":
        path.write_text('{"name": "rxrealtime", "version": 1}\n[1, 2]\n"text"\n')
    else:
        path.write_text("" if what == "empty" else "\n  \n\n")
    for only in (None, "events"):
        result = run_cli("replay", path, *(["--only", only] if only else []))
        assert result.returncode == 1, result.stdout
        assert result.stdout == ""
        result.assert_clean()
        assert result.stderr == f"rxrealtime replay: {path} is not a recording: {why}\n"


def test_a_recording_with_a_few_broken_lines_replays_them_as_invalid_frames(
    recorded_demo: tuple[Result, Path], tmp_path: Path
) -> None:
    live, original = recorded_demo
    lines = original.read_text().splitlines()
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("\n".join([lines[0], "not json", *lines[1:], '{"dir": "in"', "]"]) + "\n")
    replayed = run_cli("replay", damaged, "--only", "events")
    assert replayed.returncode == 0, replayed.stderr
    invalid = [line for line in replayed.lines() if "(invalid frame" in line]
    assert len(invalid) == 3
    text = run_cli("replay", damaged, "--only", "text")
    assert text.lines() == live.lines("you: ", "assistant: ")
