"""``connect(intent="transcription")`` opens a transcription session (no model in the URL)."""

from __future__ import annotations

from typing import Any

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.scheduling import first
from rxrealtime.server import encode_text


async def test_a_transcription_session_transcribes_committed_audio(server: Any) -> None:
    async with rr.connect(base_url=server.base_url, intent="transcription") as session:
        created = await first(session.events.pipe(ops.of_type(ev.SessionCreated)))
        assert isinstance(created.session, ev.TranscriptionSessionConfig)
        assert created.session.type == "transcription"

        updated = first(session.events.pipe(ops.of_type(ev.SessionUpdated)))
        await session.session.update(
            session={
                "type": "transcription",
                "audio": {
                    "input": {
                        "transcription": {"model": "gpt-4o-transcribe"},
                        "turn_detection": None,
                    }
                },
            }
        )
        await updated
        transcript = first(session.events.pipe(ops.transcripts()))
        await session.input_audio_buffer.append(encode_text("what time is it"))
        await session.input_audio_buffer.commit()
        assert (await transcript).text == "what time is it"
        assert session.statistics().error_events == 0
