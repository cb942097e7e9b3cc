"""Run ``python -m rxrealtime ...`` as a real subprocess and look at what it printed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
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


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    """The test's environment without any OpenAI settings (so no test can reach the network),
    plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def _argv(args: tuple[str | Path, ...]) -> list[str]:
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
        _argv(args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(env),
        cwd=cwd,
    )
    return Result(done.returncode, done.stdout, done.stderr)


async def arun_cli(
    *args: str | Path,
    stdin: str = "",
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Result:
    """Like :func:`run_cli`, without blocking the event loop (an in-process server keeps
    serving while the subprocess talks to it)."""
    process = await asyncio.create_subprocess_exec(
        *_argv(args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(env),
        cwd=cwd,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())
