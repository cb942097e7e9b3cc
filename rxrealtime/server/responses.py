"""One response, streamed as the live service streams it.

For each planned output the order of events is::

    response.created
    response.output_item.added, conversation.item.added*
    message:  response.content_part.added,
              (response.output_text.delta | response.output_audio_transcript.delta
               + response.output_audio.delta)...,
              response.output_text.done | (response.output_audio.done
               + response.output_audio_transcript.done),
              response.content_part.done
    call:     response.function_call_arguments.delta..., response.function_call_arguments.done
    response.output_item.done, conversation.item.done*
    response.done

(* not for out-of-band responses, ``conversation: "none"``). ``rate_limits.updated`` follows
``response.done``; the connection sends it. Text streams one word per delta; audio streams one
delta of at most 200 ms per word, each after the word's transcript delta, encoded in the
response's ``audio.output.format`` (PCM16 24 kHz, or G.711 µ-law / A-law 8 kHz: see
:mod:`~rxrealtime.server.g711`). Stored assistant audio stays PCM16 24 kHz whatever the format.

Items carry ``"object": "realtime.item"``. Several planned outputs (parallel tool calls) stream
one after the other in the same response, each with its own ``output_index``.

Conversation state while streaming: from its first audio delta an assistant audio message holds,
in the conversation, an ``output_audio`` part with the transcript and audio sent so far, so the
client may truncate it while it streams (``conversation.item.truncate``). A truncated item stays
cut: the response streams on (the live service does not stop a response on a truncate; the client
cancels it with ``response.cancel`` if it wants), its deltas still reach the client, its
``.done`` events, ``response.output_item.done`` and ``response.done`` report what was generated,
while ``conversation.item.done`` (like ``conversation.item.retrieve`` and the input of later
responses) reports the item as truncated.

Cancellation: when the connection sets :attr:`ResponseStream.cancel_reason` and cancels the
task, the item being streamed is closed (its ``.done`` events, status ``incomplete``) and
``response.done`` reports ``cancelled`` with that reason. Any other cancellation propagates.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from rxrealtime.server.audio import BYTES_PER_MS, encode_text
from rxrealtime.server.conversation import Conversation, StoredItem
from rxrealtime.server.g711 import codec_for
from rxrealtime.server.ids import IdFactory
from rxrealtime.server.model import Message, Model, PlannedOutput, ResponseRequest, ToolCall

__all__ = ["Pacing", "ResponseConfig", "ResponseStream", "pieces", "text_tokens"]

_CHUNK_BYTES = 200 * BYTES_PER_MS  # of PCM16 24 kHz, before encoding: 200 ms in every format
_PIECES = re.compile(r"\s*\S+\s*|\s+")

Emit = Callable[[str, dict[str, Any]], None]


def pieces(text: str) -> list[str]:
    """Split ``text`` into the deltas the server streams: words with their surrounding spaces,
    concatenating back to ``text``."""
    return _PIECES.findall(text)


def text_tokens(text: str) -> int:
    """The token estimate the server uses for text: one token per 4 characters, rounded up."""
    return (len(text) + 3) // 4


def _audio_tokens_in(ms: float) -> int:
    return int(-(-ms // 100))  # 10 tokens per second of input audio


def _audio_tokens_out(ms: float) -> int:
    return int(-(-ms // 50))  # 20 tokens per second of output audio


@attrs.frozen
class Pacing:
    """How fast a response streams: audio in real time or as fast as possible, and a pause
    between text deltas (seconds)."""

    realtime_audio: bool = True
    text_delta_interval: float = 0.0


@attrs.frozen
class ResponseConfig:
    """The effective settings of one response (session defaults overridden by ``response``)."""

    output_modalities: tuple[str, ...]
    instructions: str
    tools: tuple[Mapping[str, Any], ...]
    tool_choice: str | Mapping[str, Any]
    max_output_tokens: int | str
    metadata: Mapping[str, str] | None
    audio_output: Mapping[str, Any]
    """``format`` (checked: a supported format object), ``voice``."""
    in_conversation: bool
    items: tuple[StoredItem, ...]
    parallel_tool_calls: bool = True


@attrs.define
class _Open:
    item: dict[str, Any]
    output_index: int
    stored: StoredItem | None
    audio: bool
    text: str = ""


class ResponseStream:
    """Streams one response; run :meth:`run` as a task (one active per connection)."""

    def __init__(
        self,
        *,
        response_id: str,
        config: ResponseConfig,
        model: Model,
        conversation: Conversation,
        ids: IdFactory,
        emit: Emit,
        pacing: Pacing,
        cached_tokens: int = 0,
    ) -> None:
        self.id = response_id
        self.config = config
        self.cancel_reason: str | None = None
        """Set before cancelling the task: ``client_cancelled`` or ``turn_detected``."""
        self.usage: dict[str, Any] | None = None
        self._model = model
        self._conversation = conversation
        self._ids = ids
        self._emit = emit
        self._pacing = pacing
        self._cached_tokens = cached_tokens
        self._codec = codec_for(config.audio_output.get("format"))
        self._output: list[dict[str, Any]] = []
        self._open: _Open | None = None
        self._audio_ms_out = 0.0
        self._clock_start: float | None = None
        self._truncated = False

    @property
    def audio_sent(self) -> bool:
        """Whether this response has sent any audio (the session's voice is then fixed)."""
        return self._audio_ms_out > 0

    def resource(
        self, status: str, status_details: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The ``response`` object of ``response.created`` / ``response.done``."""
        config = self.config
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": dict(status_details) if status_details is not None else None,
            "output": copy.deepcopy(self._output),
            "conversation_id": self._conversation.id if config.in_conversation else None,
            "output_modalities": list(config.output_modalities),
            "max_output_tokens": config.max_output_tokens,
            "audio": {"output": _resource_audio(config.audio_output)},
            "usage": self.usage,
            "metadata": dict(config.metadata) if config.metadata is not None else None,
        }

    async def run(self) -> dict[str, Any]:
        """Stream the whole response and return the final ``response`` object (also sent in
        ``response.done``)."""
        self._emit("response.created", {"response": self.resource("in_progress")})
        status: str = "completed"
        details: dict[str, Any] | None = None
        try:
            plan = await self._model.respond(self._request())
            for output in self._limit(plan):
                await self._stream(output)
            if self._truncated:
                status, details = (
                    "incomplete",
                    {"type": "incomplete", "reason": "max_output_tokens"},
                )
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self.cancel_reason is None or task is None:
                raise
            task.uncancel()
            self._close("incomplete")
            status, details = "cancelled", {"type": "cancelled", "reason": self.cancel_reason}
        except Exception as exc:  # a model bug fails the response, not the connection
            self._close("incomplete")
            status = "failed"
            details = {
                "type": "failed",
                "error": {"type": "server_error", "code": "model_error", "message": str(exc)},
            }
        self.usage = self._usage()
        final = self.resource(status, details)
        self._emit("response.done", {"response": final})
        return final

    def _request(self) -> ResponseRequest:
        config = self.config
        return ResponseRequest(
            items=tuple(item.snapshot() for item in config.items),
            instructions=config.instructions,
            tools=config.tools,
            tool_choice=config.tool_choice,
            output_modalities=config.output_modalities,
            metadata=config.metadata,
            parallel_tool_calls=config.parallel_tool_calls,
            input_audio={
                item.id: bytes(item.audio)
                for item in config.items
                if item.audio and item.wire.get("role") == "user"
            },
        )

    def _limit(self, plan: Sequence[PlannedOutput]) -> list[PlannedOutput]:
        limit = self.config.max_output_tokens
        if not isinstance(limit, int):
            return list(plan)
        kept: list[PlannedOutput] = []
        budget = limit
        for output in plan:
            text = output.text if isinstance(output, Message) else output.arguments
            if text_tokens(text) <= budget:
                kept.append(output)
                budget -= text_tokens(text)
                continue
            self._truncated = True
            if isinstance(output, Message) and budget > 0:
                kept.append(Message(output.text[: budget * 4]))
            break
        return kept

    def _base(self, output_index: int) -> dict[str, Any]:
        return {"response_id": self.id, "output_index": output_index}

    def _begin(self, item: dict[str, Any], audio: bool) -> _Open:
        output_index = len(self._output)
        self._emit("response.output_item.added", {**self._base(output_index), "item": item})
        stored: StoredItem | None = None
        if self.config.in_conversation:
            stored = StoredItem(copy.deepcopy(item))
            previous = self._conversation.add(stored)
            self._emit("conversation.item.added", {"previous_item_id": previous, "item": item})
        self._open = _Open(item, output_index, stored, audio)
        return self._open

    async def _stream(self, output: PlannedOutput) -> None:
        if isinstance(output, ToolCall):
            await self._stream_call(output)
        else:
            await self._stream_message(output.text)

    async def _stream_message(self, text: str) -> None:
        audio = "audio" in self.config.output_modalities
        item = {
            "id": self._ids.item(),
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        current = self._begin(item, audio)
        ids = {**self._base(current.output_index), "item_id": item["id"], "content_index": 0}
        part = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        self._emit("response.content_part.added", {**ids, "part": part})
        for piece in pieces(text):
            if not audio:
                await self._pause(self._pacing.text_delta_interval)
                self._emit("response.output_text.delta", {**ids, "delta": piece})
                current.text += piece
                continue
            self._emit("response.output_audio_transcript.delta", {**ids, "delta": piece})
            current.text += piece
            pcm = encode_text(piece)
            for offset in range(0, len(pcm), _CHUNK_BYTES):
                chunk = pcm[offset : offset + _CHUNK_BYTES]
                await self._pace_audio()
                delta = _b64(self._codec.encode(chunk))
                self._emit("response.output_audio.delta", {**ids, "delta": delta})
                self._audio_ms_out += len(chunk) / BYTES_PER_MS
                if current.stored is not None:
                    _store_audio(current.stored, chunk, current.text)
        self._close("completed")

    async def _stream_call(self, call: ToolCall) -> None:
        item = {
            "id": self._ids.item(),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": call.name,
            "call_id": self._ids.call(),
            "arguments": "",
        }
        current = self._begin(item, audio=False)
        for piece in pieces(call.arguments) or [""]:
            await self._pause(self._pacing.text_delta_interval)
            self._emit(
                "response.function_call_arguments.delta",
                {
                    **self._base(current.output_index),
                    "item_id": item["id"],
                    "call_id": item["call_id"],
                    "delta": piece,
                },
            )
            current.text += piece
        self._close("completed")

    def _close(self, status: str) -> None:
        """Finish the item being streamed (if any) with its ``.done`` events."""
        current, self._open = self._open, None
        if current is None:
            return
        item = dict(current.item, status=status)
        base = self._base(current.output_index)
        if item["type"] == "function_call":
            item["arguments"] = current.text
            self._emit(
                "response.function_call_arguments.done",
                {
                    **base,
                    "item_id": item["id"],
                    "call_id": item["call_id"],
                    "name": item["name"],
                    "arguments": current.text,
                },
            )
        else:
            ids = {**base, "item_id": item["id"], "content_index": 0}
            if current.audio:
                self._emit("response.output_audio.done", ids)
                self._emit(
                    "response.output_audio_transcript.done", {**ids, "transcript": current.text}
                )
                part = {"type": "audio", "transcript": current.text}
                item["content"] = [{"type": "output_audio", "transcript": current.text}]
            else:
                self._emit("response.output_text.done", {**ids, "text": current.text})
                part = {"type": "text", "text": current.text}
                item["content"] = [{"type": "output_text", "text": current.text}]
            self._emit("response.content_part.done", {**ids, "part": part})
        self._emit("response.output_item.done", {**base, "item": item})
        self._output.append(item)
        stored = current.stored
        if stored is not None:
            if stored.truncated:  # keep the cut content; take the final status
                stored.wire = {**copy.deepcopy(item), "content": stored.wire.get("content", [])}
            else:
                stored.wire = copy.deepcopy(item)
            previous = self._previous_id(stored)
            self._emit(
                "conversation.item.done", {"previous_item_id": previous, "item": stored.snapshot()}
            )

    def _previous_id(self, stored: StoredItem) -> str | None:
        items = self._conversation.items()
        if stored not in items:
            return None
        index = items.index(stored)
        return items[index - 1].id if index > 0 else None

    async def _pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds if seconds > 0 else 0)

    async def _pace_audio(self) -> None:
        """Before an audio delta: in real time, wait until the audio sent so far has played."""
        if not self._pacing.realtime_audio:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        if self._clock_start is None:
            self._clock_start = loop.time()
        delay = self._clock_start + self._audio_ms_out / 1000 - loop.time()
        await asyncio.sleep(max(delay, 0))

    def _usage(self) -> dict[str, Any]:
        config = self.config
        text_in = text_tokens(config.instructions) + sum(
            text_tokens(str(tool)) for tool in config.tools
        )
        audio_in = 0
        for stored in config.items:
            item = stored.wire
            text_in += 4
            for part in item.get("content") or ():
                text_in += text_tokens(str(part.get("text") or ""))
                if part.get("type") == "input_audio":
                    audio_in += _audio_tokens_in(len(stored.audio) / BYTES_PER_MS)
                elif part.get("type") == "output_audio":
                    audio_in += _audio_tokens_out(stored.audio_ms)
                    text_in += text_tokens(str(part.get("transcript") or ""))
            for key in ("name", "arguments", "output"):
                text_in += text_tokens(str(item.get(key) or ""))
        text_out = 0
        for item in self._output:
            for part in item.get("content") or ():
                text_out += text_tokens(str(part.get("text") or part.get("transcript") or ""))
            text_out += text_tokens(str(item.get("arguments") or ""))
        audio_out = _audio_tokens_out(self._audio_ms_out)
        input_tokens = text_in + audio_in
        cached = min(self._cached_tokens, input_tokens) // 64 * 64
        cached_text = min(cached, text_in)
        return {
            "total_tokens": input_tokens + text_out + audio_out,
            "input_tokens": input_tokens,
            "output_tokens": text_out + audio_out,
            "input_token_details": {
                "text_tokens": text_in,
                "audio_tokens": audio_in,
                "image_tokens": 0,
                "cached_tokens": cached,
                "cached_tokens_details": {
                    "text_tokens": cached_text,
                    "audio_tokens": cached - cached_text,
                    "image_tokens": 0,
                },
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }


def _resource_audio(audio_output: Mapping[str, Any]) -> dict[str, Any]:
    """``audio.output`` of the response resource: its ``voice`` is a name (a custom voice
    ``{"id": …}`` is reported by its id: the GA ``RealtimeResponse`` types only names)."""
    output = copy.deepcopy(dict(audio_output))
    voice = output.get("voice")
    if isinstance(voice, Mapping):
        output["voice"] = voice.get("id")
    return output


def _store_audio(stored: StoredItem, chunk: bytes, transcript: str) -> None:
    """Keep a streamed audio chunk in the conversation item (unless the client truncated it)."""
    if stored.truncated:
        return
    stored.audio += chunk
    stored.audio_ms = int(len(stored.audio) / BYTES_PER_MS)
    stored.wire["content"] = [{"type": "output_audio", "transcript": transcript}]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
