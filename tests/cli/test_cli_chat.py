"""``python -m rxrealtime chat`` with piped stdin, on the embedded server."""

from __future__ import annotations

import re
from pathlib import Path

from cli_helpers import GREETING, run_cli, sent_texts

from rxrealtime.cli.chat import HELP, local_command, message_text


def test_two_turns_stream_the_replies_and_run_a_tool(tmp_path: Path) -> None:
    result = run_cli("chat", stdin="hello\nwhat is 2 plus 3?\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result.assert_clean()
    assert result.stderr == ""
    assert re.fullmatch(
        r"rxrealtime chat: embedded server ws://127\.0\.0\.1:\d+/v1, model gpt-realtime "
        r"\(/quit or end of input to leave, /help for commands\)",
        result.lines()[0],
    )
    assert result.lines()[1:] == [
        "you: hello",
        f"assistant: {GREETING}",
        "you: what is 2 plus 3?",
        'tool: calculate({"expression": "2 + 3"}) -> 5',
        "assistant: Here is the result from calculate: 5",
    ]


def test_quit_ends_the_chat_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    result = run_cli("chat", "--model", "my-model", stdin="\n  \nhi\n/quit\nnever sent\n")
    assert result.returncode == 0, result.stderr
    assert "model my-model" in result.lines()[0]
    assert result.lines()[1:] == ["you: hi", f"assistant: {GREETING}"]


def test_no_input_at_all_is_a_clean_exit(tmp_path: Path) -> None:
    result = run_cli("chat", stdin="")
    assert result.returncode == 0, result.stderr
    assert len(result.lines()) == 1  # just the banner


def test_slash_commands_are_handled_locally_and_never_sent(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    result = run_cli(
        "chat", "--record", path, stdin="/help\n/frobnicate now\nhi\n//etc is a path\n/exit\nno\n"
    )
    assert result.returncode == 0, result.stderr
    result.assert_clean()
    assert result.lines()[1:-1] == [
        *HELP,
        "unknown command /frobnicate (/help lists the commands; //… sends a '/')",
        "you: hi",
        f"assistant: {GREETING}",
        "you: //etc is a path",
        'assistant: You said: "/etc is a path".',  # the embedded model echoes
    ]
    assert sent_texts(path) == ["hi", "/etc is a path"]


def test_local_command_rules() -> None:
    assert local_command("hello") is None
    assert local_command("//not a command") is None
    assert local_command("  /quit  ") == ("quit", ())
    assert local_command("/exit") == ("quit", ())
    assert local_command("/help me") == ("show", HELP)
    action, (hint,) = local_command("/x") or ("", ("",))
    assert action == "show" and hint.startswith("unknown command /x ")
    assert message_text("//etc") == "/etc" and message_text("a // b") == "a // b"
