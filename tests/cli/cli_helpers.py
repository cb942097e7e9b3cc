"""Run ``python -m rxrealtime ...`` as a real subprocess and look at what it printed."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
PLAIN_FIXTURE = DATA / "liusida-dictionary_beta_text_response.jsonl"
TIMEOUT = 60.0
GREETING = "Hello! How can I help you today?"  # the embedded DefaultModel's documented reply
CONVERSATION_PREFIXES = ("you: ", "tool: ", "assistant: ")

# Problems a clean run must never print, even on stderr.
NEVER_ON_STDERR = ("Traceback", "ResourceWarning", "never awaited", "Task was destroyed")

# What asyncio's debug mode (``-X dev``) reports when one step of the loop took longer than
# 0.1 s: a statement about the machine's load at that moment, not about the program, so it is
# taken out of what the tests compare (a loaded machine prints it, a quiet one does not).
_SLOW_STEP_REPORT = re.compile(r"^Executing <.*> took \d+(?:\.\d+)? seconds$\n?", re.MULTILINE)


def without_slow_step_reports(stderr: str) -> str:
    """``stderr`` without asyncio debug mode's "Executing <...> took N seconds" lines."""
    return _SLOW_STEP_REPORT.sub("", stderr)


@attrs.frozen
class Result:
    returncode: int
    stdout: str
    stderr: str

    def lines(self, *prefixes: str) -> list[str]:
        """stdout lines starting with one of ``prefixes`` (all lines when none given)."""
        return [
            line for line in self.stdout.splitlines() if not prefixes or line.startswith(prefixes)
        ]

    def assert_clean(self) -> None:
        for problem in NEVER_ON_STDERR:
            assert problem not in self.stderr, self.stderr


def sent_texts(recording: Path) -> list[str]:
    """The user texts a recording says the client sent (``conversation.item.create``)."""
    texts = []
    for line in recording.read_text().splitlines()[1:]:
        record = json.loads(line)
        event = record.get("event") or {}
        if record["dir"] == "out" and event.get("type") == "conversation.item.create":
            texts += [part["text"] for part in event["item"]["content"]]
    return texts


def cli_env(extra: dict[str, str] | None) -> dict[str, str]:
    """The test's environment without any OpenAI settings (so no test can reach the network),
    plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def cli_argv(args: tuple[str | Path, ...]) -> list[str]:
    # -X dev: show ResourceWarnings, unawaited coroutines and asyncio debug reports on stderr.
    return [sys.executable, "-X", "dev", "-m", "rxrealtime", *map(str, args)]


def run_cli(
    *args: str | Path,
    stdin: str = "",
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Result:
    """Run the command line to completion (blocking: only when no server runs on this loop)."""
    done = subprocess.run(
        cli_argv(args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=cli_env(env),
        cwd=cwd,
    )
    return Result(done.returncode, done.stdout, without_slow_step_reports(done.stderr))


async def arun_cli(
    *args: str | Path,
    stdin: str = "",
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Result:
    """Like :func:`run_cli`, without blocking the event loop (an in-process server keeps
    serving while the subprocess talks to it)."""
    process = await asyncio.create_subprocess_exec(
        *cli_argv(args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(env),
        cwd=cwd,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), without_slow_step_reports(err.decode()))


class Terminal:
    """``python -m rxrealtime ARGS`` with a pseudo-terminal as stdin and stdout (so it sees a
    TTY and uses readline), stderr captured; type into it and wait for what it prints.

    Waits are on output (``expect``), bounded by :data:`TIMEOUT`, never on the clock.
    """

    def __init__(self, *args: str | Path, env: dict[str, str] | None = None, cwd: Path) -> None:
        self._master, self._slave = pty.openpty()
        # Hermetic line editing: no user inputrc, a terminal type every readline knows.
        extra = {"INPUTRC": os.devnull, "TERM": "xterm", **(env or {})}
        self.process = subprocess.Popen(
            cli_argv(args),
            stdin=self._slave,
            stdout=self._slave,
            stderr=subprocess.PIPE,
            env=cli_env(extra),
            cwd=cwd,
            start_new_session=True,  # a signal sent by the test reaches only this process
        )
        self.output = ""
        """Everything the process wrote to the terminal so far (decoded)."""
        self._seen = 0

    def type(self, text: str) -> None:
        os.write(self._master, text.encode())

    def expect(self, text: str) -> str:
        """Wait until ``text`` appears after the previous match; return the output from the
        previous match up to and including it."""
        deadline = time.monotonic() + TIMEOUT
        while (found := self.output.find(text, self._seen)) < 0:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never came; the terminal shows {self.output!r}"
            ready, _, _ = select.select([self._master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self._master, 4096)
                except OSError:  # the process ended and closed the terminal
                    chunk = b""
                assert chunk, f"{text!r} never came; the terminal shows {self.output!r}"
                self.output += chunk.decode(errors="replace")
        start, self._seen = self._seen, found + len(text)
        return self.output[start : self._seen]

    def echoes(self) -> bool:
        """Whether the terminal is in its normal mode (echo and line editing by the terminal),
        as a shell expects to find it."""
        lflag = termios.tcgetattr(self._slave)[3]
        return bool(lflag & termios.ECHO and lflag & termios.ICANON)

    def finish(self) -> Result:
        """Wait for the process to end; its status, the rest of the terminal, stderr."""
        try:
            _, stderr = self.process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            # -X dev enables faulthandler: SIGABRT makes the process print every thread's stack
            self.process.send_signal(signal.SIGABRT)
            _, stderr = self.process.communicate(timeout=TIMEOUT)
            raise AssertionError(
                f"the process did not end within {TIMEOUT} s; its threads:\n"
                + stderr.decode(errors="replace")
            ) from None
        while select.select([self._master], [], [], 0)[0]:
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk.decode(errors="replace")
        return Result(
            self.process.returncode,
            self.output[self._seen :],
            without_slow_step_reports(stderr.decode()),
        )

    def close(self) -> None:
        """Kill the process if it still runs; close the terminal."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        for fd in (self._master, self._slave):
            os.close(fd)
