"""Input audio transcription events for one committed or created user audio item.

For an item with audio, when the session's ``audio.input.transcription`` is set, the model's
transcript streams as ``conversation.item.input_audio_transcription.delta`` events (one per
word) and ends with ``.completed`` (with token usage); when the session's ``include`` holds
``item.input_audio_transcription.logprobs``, every delta and the completed event carry
``logprobs`` (one entry per word: the tone code is read exactly, so each ``logprob`` is 0.0).
A model that raises gives ``.failed`` with the error, and the item keeps no transcript.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from rxrealtime.server.audio import BYTES_PER_MS
from rxrealtime.server.conversation import StoredItem
from rxrealtime.server.model import Model
from rxrealtime.server.responses import pieces, text_tokens

__all__ = ["LOGPROBS", "transcribe"]

LOGPROBS = "item.input_audio_transcription.logprobs"
"""The ``include`` value asking for transcription log probabilities."""

_log = logging.getLogger("rxrealtime.server")


def _logprob(token: str) -> dict[str, Any]:
    return {"token": token, "bytes": list(token.encode("utf-8")), "logprob": 0.0}


async def transcribe(
    model: Model,
    stored: StoredItem,
    emit: Callable[[str, Mapping[str, Any]], None],
    *,
    logprobs: bool,
) -> None:
    """Transcribe ``stored``'s audio and emit the events (see the module docstring); the
    transcript is written into the item's ``input_audio`` part."""
    ids = {"item_id": stored.id, "content_index": 0}
    try:
        transcript = await model.transcribe(bytes(stored.audio))
    except Exception as exc:
        _log.exception("transcription failed")
        error = {"type": "server_error", "code": "transcription_failed", "message": str(exc)}
        emit("conversation.item.input_audio_transcription.failed", {**ids, "error": error})
        return
    words = pieces(transcript)
    for piece in words:
        extra = {"logprobs": [_logprob(piece)]} if logprobs else {}
        emit("conversation.item.input_audio_transcription.delta", {**ids, "delta": piece, **extra})
    audio_tokens = -(-len(stored.audio) // (100 * BYTES_PER_MS))
    output_tokens = text_tokens(transcript)
    extra = {"logprobs": [_logprob(piece) for piece in words]} if logprobs else {}
    emit(
        "conversation.item.input_audio_transcription.completed",
        {
            **ids,
            "transcript": transcript,
            "usage": {
                "type": "tokens",
                "total_tokens": audio_tokens + output_tokens,
                "input_tokens": audio_tokens,
                "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
                "output_tokens": output_tokens,
            },
            **extra,
        },
    )
    for part in stored.wire.get("content") or ():
        if part.get("type") == "input_audio" and part.get("transcript") is None:
            part["transcript"] = transcript
