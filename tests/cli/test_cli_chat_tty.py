"""``rxrealtime chat`` at a terminal (a pseudo-terminal): readline line editing, local
``/commands``, and leaving with Ctrl-D (status 0) or Ctrl-C (status 130, a newline first, the
recording ending ``"interrupted"``)."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import GREETING, Terminal, sent_texts

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")

PROMPT = "you: "
LEFT = "\x1b[D"  # what the left-arrow key sends


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal("chat", "--record", tmp_path / "chat.jsonl", cwd=tmp_path)
    try:
        banner = term.expect(PROMPT)
        assert "(/quit or Ctrl-D to leave, /help for commands)" in banner
        yield term
    finally:
        term.close()


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_arrow_keys_edit_the_line_and_commands_stay_local(
    terminal: Terminal, tmp_path: Path
) -> None:
    terminal.type(f"helo{LEFT}l\r")  # a typo fixed with the arrow key: "hello"
    terminal.expect(f"assistant: {GREETING}")
    terminal.expect(PROMPT)
    terminal.type("/help\r")
    terminal.expect("commands (never sent to the model):")
    terminal.expect(PROMPT)
    terminal.type("/nope\r")
    terminal.expect("unknown command /nope")
    terminal.expect(PROMPT)
    terminal.type("\x04")  # Ctrl-D at an empty prompt
    result = terminal.finish()
    assert result.returncode == 0, result.stderr
    assert terminal.echoes()
    assert result.stderr == ""
    assert result.stdout.startswith("\r\n")  # the shell's prompt starts on a line of its own
    assert f"recorded to {tmp_path / 'chat.jsonl'}" in result.stdout
    assert "\x1b" not in "".join(sent_texts(tmp_path / "chat.jsonl"))
    assert sent_texts(tmp_path / "chat.jsonl") == ["hello"]
    assert _records(tmp_path / "chat.jsonl")[-1]["reason"] == "completed"


def test_ctrl_c_leaves_with_a_newline_status_130_and_an_interrupted_recording(
    terminal: Terminal, tmp_path: Path
) -> None:
    terminal.type("hi\r")
    terminal.expect(f"assistant: {GREETING}")
    terminal.expect(PROMPT)
    terminal.type("half a line")
    terminal.expect("half a line")
    terminal.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    result = terminal.finish()
    assert result.returncode == 130
    assert terminal.echoes()  # restored, although readline was interrupted mid-line
    assert result.stdout.startswith("\r\n")
    assert result.stderr == "rxrealtime chat: interrupted\n"
    end = _records(tmp_path / "chat.jsonl")[-1]
    assert end["dir"] == "end"
    assert end["reason"] == "interrupted"
    assert end["error"] == "interrupted by the user (Ctrl-C)"
    assert sent_texts(tmp_path / "chat.jsonl") == ["hi"]
