"""Parameter descriptions from docstrings (Google, NumPy and Sphinx styles)."""

from __future__ import annotations

import inspect
import re

__all__ = ["parse_docstring"]

_PARAM_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args",
                   "keyword arguments", "other parameters", "attributes"}  # fmt: skip
_SECTIONS = _PARAM_SECTIONS | {"returns", "return", "yields", "yield", "raises", "examples",
                               "example", "notes", "note", "see also", "warnings", "warning",
                               "references", "todo", "methods"}  # fmt: skip
_GOOGLE = re.compile(r"\*{0,2}(\w+)\s*(?:\(.*?\))?\s*:(.*)")
_NUMPY = re.compile(r"\*{0,2}(\w+)\s*(?::.*)?")
_SPHINX = re.compile(r":(?:param|parameter|arg|argument|key)\s+(?:[^:]*\s)?(\w+)\s*:(.*)")
_UNDERLINE = re.compile(r"-{3,}")


# -- docstrings ------------------------------------------------------------------------------


def _join(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines if line.strip())


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _entries(block: list[str], numpy: bool) -> dict[str, str]:
    """Parameter entries of a section body: ``name (type): text`` (Google) or ``name : type``
    followed by indented text (NumPy); continuation lines are indented deeper."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    base = min((_indent(line) for line in block if line.strip()), default=0)
    for line in block:
        if line.strip() and _indent(line) <= base:
            match = (_NUMPY if numpy else _GOOGLE).fullmatch(line.strip())
            current = None
            if match is not None:
                current = found.setdefault(match.group(1), [])
                if not numpy:
                    current.append(match.group(2))
        elif current is not None:
            current.append(line)
    return {name: _join(lines) for name, lines in found.items() if _join(lines)}


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """``(description, {parameter: description})`` from a docstring.

    The description is the text before the first section (``Args:``, ``Returns:``, a NumPy
    header underlined with dashes, or a Sphinx ``:field:``), paragraphs kept, lines joined.
    Parameter descriptions come from Google (``Args:``, ``Attributes:``, ...), NumPy
    (``Parameters`` / ``----------``) and Sphinx (``:param name:``) sections.
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    in_summary = True
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        underlined = i + 1 < len(lines) and _UNDERLINE.fullmatch(lines[i + 1].strip())
        header = stripped.rstrip(":").lower()
        if stripped and underlined:  # NumPy: the section runs to the next underlined header
            in_summary, start, i = False, i + 2, i + 2
            while i < len(lines) and not (
                i + 1 < len(lines) and _UNDERLINE.fullmatch(lines[i + 1].strip())
            ):
                i += 1
            if header in _PARAM_SECTIONS:
                params.update(_entries(lines[start:i], numpy=True))
            continue
        if stripped.endswith(":") and header in _SECTIONS and _indent(lines[i]) == 0:
            in_summary, i = False, i + 1
            start = i
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > 0):
                i += 1
            if header in _PARAM_SECTIONS:
                params.update(_entries(lines[start:i], numpy=False))
            continue
        field = _SPHINX.match(stripped)
        if field is not None or (stripped.startswith(":") and re.match(r":\w+.*:", stripped)):
            in_summary, i = False, i + 1
            text = [field.group(2)] if field is not None else []
            while i < len(lines) and lines[i].strip() and _indent(lines[i]) > 0:
                text.append(lines[i])
                i += 1
            if field is not None and _join(text):
                params[field.group(1)] = _join(text)
            continue
        if in_summary:
            summary.append(lines[i])
        i += 1
    paragraphs = "\n".join(summary).split("\n\n")
    return "\n\n".join(p for p in (_join(p.splitlines()) for p in paragraphs) if p), params
