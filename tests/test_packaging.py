"""The project's shape: the README's commands, .ci/run, the command line, and the installed
distribution (metadata, license, type information seen from outside the repository)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    return [line for line in lines if line.startswith("python3 -m venv")]


def test_readme_opens_with_demo_and_test_commands() -> None:
    demo, tests = _readme_commands()[:2]
    assert demo.endswith("python -m rxrealtime demo")
    assert tests.endswith("python -m pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = _readme_commands()[1]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_cli_rejects_unknown_command_with_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rxrealtime", "no-such-command"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "usage: rxrealtime" in result.stderr


# -- the installed distribution (the README's editable install) ----------------------------------

USER_FILE = """\
import rxrealtime as rr
from rxrealtime import events as ev

reveal_type(rr.connect)
reveal_type(ev.decode)
"""


@pytest.mark.timeout(600)
def test_mypy_in_another_directory_finds_the_installed_package_typed(tmp_path: Path) -> None:
    """A user's file outside the repository, checked by mypy against the installed package:
    no "missing library stubs or py.typed marker", no "cannot find", real signatures."""
    (tmp_path / "user.py").write_text(USER_FILE)
    (tmp_path / "mypy.ini").write_text("[mypy]\n")  # not the repository's configuration
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", "cache", "user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=540,
    )
    output = result.stdout + result.stderr
    assert "missing library stubs or py.typed marker" not in output
    assert "Cannot find implementation or library stub" not in output
    assert result.returncode == 0, output
    assert 'Revealed type is "def (model: ' in output
    assert "-> rxrealtime." in output  # connect's own return type, so the package was read
    assert 'Revealed type is "def (frame: str | bytes) -> rxrealtime.events' in output


def test_installed_metadata_names_home_page_author_and_license() -> None:
    meta = importlib.metadata.metadata("rxrealtime")
    assert meta["Home-page"], "no home page"
    assert meta["Author"] == "rxrealtime contributors"
    assert meta["License"] == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])


def test_license_file_is_mit() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 rxrealtime contributors" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
