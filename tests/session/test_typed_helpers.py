"""The typed send helpers take events-layer objects as well as plain dicts."""

from __future__ import annotations

from typing import Any

from reactivex import operators as rops

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.scheduling import first, to_list


async def test_helpers_accept_item_session_and_response_objects(server: Any) -> None:
    async with rr.connect(base_url=server.base_url) as session:
        updated = first(session.events.pipe(ops.of_type(ev.SessionUpdated)))
        await session.session.update(
            session=ev.RealtimeSessionConfig(type="realtime", instructions="answer in uppercase")
        )
        assert (await updated).session.instructions == "answer in uppercase"

        done = first(session.events.pipe(ops.of_type(ev.ResponseDone)))
        until_done = rops.take_until(session.events.pipe(ops.of_type(ev.ResponseDone)))
        words = to_list(session.events.pipe(ops.text_only(), until_done))
        await session.conversation.item.create(item=ev.UserMessage.text("hello"))
        await session.response.create(
            response=ev.ResponseCreateParams(output_modalities=["text"], metadata={"turn": "1"})
        )
        response = (await done).response
        assert response.status == "completed"
        assert response.metadata == {"turn": "1"}
        assert "".join(await words) == "HELLO! HOW CAN I HELP YOU TODAY?"
        assert session.statistics().error_events == 0
