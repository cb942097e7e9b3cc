"""Identifiers shaped like the live service's: ``event_…``, ``item_…``, ``resp_…``, ``sess_…``.

The live service uses a prefix and 21 random base62 characters (``event_C9G8pjSJCfRNEhMEnYAVy``);
call ids are ``call_`` and 16 characters. An :class:`IdFactory` built with a ``seed`` yields
the same sequence every time, which makes recordings of the embedded server reproducible.

Identifiers are unique labels, not secrets: an unseeded factory is a Mersenne Twister seeded
from the OS's entropy source, drawing all the characters of an identifier in one call (the
server makes one per event, so this is on its hot path; ``secrets`` cost a system call per
character).
"""

from __future__ import annotations

import random
import string

__all__ = ["IdFactory"]

_ALPHABET = string.ascii_letters + string.digits


class IdFactory:
    """Makes prefixed random identifiers; not thread-safe (one factory per connection)."""

    __slots__ = ("_random",)

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)  # None: seeded from os.urandom

    def _make(self, prefix: str, length: int = 21) -> str:
        return prefix + "".join(self._random.choices(_ALPHABET, k=length))

    def event(self) -> str:
        return self._make("event_")

    def item(self) -> str:
        return self._make("item_")

    def response(self) -> str:
        return self._make("resp_")

    def session(self) -> str:
        return self._make("sess_")

    def conversation(self) -> str:
        return self._make("conv_")

    def call(self) -> str:
        return self._make("call_", 16)
