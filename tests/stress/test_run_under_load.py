"""The load-test tool itself (``run_under_load.sh``): it reports every run, fails when any run
fails, and leaves no CPU burner behind. It runs here on a tiny probe suite with one burner."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("run_under_load.sh")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

# passes on the first run, fails on the second: the state lives next to the probe file
PROBE = """
from pathlib import Path

def test_probe():
    marker = Path(__file__).with_name("ran-once")
    first = not marker.exists()
    marker.touch()
    assert first, "second run"
"""


def _run(*args: str, logs: Path | None = None) -> subprocess.CompletedProcess[str]:
    # the probe needs no plugin: skipping their import keeps each nested run short
    env = {
        **os.environ,
        "BURNERS": "1",
        "PYTHON": sys.executable,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    if logs is not None:
        env["LOGS"] = str(logs)
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=120, env=env
    )


def _burners_are_gone(output: str) -> None:
    match = re.search(r"^burners: (\d+) ", output, re.M)
    assert match, output
    with pytest.raises(ProcessLookupError):
        os.kill(int(match[1]), 0)


def test_every_run_is_reported_and_one_failure_fails_the_whole(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    result = _run("2", "--", str(probe), "-q", logs=tmp_path / "logs")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^run 1/2: pass ", result.stdout, re.M)
    assert re.search(r"^run 2/2: FAIL ", result.stdout, re.M)
    assert "    FAILED " in result.stdout and "test_probe.py::test_probe" in result.stdout
    assert "second run" in (tmp_path / "logs" / "run-2.log").read_text()
    assert "1 of 2 runs failed under 1 burners" in result.stdout
    _burners_are_gone(result.stdout)


def test_all_runs_passing_exits_0(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    result = _run("1", "--", str(probe), "-q", logs=tmp_path / "logs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 1 runs passed under 1 burners" in result.stdout
    _burners_are_gone(result.stdout)


@pytest.mark.parametrize("args", [["zero"], ["0"], ["3", "pytest-args-without-dashes"]])
def test_bad_usage_exits_2_and_starts_nothing(args: list[str]) -> None:
    result = _run(*args)
    assert result.returncode == 2
    assert "Usage" in result.stderr and "burners:" not in result.stdout


WAITER = """
import os
import time
from pathlib import Path

def test_waits():
    Path(__file__).with_name("pid").write_text(str(os.getpid()))
    time.sleep(120)
"""


def test_a_terminated_script_stops_its_run_and_its_burners(tmp_path: Path) -> None:
    probe = tmp_path / "test_waiter.py"
    probe.write_text(WAITER)
    env = {
        **os.environ,
        "BURNERS": "2",
        "PYTHON": sys.executable,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "LOGS": str(tmp_path / "logs"),
    }
    script = subprocess.Popen(
        ["bash", str(SCRIPT), "3", "--", str(probe)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert script.stdout is not None
        burners = script.stdout.readline()
        assert burners.startswith("burners: "), burners
        pid_file = tmp_path / "pid"
        deadline = time.monotonic() + 60  # a safety net: the run writes it within a second
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        script.terminate()
        assert script.wait(timeout=60) == 143
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
        if script.stdout is not None:
            script.stdout.close()
    for pid in [*map(int, burners.split("(")[0].split()[1:]), int(pid_file.read_text())]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
