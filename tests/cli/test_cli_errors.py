"""Clear messages and exit codes: bad arguments (2), and failures a user can act on (1):
an unreachable server, a rejected key, a missing file. Never a traceback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cli_helpers import GREETING, Result, arun_cli, run_cli

import rxrealtime
from rxrealtime.server import RealtimeServer, serve

KEY = "sk-cli-test-right-key-0123456789"


def assert_one_line_failure(result: Result, command: str, starts: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    result.assert_clean()
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"rxrealtime {command}: {starts}"), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
        (["demo", "--bogus"], "unrecognized arguments: --bogus"),
        (["demo", "--fast", "--realtime"], "not allowed with argument --fast"),
        (["replay"], "the following arguments are required: FILE"),
        (["replay", "x.jsonl", "--only", "words"], "invalid choice: 'words'"),
        (["replay", "x.jsonl", "--speed", "0"], "must be greater than 0, not 0"),
        (["replay", "x.jsonl", "--speed", "fast"], "not a number: 'fast'"),
        (["record", "x.jsonl", "dance"], "invalid choice: 'dance'"),
        (["serve", "--port", "99999"], "argument --port: must be between 0 and 65535, not 99999"),
        (["serve", "--port", "-1"], "argument --port: must be between 0 and 65535, not -1"),
        (["serve", "--port", "http"], "argument --port: not a port number: 'http'"),
        (["serve", "--require-key"], "argument --require-key: expected one argument"),
        (["serve", "--fast", "--realtime"], "not allowed with argument --fast"),
        (["serve", "extra"], "unrecognized arguments: extra"),
        (["chat", "--record"], "argument --record: expected one argument"),
    ],
)
def test_bad_arguments_exit_2_with_usage(args: list[str], complaint: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert "usage: rxrealtime" in result.stderr
    assert complaint in result.stderr
    assert result.stdout == ""
    result.assert_clean()


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--bogus"],
        ["serve", "--port", "99999"],
        ["chat", "--nope"],
        ["replay", "x.jsonl", "--only"],
        ["record", "x.jsonl", "chat", "--bogus"],
    ],
)
def test_a_sub_commands_error_shows_that_sub_commands_usage(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(f"usage: rxrealtime {args[0]} "), result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"rxrealtime {args[0]}: error: ")


def test_a_top_level_error_shows_the_top_level_usage() -> None:
    result = run_cli("--bogus", "demo")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: rxrealtime [-h] [--version] COMMAND ...")
    assert "unrecognized arguments: --bogus" in result.stderr


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"rxrealtime {rxrealtime.__version__}\n"
    assert result.stderr == ""


def test_serve_on_an_address_that_is_not_here_is_one_line_and_exit_1() -> None:
    result = run_cli("serve", "--host", "192.0.2.1", "--port", "0")  # TEST-NET-1: not ours
    assert result.stdout == ""
    assert_one_line_failure(result, "serve", "cannot listen on 192.0.2.1:0: ")


@pytest.mark.parametrize("command", ["demo", "chat"])
def test_unreachable_server_is_one_line_and_exit_1(command: str) -> None:
    result = run_cli(command, "--base-url", "ws://127.0.0.1:1/v1", stdin="hello\n")
    assert_one_line_failure(
        result, command, "cannot connect to ws://127.0.0.1:1/v1/realtime?model=gpt-realtime: "
    )


def test_plain_ws_to_a_remote_host_is_refused_before_any_network_io() -> None:
    result = run_cli("demo", "--base-url", "ws://example.invalid/v1")
    assert_one_line_failure(result, "demo", "refusing plain ws:// to non-loopback host")


def test_recording_into_a_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    result = run_cli("record", tmp_path / "no" / "such" / "dir.jsonl", "--out", tmp_path)
    assert_one_line_failure(result, "record", "cannot record to ")


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_replay_of_something_that_is_not_a_file(tmp_path: Path, what: str) -> None:
    path = tmp_path / "nothing.jsonl" if what == "missing" else tmp_path
    message = assert_one_line_failure(run_cli("replay", path), "replay", "")
    assert str(path) in message


@pytest.fixture
async def guarded() -> AsyncIterator[RealtimeServer]:
    """An embedded server that wants ``KEY`` (served by this test's loop)."""
    async with serve(api_key=KEY, realtime_audio=False) as server:
        yield server


@pytest.mark.parametrize("key", ["wrong", None])
@pytest.mark.parametrize("command", ["demo", "chat"])
async def test_rejected_key_prints_the_typed_auth_error(
    guarded: RealtimeServer, tmp_path: Path, command: str, key: str | None
) -> None:
    env = {"OPENAI_API_KEY": key} if key else {}
    options = ["--out", str(tmp_path)] if command == "demo" else []
    result = await arun_cli(
        command, "--base-url", guarded.base_url, *options, env=env, stdin="hello\n"
    )
    message = assert_one_line_failure(result, command, "the API key was rejected (invalid_api_key)")
    assert message.endswith("[close 3000]")
    if key:
        assert "Incorrect API key provided" in message
    assert KEY not in result.stdout + result.stderr


async def test_right_key_works_and_is_never_recorded(
    guarded: RealtimeServer, tmp_path: Path
) -> None:
    path = tmp_path / "chat.jsonl"
    result = await arun_cli(
        "record",
        path,
        "chat",
        "--base-url",
        guarded.base_url,
        env={"OPENAI_API_KEY": KEY},
        stdin="hello\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.lines("assistant: ") == [f"assistant: {GREETING}"]
    assert KEY not in path.read_text()
    assert KEY not in result.stdout + result.stderr


async def test_a_refused_upgrade_names_the_http_status(guarded: RealtimeServer) -> None:
    wrong_path = guarded.base_url.removesuffix("/v1") + "/not-realtime"
    result = await arun_cli("demo", "--base-url", wrong_path)
    message = assert_one_line_failure(result, "demo", f"cannot connect to {wrong_path}/realtime")
    assert message.endswith("HTTP 404: Not Found")
