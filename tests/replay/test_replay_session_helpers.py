"""The typed send helpers work on a ReplaySession as on a live session."""

from __future__ import annotations

import base64
from pathlib import Path

from rxrealtime.replay import ReplaySession


async def test_typed_helpers_record_what_they_would_send(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text('{"type": "input_audio_buffer.cleared", "event_id": "e1"}\n')
    session = ReplaySession(path)
    await session.input_audio_buffer.append(b"\x01\x00\x02\x00", event_id="a1")
    await session.input_audio_buffer.commit()
    await session.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    )
    await session.response.create()
    assert [e["type"] for e in session.sent] == [
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "conversation.item.create",
        "response.create",
    ]
    first = session.sent[0]
    assert first == {
        "type": "input_audio_buffer.append",
        "audio": base64.b64encode(b"\x01\x00\x02\x00").decode(),
        "event_id": "a1",
    }
    await session.close()
