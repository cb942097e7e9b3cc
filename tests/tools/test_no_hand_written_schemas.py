"""Where users learn the library (README, notebooks, the demo), tools come from ``@rr.tool``:
no JSON Schema is written by hand there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLACES = [
    ROOT / "README.md",
    *sorted((ROOT / "notebooks").glob("*.ipynb")),
    ROOT / "notebooks" / "_build.py",
    *sorted((ROOT / "rxrealtime" / "cli").glob("*.py")),
]
# a schema literal: "properties": {...} or "parameters": {...} (JSON or Python dict syntax,
# quotes escaped or not, as notebooks store them), or parameters={...} as a keyword
SCHEMA = re.compile(r"""\\?["'](?:properties|parameters)\\?["']\s*:\s*\{|parameters\s*=\s*\{""")


@pytest.mark.parametrize("path", PLACES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_hand_written_json_schema(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [m.group(0) for m in SCHEMA.finditer(text)]
    assert not found, f"{path.name} writes a JSON Schema by hand; use @rr.tool"


def test_the_pattern_catches_hand_written_schemas() -> None:
    assert SCHEMA.search('{"type": "object", "properties": {"city": {"type": "string"}}}')
    assert SCHEMA.search('\\"parameters\\": {\\"type\\": \\"object\\"}')
    assert SCHEMA.search("ev.FunctionTool(name='f', parameters={'type': 'object'})")
    assert not SCHEMA.search("parameters=t.parameters")
