"""Typed client events take the same validation path as dicts (issue 12, point 9)."""

from __future__ import annotations

from typing import Any

import pytest
from rel_helpers import Collector, server_mod, user_text

import rxrealtime.session as rs
from rxrealtime import events as ev
from rxrealtime.errors import InvalidClientEventError

WRONG_TYPED: list[Any] = [
    ev.ConversationItemDelete(item_id=5),  # type: ignore[arg-type]
    ev.ConversationItemTruncate(item_id="i", content_index=0, audio_end_ms=True),  # type: ignore[arg-type]
    ev.ResponseCancel(response_id=["r"]),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("event", WRONG_TYPED, ids=lambda event: event.type)
async def test_a_badly_typed_event_is_refused_like_the_same_dict(event: Any) -> None:
    async with (
        server_mod.serve(realtime_audio=False) as server,
        rs.connect(base_url=server.base_url) as session,
    ):
        seen = Collector(session)
        with pytest.raises(InvalidClientEventError) as typed:
            await session.send(event)
        with pytest.raises(InvalidClientEventError) as plain:
            await session.send(ev.to_dict(event))
        assert (typed.value.field, str(typed.value)) == (plain.value.field, str(plain.value))
        assert session.statistics().frames_out == 0  # nothing reached the socket
        await session.conversation.item.create(item=user_text("still here"))
        await seen.until_count(ev.ConversationItemDone)
        assert seen.count(ev.ErrorEvent) == 0
