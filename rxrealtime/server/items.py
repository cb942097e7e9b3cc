"""Conversation item rules: look-ups, truncation and retrieval, with the live service's errors.

Truncation (``conversation.item.truncate``) follows the live service:

* only assistant messages with model audio can be truncated — an item that has no audio yet
  (a response that has not sent its first audio delta) or no audio at all gets
  ``unsupported_content_type`` "Only model output audio messages can be truncated";
* ``content_index`` must name that audio part (``invalid_value``);
* ``audio_end_ms`` may not pass the audio the client was sent so far — "Audio content of N ms is
  already shorter than M ms" (``invalid_value``), N being what the item holds now (the audio sent,
  or an earlier truncation point);
* it works on an item whose response is still streaming (frameworks interrupt that way): the
  audio and transcript are cut at ``audio_end_ms`` and stay cut (see
  :mod:`~rxrealtime.server.responses`).

The transcript kept is the part of it the tone-code voice had spoken by ``audio_end_ms`` (the
live service deletes the unheard text too, so the model does not believe it said it).
"""

from __future__ import annotations

import base64
from typing import Any

from rxrealtime.server import errors
from rxrealtime.server.audio import BYTES_PER_MS, char_duration_ms
from rxrealtime.server.conversation import Conversation, StoredItem
from rxrealtime.server.g711 import Codec

__all__ = ["find", "retrieved", "spoken_prefix", "truncate"]

_GERUNDS = {"delete": "deleting", "retrieve": "retrieving", "truncate": "truncating"}


def find(conversation: Conversation, item_id: str, verb: str) -> StoredItem:
    """The item ``item_id`` or the live ``item_<verb>_invalid_item_id`` error."""
    stored = conversation.get(item_id)
    if stored is None:
        raise errors.ClientError(
            f"Error {_GERUNDS[verb]} item: the item with id '{item_id}' does not exist.",
            code=f"item_{verb}_invalid_item_id",
            param="item_id",
        )
    return stored


def spoken_prefix(transcript: str, end_ms: int) -> str:
    """The part of ``transcript`` the tone-code voice has finished speaking by ``end_ms``
    (a run of whitespace is one pause, as :func:`~rxrealtime.server.audio.encode_text` speaks
    it)."""
    elapsed = 0
    previous_space = False
    for index, char in enumerate(transcript):
        space = char.isspace()
        if not (space and previous_space):
            elapsed += char_duration_ms(char)
        previous_space = space
        if elapsed > end_ms:
            return transcript[:index]
    return transcript


def truncate(stored: StoredItem, content_index: int, end_ms: int) -> None:
    """Cut ``stored``'s audio part ``content_index`` at ``end_ms`` (see the module docstring);
    raises :class:`~rxrealtime.server.errors.ClientError` and changes nothing when refused."""
    content = stored.wire.get("content") or []
    if stored.wire.get("role") != "assistant" or not any(
        part.get("type") == "output_audio" for part in content
    ):
        raise errors.ClientError(
            "Only model output audio messages can be truncated",
            code="unsupported_content_type",
        )
    if content_index >= len(content) or content[content_index].get("type") != "output_audio":
        raise errors.invalid_value("content_index", content_index)
    if end_ms > stored.audio_ms:
        raise errors.ClientError(
            f"Audio content of {stored.audio_ms}ms is already shorter than {end_ms}ms",
            code="invalid_value",
            param="audio_end_ms",
        )
    del stored.audio[end_ms * BYTES_PER_MS :]
    stored.audio_ms = end_ms
    stored.truncated = True
    part = content[content_index]
    part["transcript"] = spoken_prefix(str(part.get("transcript") or ""), end_ms)


def retrieved(stored: StoredItem, input_codec: Codec, output_codec: Codec) -> dict[str, Any]:
    """The item as ``conversation.item.retrieved`` carries it: audio parts hold their audio,
    in the session's current input (user) or output (assistant) format."""
    item = stored.snapshot()
    if item.get("type") in ("message", "function_call", "function_call_output"):
        item = {"object": "realtime.item", **item}
    for part in item.get("content") or ():
        kind = part.get("type")
        if kind in ("input_audio", "output_audio") and stored.audio:
            codec = input_codec if kind == "input_audio" else output_codec
            part["audio"] = base64.b64encode(codec.encode(stored.audio)).decode("ascii")
    return item
