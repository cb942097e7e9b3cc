"""Helpers shared by the reliability tests (imported as ``rel_helpers``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from rxrealtime import events as ev

server_mod = pytest.importorskip("rxrealtime.server")

GREETING = "Hello! How can I help you today?"
#: A policy that retries at once (tests must not wait for real backoff).
FAST = {"initial_delay": 0.001, "max_delay": 0.002}


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def text_turn(session: Any, text: str = "hello") -> None:
    """Ask for a text-only reply to ``text``."""
    await session.conversation.item.create(item=user_text(text))
    await session.response.create(response={"output_modalities": ["text"]})


class Collector:
    """Subscribes to ``session.events`` and lets a test await a condition on what arrived."""

    def __init__(self, session: Any) -> None:
        self.events: list[ev.ServerEvent] = []
        self.error: Exception | None = None
        self.completed = False
        self._changed = asyncio.Event()
        session.events.subscribe(self._next, self._error, self._done)

    def _next(self, event: ev.ServerEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def _error(self, error: Exception) -> None:
        self.error = error
        self._changed.set()

    def _done(self) -> None:
        self.completed = True
        self._changed.set()

    @property
    def ended(self) -> bool:
        return self.completed or self.error is not None

    async def until(self, condition: Callable[[], bool], limit: float = 10.0) -> None:
        async with asyncio.timeout(limit):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def until_count(self, cls: type, count: int = 1, limit: float = 10.0) -> None:
        await self.until(lambda: self.count(cls) >= count or self.ended, limit)
        assert self.count(cls) >= count, (self.error, [e.type for e in self.events])

    async def until_ended(self, limit: float = 10.0) -> None:
        await self.until(lambda: self.ended, limit)

    def count(self, cls: type) -> int:
        return sum(isinstance(e, cls) for e in self.events)

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    def index(self, cls: type, nth: int = 0) -> int:
        return [i for i, e in enumerate(self.events) if isinstance(e, cls)][nth]


async def events_of_text_turn(text: str = "hello") -> int:
    """How many events the embedded server writes for a fresh session and one text turn (so a
    fault can be placed right after it)."""
    import rxrealtime as rr

    async with (
        server_mod.serve(realtime_audio=False) as server,
        rr.connect(base_url=server.base_url) as session,
    ):
        seen = Collector(session)
        await text_turn(session, text)
        await seen.until_count(ev.ResponseDone)
        await seen.until_count(ev.RateLimitsUpdated)
        return len(seen.events)
