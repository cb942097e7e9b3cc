"""Wrongly composed pipelines: every line marked ``# error`` must be a type error, and no other
line may be (checked, never run: see test_typing.py)."""

from __future__ import annotations

from typing import Any

from reactivex import Observable
from reactivex import operators as rx_ops

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops


@rr.tool
def get_weather(city: str) -> dict[str, Any]:
    """Current weather."""
    return {"city": city}


def delta_of(event: ev.ResponseOutputTextDelta) -> str:
    return event.delta


def pipelines(session: rr.RealtimeSession) -> None:
    session.events.pipe(ops.text_only(), ops.audio_chunks())  # error: str is not an event
    done = ops.of_type(ev.ResponseDone)
    created: Observable[ev.ResponseCreated] = session.events.pipe(done)  # error: not created
    session.events.pipe(ops.of_type(ev.ResponseDone), rx_ops.map(delta_of))  # error: not a delta
    text: Observable[int] = session.events.pipe(ops.text_only())  # error
    del created, text


async def misuse(session: rr.RealtimeSession) -> None:
    get_weather(42)  # error: a str is expected
    await session.ask("hi", output="video")  # error: "text" or "audio"
