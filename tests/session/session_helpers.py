"""Helpers shared by the session tests (imported as ``session_helpers``)."""

from __future__ import annotations

from typing import Any

import pytest

server_mod = pytest.importorskip("rxrealtime.server")

GREETING = "Hello! How can I help you today?"


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def text_turn(session: Any, text: str = "hello") -> None:
    """Ask for a text-only reply to ``text`` through the typed helpers."""
    await session.conversation.item.create(item=user_text(text))
    await session.response.create(response={"output_modalities": ["text"]})
