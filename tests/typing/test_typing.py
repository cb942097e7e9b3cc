"""Types carry through pipelines: mypy and pyright agree with ``cases/``.

``cases/pipelines_ok.py`` states what flows out of pipelines, answers and tools with
``assert_type`` (a checker reports a mismatch as an error), so it must check clean.
``cases/pipelines_bad.py`` composes pipelines wrongly: exactly the lines marked ``# error`` must
be errors — a pipe that widened to ``Any`` would make a marked line pass and fail this test.
The files are checked, never run. pyright is the ``basedpyright`` build from PyPI (it bundles
pyright and its Node.js runtime as wheels, so nothing is downloaded at run time).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

HERE = Path(__file__).parent
OK = HERE / "cases" / "pipelines_ok.py"
BAD = HERE / "cases" / "pipelines_bad.py"


def marked_lines(path: Path) -> set[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {n for n, line in enumerate(lines, 1) if re.search(r"#\s*error(:|$)", line)}


def test_the_bad_case_marks_every_kind_of_mistake() -> None:
    assert len(marked_lines(BAD)) >= 6
    assert not marked_lines(OK)


def _errors_by_file(rows: list[tuple[str, int]]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {OK.name: set(), BAD.name: set()}
    for file, line in rows:
        found.setdefault(Path(file).name, set()).add(line)
    return found


def test_mypy(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "mypy", "--config-file=", "--strict",
               "--python-version=3.11", "--no-error-summary", f"--cache-dir={tmp_path / 'c'}",
               str(OK), str(BAD)]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
    )
    rows = [
        (match[1], int(match[2]))
        for match in re.finditer(r"^(.+?):(\d+): error:", result.stdout, re.M)
    ]
    found = _errors_by_file(rows)
    assert result.returncode in (0, 1), result.stderr
    assert found[OK.name] == set(), result.stdout
    assert found[BAD.name] == marked_lines(BAD), result.stdout


def test_pyright() -> None:
    pyright = shutil.which("basedpyright", path=str(Path(sys.executable).parent))
    if pyright is None:
        pytest.skip("basedpyright is not installed (pip install -e '.[test]')")
    command = [pyright, "--outputjson", "-p", str(HERE / "pyrightconfig.json"),
               "--pythonpath", sys.executable, str(OK), str(BAD)]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    rows = [
        (d["file"], d["range"]["start"]["line"] + 1)
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    ]
    found = _errors_by_file(rows)
    assert found[OK.name] == set(), result.stdout
    assert found[BAD.name] == marked_lines(BAD), result.stdout
