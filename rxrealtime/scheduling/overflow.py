"""Overflow policies shared by the thread hop and the async iterators (see
:mod:`rxrealtime.scheduling`)."""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["POLICIES", "End", "Overflow", "check_policy"]

Overflow = Literal["block", "drop_oldest", "drop_newest", "error"]
"""What a full buffer does with one more value (see :mod:`rxrealtime.scheduling`)."""

POLICIES: Final = frozenset({"block", "drop_oldest", "drop_newest", "error"})


def check_policy(maxsize: int, overflow: str) -> None:
    """Raise ``ValueError`` for an unknown ``overflow`` or a ``maxsize`` below 1."""
    if overflow not in POLICIES:
        raise ValueError(f"overflow must be one of {sorted(POLICIES)}, not {overflow!r}")
    if maxsize < 1:
        raise ValueError("maxsize must be >= 1")


class End:
    """The end of a buffered stream: ``error`` is ``None`` for a completion."""

    __slots__ = ("error",)

    def __init__(self, error: Exception | None) -> None:
        self.error = error
