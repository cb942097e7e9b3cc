"""The block reader of the README test: which blocks it finds, how markers join and mark them,
and that a marker it does not know is an error rather than a block run differently."""

from __future__ import annotations

from pathlib import Path

import pytest
from readme_blocks import CONTINUES, MarkerError, blocks, programs

DOC = """# Title

```python
a = 1
```

## Section one

```bash
echo not python
```

```python
# continues the block above
b = a + 1
```

```text
not python either
```

## Section two

```python
# needs: redis (REDIS_URL)
import os
```

```python
# needs: audio devices, redis
# continues the block above
```

```python
print("last")
```
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_blocks_sections_and_lines(tmp_path: Path) -> None:
    found = blocks(write(tmp_path, DOC))
    assert [(b.line, b.section) for b in found] == [
        (4, "(top)"),
        (14, "Section one"),
        (25, "Section two"),
        (30, "Section two"),
        (35, "Section two"),
    ]
    assert found[0].source == "a = 1\n"
    assert [b.line for b in blocks(write(tmp_path, DOC), "bash")] == [10]


def test_programs_join_continuations_and_collect_needs(tmp_path: Path) -> None:
    made = programs(write(tmp_path, DOC))
    assert [p.name for p in made] == [
        "(top) (line 4+14)",
        "Section two (line 25+30)",
        "Section two (line 35)",
    ]
    assert made[0].source == f"a = 1\n\n{CONTINUES}\nb = a + 1\n"
    assert [p.needs for p in made] == [
        frozenset(),
        frozenset({"redis", "audio devices"}),
        frozenset(),
    ]


@pytest.mark.parametrize(
    ("first_lines", "error"),
    [
        ("# needs: a database", "unknown need 'a database'"),
        ("# needs redis", "unknown marker"),
        ("# continues the block before", "unknown marker"),
    ],
)
def test_unknown_markers_are_errors(tmp_path: Path, first_lines: str, error: str) -> None:
    path = write(tmp_path, f"```python\nx = 0\n```\n\n```python\n{first_lines}\nx = 1\n```\n")
    with pytest.raises(MarkerError, match=error):
        programs(path)


def test_a_first_block_cannot_continue_and_fences_must_close(tmp_path: Path) -> None:
    with pytest.raises(MarkerError, match="first block"):
        programs(write(tmp_path, f"```python\n{CONTINUES}\n```\n"))
    with pytest.raises(ValueError, match="never closed"):
        blocks(write(tmp_path, "```python\nx = 1\n"))
