"""Barge-in through real devices: the embedded server's reply plays on the ``room`` null sink,
the user talks over it, and the item is truncated where the device had played it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import reactivex
from voice_helpers import heard_characters

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.audio import PCM16
from rxrealtime.audio.devices import Speaker
from rxrealtime.scheduling import first
from rxrealtime.server import encode_text, serve
from rxrealtime.server.items import spoken_prefix

pytestmark = pytest.mark.usefixtures("pulse")

LATENCY = 0.2  # s: room for a loaded machine to stall our threads without an underrun

REPLY = "Hello! How can I help you today?"


async def _until(condition: Callable[[], bool], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_barge_in_truncates_the_item_where_it_was_heard() -> None:
    async with (
        serve(realtime_audio=True) as server,
        rr.connect(base_url=server.base_url) as session,
    ):
        with Speaker("rxr_room", latency=LATENCY) as speaker:
            session.events.subscribe(speaker)  # before session.created: follows the format
            barge = speaker.handle_barge_in(session)
            received: dict[str, float] = {}
            session.events.pipe(ops.audio_chunks()).subscribe(
                lambda chunk: received.__setitem__(chunk.item_id, chunk.end_ms)
            )
            heard: list[bytes] = []
            mic = rr.audio.microphone("rxr_room_monitor").subscribe(heard.append)
            await speaker.wait_ready()
            await _until(lambda: len(heard) > 5)

            updated = asyncio.ensure_future(
                first(session.events.pipe(ops.of_type(ev.SessionUpdated)))
            )
            await session.session.update(  # G.711 replies; no reply to the interruption
                session={
                    "type": "realtime",
                    "audio": {
                        "output": {"format": {"type": "audio/pcmu"}},
                        "input": {
                            "turn_detection": {"type": "server_vad", "create_response": False}
                        },
                    },
                }
            )
            await updated
            delta = asyncio.ensure_future(
                first(session.events.pipe(ops.of_type(ev.ResponseOutputAudioDelta)))
            )
            truncated = asyncio.ensure_future(
                first(session.events.pipe(ops.of_type(ev.ConversationItemTruncated)))
            )
            await session.conversation.item.create(item=ev.UserMessage.text("hello"))
            await session.response.create()
            item_id = (await asyncio.wait_for(delta, 30)).item_id
            await _until(lambda: speaker.position(item_id) >= 500)

            # the user talks over the reply
            speech = encode_text("stop") + PCM16.silence(PCM16.ms_to_bytes(400))
            sent = rr.audio.send_audio(
                session, reactivex.from_iterable([speech]).pipe(rr.audio.reframe(20))
            )
            event = await asyncio.wait_for(truncated, 30)
            received_then = received[item_id]
            await sent
            await asyncio.sleep(0.5)  # what was handed to the device plays out
            stopped_at = speaker.playback_position(item_id, 0)
            final_position = speaker.position(item_id)

            retrieved = asyncio.ensure_future(
                first(session.events.pipe(ops.of_type(ev.ConversationItemRetrieved)))
            )
            await session.conversation.item.retrieve(item_id=item_id)
            item = (await asyncio.wait_for(retrieved, 30)).item
            mic.dispose()
            await barge.aclose()

    # truncated at the heard position: what the device played, not what had arrived
    assert event.item_id == item_id and event.content_index == 0
    assert stopped_at is not None and event.audio_end_ms == int(stopped_at)
    assert final_position == pytest.approx(stopped_at, abs=1)
    assert 500 <= event.audio_end_ms < received_then
    # the server keeps the transcript the user heard, and the device really played that much
    transcript = item.content[0].transcript
    assert transcript == spoken_prefix(REPLY, event.audio_end_ms)
    # the device played exactly the characters the server kept (a character whose tone was
    # cut by the interruption is in neither; one whose tone ended just before the cut may be
    # heard and, its pause not yet over, not kept)
    played = heard_characters(b"".join(heard))
    kept = "".join(transcript.lower().split())
    assert played in (kept, kept + REPLY.lower().replace(" ", "")[len(kept) : len(kept) + 1])
