"""The audio operators pick up the output format a real session announces (embedded server).

The embedded server encodes its voice in the announced format, so the chunks' durations are
checked against the same answer in PCM16, and the µ-law bytes are decoded back to the words.
"""

from __future__ import annotations

from typing import Any

import pytest

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.scheduling import first
from rxrealtime.server import decode_tones, serve
from rxrealtime.session import connect

pytestmark = pytest.mark.timeout(30)


def user_text(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


async def test_operators_follow_a_session_update_to_pcmu() -> None:
    async with (
        serve(realtime_audio=False) as server,
        connect(base_url=server.base_url, api_key="test-key") as session,
    ):
        chunks: list[ops.AudioChunk] = []
        frames: list[ops.AudioChunk] = []
        problems: list[Any] = []
        session.events.pipe(ops.audio_chunks()).subscribe(chunks.append)
        session.events.pipe(ops.rechunk(20)).subscribe(frames.append)
        session.events.pipe(ops.errors()).subscribe(problems.append)

        async def answer(text: str) -> str | None:
            finished = first(session.events.pipe(ops.of_type(ev.ResponseDone)))
            await session.send(user_text(text))
            await session.send(ev.ResponseCreate())
            return (await finished).response.id  # type: ignore[union-attr]

        before = await answer("hello")
        updated = first(session.events.pipe(ops.of_type(ev.SessionUpdated)))
        await session.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"output": {"format": {"type": "audio/pcmu"}}},
                },
            }
        )
        session_format = (await updated).session.audio.output.format  # type: ignore[union-attr]
        assert session_format == ev.AudioPCMU()  # the server echoes the announced format
        after = await answer("hello")

        assert problems == []
        by_response = {rid: [c for c in chunks if c.response_id == rid] for rid in (before, after)}
        assert by_response[before] and by_response[after]
        assert {c.audio_format for c in by_response[before]} == {ops.PCM16}
        assert {c.audio_format for c in by_response[after]} == {ops.PCMU}
        offset = 0.0
        for c in by_response[after]:  # offsets and durations counted in 8 kHz bytes
            assert (c.offset_ms, c.duration_ms) == (offset, len(c.data) / 8)
            offset = c.end_ms

        sizes = {
            rid: [len(f.data) for f in frames if f.response_id == rid] for rid in (before, after)
        }
        assert set(sizes[before][:-1]) == {960}  # 20 ms of PCM16
        assert set(sizes[after][:-1]) == {160}  # 20 ms of µ-law
        assert {f.format for f in frames if f.response_id == after} == {"audio/pcmu"}

        def duration(rid: str | None) -> float:
            return sum(c.duration_ms for c in by_response[rid])

        assert duration(after) == pytest.approx(duration(before))  # same words, same length
        spoken = ops.PCMU.decode(b"".join(c.data for c in by_response[after]))
        assert decode_tones(spoken) == "hello! how can i help you today?"  # tones have no case
