"""The ```python blocks of a Markdown file, and the programs they make.

A block runs as written, on its own, unless the comment lines it starts with hold markers (the
README says what they mean where it first uses them):

* ``# continues the block above``: the block goes on from the previous one; the two (or more)
  run as one program, in one namespace.
* ``# needs: WHAT[, WHAT...]``: the block needs a service the reader provides; the test provides
  it (see :data:`NEEDS`). A ``needs`` marker anywhere in a program applies to all of it.

Any other first-line comment that looks like a marker (``# needs...``, ``# continues...``) is an
error, so a typo cannot turn a block into something the test runs differently or not at all.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

CONTINUES = "# continues the block above"
NEEDS_MARKER = re.compile(r"^# needs: (?P<what>[a-z ,-]+?)(?: \(.*\))?$")
NEEDS = {
    "redis": "a Redis server; the block reads its URL from REDIS_URL",
    "audio devices": "a microphone and a speaker (the tests give PulseAudio null devices)",
}
"""What a block may say it needs, and what that means."""

FENCE = re.compile(r"^```(?P<lang>[\w+-]*)\s*$")


class MarkerError(ValueError):
    """A block's marker comment is not one this module knows."""


@attrs.frozen
class Block:
    """One fenced ```python block: its first line's number (1-based, the line after the
    fence), the section it is in, and its source."""

    line: int
    section: str
    source: str

    @property
    def comments(self) -> list[str]:
        """The comment lines the block starts with (where its markers are)."""
        lines = self.source.splitlines()
        count = next((n for n, text in enumerate(lines) if not text.startswith("#")), len(lines))
        return lines[:count]

    @property
    def continues(self) -> bool:
        return CONTINUES in self.comments

    @property
    def needs(self) -> frozenset[str]:
        found: set[str] = set()
        for text in self.comments:
            match = NEEDS_MARKER.match(text)
            if match:
                for what in match["what"].split(","):
                    if what.strip() not in NEEDS:
                        raise MarkerError(f"line {self.line}: unknown need {what.strip()!r}")
                    found.add(what.strip())
            elif text.startswith(("# needs", "# continues")) and text != CONTINUES:
                raise MarkerError(f"line {self.line}: unknown marker {text!r}")
        return frozenset(found)


@attrs.frozen
class Program:
    """Blocks that run together: one block, and the blocks that continue it."""

    blocks: tuple[Block, ...]

    @property
    def name(self) -> str:
        lines = "+".join(str(block.line) for block in self.blocks)
        return f"{self.blocks[0].section} (line {lines})"

    @property
    def source(self) -> str:
        return "\n".join(block.source for block in self.blocks)

    @property
    def needs(self) -> frozenset[str]:
        return frozenset().union(*(block.needs for block in self.blocks))


def blocks(path: Path, lang: str = "python") -> list[Block]:
    """Every fenced block in ``lang`` of the Markdown file ``path``, in order."""
    found: list[Block] = []
    section = "(top)"
    inside: str | None = None
    start, lines = 0, []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fence = FENCE.match(text)
        if inside is None:
            if fence:
                inside, start, lines = fence["lang"], number + 1, []
            elif text.startswith("## "):
                section = text[3:].strip()
        elif fence and not fence["lang"]:
            if inside == lang:
                found.append(Block(start, section, "\n".join(lines) + "\n"))
            inside = None
        else:
            lines.append(text)
    if inside is not None:
        raise ValueError(f"{path}: the block at line {start} is never closed")
    return found


def programs(path: Path) -> list[Program]:
    """The programs the Python blocks of ``path`` make (see the module docstring)."""
    result: list[Program] = []
    for block in blocks(path):
        block.needs  # noqa: B018 - raises MarkerError for an unknown marker
        if block.continues:
            if not result:
                raise MarkerError(f"line {block.line}: the first block cannot continue another")
            result[-1] = Program((*result[-1].blocks, block))
        else:
            result.append(Program((block,)))
    return result
