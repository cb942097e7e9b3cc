"""``python -m rxrealtime demo`` end to end on the embedded server, as a new user runs it."""

from __future__ import annotations

import json
import re
import time
import wave
from pathlib import Path

import pytest
from cli_helpers import GREETING, ROOT, Result, arun_cli, run_cli

from rxrealtime.cli.demo import TEXT_PROMPT, TOOL_PROMPTS, VOICE_PROMPT, WAV_NAME
from rxrealtime.server import decode_tones, serve


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path, float]:
    """One demo run shared by the tests below: (result, its --out directory, seconds)."""
    out = tmp_path_factory.mktemp("demo") / "out"  # does not exist yet: the demo creates it
    started = time.monotonic()
    result = run_cli("demo", "--out", out, cwd=out.parent)
    return result, out, time.monotonic() - started


def test_demo_succeeds_quickly_and_cleanly(demo: tuple[Result, Path, float]) -> None:
    result, _, seconds = demo
    assert result.returncode == 0, result.stderr
    result.assert_clean()
    assert result.stderr == ""
    assert seconds < 30  # "well under a minute", interpreter start-up included
    first = result.lines()[0]
    assert re.fullmatch(
        r"rxrealtime demo: embedded server ws://127\.0\.0\.1:\d+/v1, model gpt-realtime", first
    )
    assert re.match(r"connected: session sess_\w+$", result.lines()[1])
    assert re.fullmatch(r"done in \d+\.\d\d s", result.lines()[-1])


def test_sections_come_in_order(demo: tuple[Result, Path, float]) -> None:
    headers = demo[0].lines("[")
    assert [h[:5] for h in headers] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]


def test_the_streamed_text_answer_is_the_models_reply(demo: tuple[Result, Path, float]) -> None:
    conversation = demo[0].lines("you: ", "assistant: ", "tool: ")
    assert conversation[:2] == [f"you: {TEXT_PROMPT}", f"assistant: {GREETING}"]


def test_tool_calls_run_locally_and_the_model_answers_with_their_result(
    demo: tuple[Result, Path, float],
) -> None:
    conversation = demo[0].lines("you: ", "assistant: ", "tool: ")
    weather = {"city": "Paris", "forecast": "sunny", "temperature_c": 21}
    assert conversation[2:8] == [
        f"you: {TOOL_PROMPTS[0]}",
        f'tool: get_weather({{"city": "Paris"}}) -> {json.dumps(weather)}',
        f"assistant: Here is the result from get_weather: {json.dumps(weather)}",
        f"you: {TOOL_PROMPTS[1]}",
        'tool: calculate({"expression": "12 * 7"}) -> 84',
        "assistant: Here is the result from calculate: 84",
    ]


def test_the_voice_answer_is_a_wav_file_that_says_the_transcript(
    demo: tuple[Result, Path, float],
) -> None:
    result, out, _ = demo
    conversation = result.lines("you: ", "assistant: ", "tool: ")
    assert conversation[8:] == [f"you: {VOICE_PROMPT}", "assistant: 6 * 7 = 42."]
    path = out / WAV_NAME
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24000)
        frames = wav.getnframes()
        pcm = wav.readframes(frames)
    assert frames > 0
    # The embedded server speaks a tone code; decoding the file gives back the transcript.
    assert decode_tones(pcm) == "6 * 7 = 42."
    saved = result.lines("saved: ")
    assert saved == [
        f"saved: {path} ({frames / 24000:.2f} s of audio in " + saved[0].split(" in ")[1]
    ]


def test_the_summary_reports_usage_latency_and_events(demo: tuple[Result, Path, float]) -> None:
    result = demo[0]
    (usage,) = result.lines("usage:")
    match = re.fullmatch(
        r"usage: +6 responses, (\d+) tokens \((\d+) in, (\d+) out; audio 0 in, (\d+) out\)", usage
    )
    assert match is not None, usage
    total, tokens_in, tokens_out, audio_out = map(int, match.groups())
    assert total == tokens_in + tokens_out and audio_out > 0
    (latency,) = result.lines("latency:")
    assert re.fullmatch(
        r"latency: first delta \d+\.\d ms, response done \d+\.\d ms \(median of 6 responses\)",
        latency,
    )
    (events,) = result.lines("events:")
    match = re.fullmatch(r"events: +(\d+) received in (\d+) types, 13 sent", events)
    assert match is not None, events
    counts = {
        name: int(count)
        for line in result.lines("  ")
        for count, name in re.findall(r"(\d+) ([a-z_.]+)", line)
    }
    assert counts["response.done"] == 6
    assert counts["session.created"] == 1
    assert counts["response.function_call_arguments.done"] == 2
    assert sum(counts.values()) == int(match.group(1))
    assert len(counts) == int(match.group(2))


def test_realtime_pacing_streams_the_voice_at_speaking_speed(tmp_path: Path) -> None:
    result = run_cli("demo", "--realtime", "--out", tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result.assert_clean()
    with wave.open(str(tmp_path / WAV_NAME)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    (done,) = result.lines("done in ")
    assert float(done.split()[2]) >= seconds - 0.05  # the audio took its own time to arrive


async def test_with_a_key_the_same_script_runs_against_the_configured_endpoint(
    tmp_path: Path,
) -> None:
    # OPENAI_API_KEY (+ OPENAI_BASE_URL, so no test leaves loopback) selects a real endpoint:
    # here a separately started server that checks the key.
    async with serve(api_key="sk-demo-key-0123456789", realtime_audio=False) as server:
        env = {"OPENAI_API_KEY": "sk-demo-key-0123456789", "OPENAI_BASE_URL": server.base_url}
        result = await arun_cli("demo", "--out", tmp_path, env=env, cwd=tmp_path)
        assert server.connections_served == 1
    assert result.returncode == 0, result.stderr
    result.assert_clean()
    assert result.lines()[0] == f"rxrealtime demo: {server.base_url}, model gpt-realtime"
    assert f"assistant: {GREETING}" in result.lines()
    assert (tmp_path / WAV_NAME).exists()


def _event_summary(lines: list[str]) -> list[str]:
    """The ``events:`` line and the per-type counts under it."""
    start = next(i for i, line in enumerate(lines) if line.startswith("events: "))
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines)
    )
    return lines[start:end]


def test_the_event_counts_do_not_depend_on_timing_and_are_the_readmes(
    demo: tuple[Result, Path, float],
) -> None:
    # Counted once every response.done has had its rate_limits.updated, which the server
    # sends shortly after it: the same 113 on every run, as the README shows.
    shown = _event_summary(demo[0].lines())
    assert "6 rate_limits.updated" in " ".join(shown)
    assert shown == _event_summary((ROOT / "README.md").read_text().splitlines())
