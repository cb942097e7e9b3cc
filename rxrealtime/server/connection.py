"""One Realtime session over one WebSocket: client events in, server events out.

Guarantees:

* Client events are handled one at a time, in arrival order; a handler never waits on a
  response, so ``response.cancel`` is seen while a response streams.
* Server events leave in the order they were emitted (one :class:`~.faults.Outbox` per
  connection). Every bad client event gets exactly one ``error`` event carrying its
  ``event_id``, and the session stays open.
* When the connection ends (client close, fault, server shutdown) the active response and every
  background task of the connection (the expiry timer included) are cancelled and awaited before
  :meth:`Connection.run` returns: nothing leaks.
* With ``session_limit`` set, the session expires that many seconds after the connection was
  accepted, like the live service: one ``error`` event (``session_expired``, "Your session hit
  the maximum duration of 60 minutes."), written after every event emitted before it, then a
  close with 1001 (going away) and the same message as reason. Nothing is sent after the error.

Audio arrives and leaves in the session's formats (``audio.input.format``,
``audio.output.format``; see :mod:`~.g711`) but is kept as PCM16 24 kHz: appended input is
decoded on arrival (one stream decoder, restarted when the input format changes), so the VAD,
the buffer's durations, transcription and truncation work the same in every format. Audio in
items the client creates is read in the input format; ``conversation.item.retrieve`` returns
audio in the session's current input (``input_audio``) or output (``output_audio``) format.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import attrs
import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from rxrealtime.server import errors
from rxrealtime.server.audio import BYTES_PER_MS, EnergyVad, VadEvent, char_duration_ms
from rxrealtime.server.conversation import Conversation, StoredItem
from rxrealtime.server.faults import Faults, Outbox
from rxrealtime.server.g711 import Codec, StreamDecoder, codec_for
from rxrealtime.server.ids import IdFactory
from rxrealtime.server.model import Model
from rxrealtime.server.responses import (
    Pacing,
    ResponseConfig,
    ResponseStream,
    pieces,
    text_tokens,
)
from rxrealtime.server.session_config import apply_update
from rxrealtime.server.validation import (
    check_event,
    check_response_params,
    decode_audio,
    normalize_item,
)

__all__ = ["Connection", "ConnectionOptions"]

_SEMANTIC_SILENCE_MS = {"low": 800, "medium": 500, "high": 250, "auto": 500}
_SESSION_TTL_S = 3600


@attrs.frozen
class ConnectionOptions:
    """Per-server settings every connection shares."""

    model: Model
    pacing: Pacing
    faults: Faults | None = None
    rate_limits_delay: float = 0.0
    session_limit: float | None = None
    """Seconds from connect until the session expires (``None``: never)."""


@attrs.define
class _Active:
    stream: ResponseStream
    task: asyncio.Task[None]


class Connection:
    """The state and event handlers of one session (see the module docstring)."""

    def __init__(
        self,
        websocket: ServerConnection,
        *,
        session: dict[str, Any],
        options: ConnectionOptions,
        ids: IdFactory,
    ) -> None:
        self._ws = websocket
        self._options = options
        self._connected_at = asyncio.get_running_loop().time()
        self._ids = ids
        self.session = session
        self._outbox = Outbox(websocket, options.faults)
        self._conversation = Conversation(ids.conversation())
        self._buffer = bytearray()
        self._stream_bytes = 0
        self._buffer_start_ms = 0
        self._vad: EnergyVad | None = None
        self._vad_key: tuple[Any, ...] | None = None
        self._speech_item: str | None = None
        self._decoder: StreamDecoder = self._codec("input").decoder()
        self._active: _Active | None = None
        self._last_input_tokens = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._respond_when_idle = False
        self._handlers: dict[str, Callable[[Mapping[str, Any], str | None], None]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._audio_append,
            "input_audio_buffer.commit": self._audio_commit,
            "input_audio_buffer.clear": self._audio_clear,
            "output_audio_buffer.clear": self._output_audio_clear,
            "conversation.item.create": self._item_create,
            "conversation.item.delete": self._item_delete,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.truncate": self._item_truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }
        self._configure_vad()

    # -- plumbing ---------------------------------------------------------------------------

    def emit(self, kind: str, fields: Mapping[str, Any] | None = None) -> None:
        """Queue a server event ``{"type": kind, "event_id": ..., **fields}``."""
        self._outbox.put({"type": kind, "event_id": self._ids.event(), **(fields or {})})

    def _error(self, error: errors.ClientError, event_id: str | None) -> None:
        self.emit("error", {"error": error.payload(event_id)})

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a background job of this connection (never once the connection is closing)."""
        if self._closing:
            coroutine.close()
            return
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        """Serve the session until the connection closes; see the module docstring."""
        writer = asyncio.get_running_loop().create_task(self._outbox.run())
        faults = self._options.faults or Faults()
        try:
            if faults.drop_after == 0:
                self._outbox.drop()
                return
            if not faults.skip_session_created:
                self.emit("session.created", {"session": self.session})
            if self._options.session_limit is not None:
                self._spawn(self._expire(self._options.session_limit))
            async for message in self._ws:
                self.handle(message)
        except ConnectionClosed:
            pass
        finally:
            self._closing = True
            active = self._active
            if active is not None:
                active.task.cancel()
                await asyncio.gather(active.task, return_exceptions=True)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._outbox.stop()
            await writer

    async def _expire(self, limit: float) -> None:
        """At ``limit`` seconds after connect: ``session_expired``, then close 1001."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self._connected_at + limit - loop.time()))
        message = expiry_message(limit)
        self._error(errors.ClientError(message, code="session_expired"), None)
        self._outbox.close(1001, message)

    def handle(self, message: str | bytes) -> None:
        """Handle one client frame (never raises for bad input)."""
        if isinstance(message, bytes):
            self._error(
                errors.ClientError(
                    "Binary frames are not supported; send client events as JSON text frames.",
                    code="invalid_event",
                ),
                None,
            )
            return
        try:
            data = orjson.loads(message)
        except orjson.JSONDecodeError as exc:
            self._error(
                errors.ClientError(
                    f"We could not parse the JSON body of your request. ({exc})",
                    code="invalid_json",
                ),
                None,
            )
            return
        if not isinstance(data, dict):
            self._error(
                errors.ClientError("Expected the event to be a JSON object.", code="invalid_event"),
                None,
            )
            return
        event_id = data.get("event_id") if isinstance(data.get("event_id"), str) else None
        try:
            kind = check_event(data)
            self._handlers[kind](data, event_id)
        except errors.ClientError as error:
            self._error(error, event_id)

    # -- session ----------------------------------------------------------------------------

    def _session_update(self, event: Mapping[str, Any], event_id: str | None) -> None:
        self.session = apply_update(self.session, event["session"])
        self._configure_vad()
        if self._codec("input") != self._decoder.codec:
            self._decoder = self._codec("input").decoder()
        self.emit("session.updated", {"session": self.session})

    def _configure_vad(self) -> None:
        turn = self.session["audio"]["input"].get("turn_detection")
        if not isinstance(turn, Mapping):
            self._vad = self._vad_key = None
            self._speech_item = None
            return
        if turn.get("type") == "semantic_vad":
            threshold, padding = 0.5, 300
            silence = _SEMANTIC_SILENCE_MS.get(str(turn.get("eagerness") or "auto"), 500)
        else:
            threshold = float(turn.get("threshold") or 0.5)
            padding = int(turn.get("prefix_padding_ms") or 300)
            silence = int(turn.get("silence_duration_ms") or 200)
        key = (threshold, padding, silence)
        if key != self._vad_key:
            self._vad_key = key
            self._vad = EnergyVad(
                threshold, padding, silence, position_ms=self._stream_bytes // BYTES_PER_MS
            )
            self._speech_item = None

    @property
    def _is_transcription(self) -> bool:
        return bool(self.session["type"] == "transcription")

    def _codec(self, direction: str) -> Codec:
        """The session's input or output audio codec (a transcription session has no output:
        PCM16)."""
        return codec_for((self.session["audio"].get(direction) or {}).get("format"))

    # -- input audio ------------------------------------------------------------------------

    def _audio_append(self, event: Mapping[str, Any], event_id: str | None) -> None:
        pcm = self._decoder.feed(decode_audio(event["audio"], "audio"))
        self._buffer += pcm
        self._stream_bytes += len(pcm)
        if self._vad is not None:
            for boundary in self._vad.feed(pcm):
                self._on_vad(boundary)

    def _on_vad(self, boundary: VadEvent) -> None:
        if boundary.kind == "speech_started":
            self._speech_item = self._ids.item()
            self.emit(
                "input_audio_buffer.speech_started",
                {"audio_start_ms": boundary.ms, "item_id": self._speech_item},
            )
            turn = self.session["audio"]["input"]["turn_detection"]
            if self._active is not None and turn.get("interrupt_response", True):
                self._cancel_active("turn_detected")
            return
        item_id = self._speech_item or self._ids.item()
        self._speech_item = None
        self.emit(
            "input_audio_buffer.speech_stopped", {"audio_end_ms": boundary.ms, "item_id": item_id}
        )
        cut = max(0, (boundary.ms - self._buffer_start_ms) * BYTES_PER_MS)
        pcm = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        self._buffer_start_ms = boundary.ms
        self._commit(pcm, item_id)
        turn = self.session["audio"]["input"]["turn_detection"]
        if turn.get("create_response", True) and not self._is_transcription:
            if self._active is None:
                self._start_response({}, None)
            elif self._active.stream.cancel_reason is not None:
                self._respond_when_idle = True  # after the interrupted response has ended

    def _audio_commit(self, event: Mapping[str, Any], event_id: str | None) -> None:
        ms = len(self._buffer) / BYTES_PER_MS
        if ms < 100:
            raise errors.ClientError(
                "Error committing input audio buffer: buffer too small. Expected at least 100ms "
                f"of audio, but buffer only has {ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        pcm = bytes(self._buffer)
        self._reset_buffer()
        item_id = self._speech_item or self._ids.item()
        self._speech_item = None
        self._commit(pcm, item_id)

    def _audio_clear(self, event: Mapping[str, Any], event_id: str | None) -> None:
        self._reset_buffer()
        self._speech_item = None
        self.emit("input_audio_buffer.cleared")

    def _reset_buffer(self) -> None:
        self._buffer.clear()
        self._buffer_start_ms = self._stream_bytes // BYTES_PER_MS
        if self._vad is not None:
            self._vad.reset()
            self._vad.position_ms = self._buffer_start_ms

    def _commit(self, pcm: bytes, item_id: str) -> None:
        wire = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        stored = StoredItem(wire, bytearray(pcm), int(len(pcm) / BYTES_PER_MS))
        previous = self._conversation.add(stored)
        self.emit(
            "input_audio_buffer.committed", {"previous_item_id": previous, "item_id": item_id}
        )
        self.emit(
            "conversation.item.added", {"previous_item_id": previous, "item": stored.snapshot()}
        )
        self.emit(
            "conversation.item.done", {"previous_item_id": previous, "item": stored.snapshot()}
        )
        self._maybe_transcribe(stored)

    def _maybe_transcribe(self, stored: StoredItem) -> None:
        if stored.audio and self.session["audio"]["input"].get("transcription"):
            self._spawn(self._transcribe(stored))

    async def _transcribe(self, stored: StoredItem) -> None:
        """Emit ``…input_audio_transcription.delta`` (one per word) and ``.completed``."""
        transcript = await self._options.model.transcribe(bytes(stored.audio))
        ids = {"item_id": stored.id, "content_index": 0}
        for piece in pieces(transcript):
            self.emit("conversation.item.input_audio_transcription.delta", {**ids, "delta": piece})
        audio_tokens = -(-len(stored.audio) // (100 * BYTES_PER_MS))
        output_tokens = text_tokens(transcript)
        self.emit(
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
            },
        )
        for part in stored.wire.get("content") or ():
            if part.get("type") == "input_audio" and part.get("transcript") is None:
                part["transcript"] = transcript

    def _output_audio_clear(self, event: Mapping[str, Any], event_id: str | None) -> None:
        raise errors.ClientError(
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
            code="invalid_value",
            param="type",
        )

    # -- conversation items -----------------------------------------------------------------

    def _item_create(self, event: Mapping[str, Any], event_id: str | None) -> None:
        new = normalize_item(event["item"])
        audio = self._codec("input").decode(new.audio)
        wire = new.wire
        if wire["id"] is None:
            wire["id"] = self._ids.item()
        if wire["type"] == "function_call" and wire.get("call_id") is None:
            wire["call_id"] = self._ids.call()
        stored = StoredItem(wire, bytearray(audio), int(len(audio) / BYTES_PER_MS))
        previous = self._conversation.add(stored, event.get("previous_item_id"))
        self.emit(
            "conversation.item.added", {"previous_item_id": previous, "item": stored.snapshot()}
        )
        self.emit(
            "conversation.item.done", {"previous_item_id": previous, "item": stored.snapshot()}
        )
        if wire.get("role") == "user":
            self._maybe_transcribe(stored)

    def _find(self, event: Mapping[str, Any], verb: str) -> StoredItem:
        item_id = str(event["item_id"])
        stored = self._conversation.get(item_id)
        if stored is None:
            raise errors.ClientError(
                f"Error {verb}ing item: the item with id '{item_id}' does not exist.",
                code=f"item_{verb}_invalid_item_id",
                param="item_id",
            )
        return stored

    def _item_delete(self, event: Mapping[str, Any], event_id: str | None) -> None:
        stored = self._find(event, "delete")
        self._conversation.delete(stored.id)
        self.emit("conversation.item.deleted", {"item_id": stored.id})

    def _item_retrieve(self, event: Mapping[str, Any], event_id: str | None) -> None:
        stored = self._find(event, "retrieve")
        item = {"object": "realtime.item", **stored.snapshot()}
        for part in item.get("content") or ():
            kind = part.get("type")
            if kind in ("input_audio", "output_audio") and stored.audio:
                codec = self._codec("input" if kind == "input_audio" else "output")
                part["audio"] = base64.b64encode(codec.encode(stored.audio)).decode("ascii")
        self.emit("conversation.item.retrieved", {"item": item})

    def _item_truncate(self, event: Mapping[str, Any], event_id: str | None) -> None:
        stored = self._find(event, "truncate")
        content = stored.wire.get("content") or []
        index, end_ms = int(event["content_index"]), int(event["audio_end_ms"])
        if stored.wire.get("role") != "assistant":
            raise errors.ClientError(
                "Only model output audio messages can be truncated.",
                code="invalid_value",
                param="item_id",
            )
        if not 0 <= index < len(content) or content[index].get("type") != "output_audio":
            raise errors.invalid_value("content_index", index)
        if end_ms < 0:
            raise errors.invalid_value("audio_end_ms", end_ms)
        if end_ms > stored.audio_ms:
            raise errors.ClientError(
                f"Audio content of {stored.audio_ms}ms is already shorter than {end_ms}ms",
                code="invalid_value",
                param="audio_end_ms",
            )
        del stored.audio[end_ms * BYTES_PER_MS :]
        stored.audio_ms = end_ms
        content[index]["transcript"] = _spoken_prefix(
            str(content[index].get("transcript") or ""), end_ms
        )
        self.emit(
            "conversation.item.truncated",
            {"item_id": stored.id, "content_index": index, "audio_end_ms": end_ms},
        )

    # -- responses --------------------------------------------------------------------------

    def _response_create(self, event: Mapping[str, Any], event_id: str | None) -> None:
        if self._is_transcription:
            raise errors.ClientError(
                "Responses are not supported in transcription sessions.",
                code="invalid_value",
                param="type",
            )
        if self._active is not None:
            raise errors.ClientError(
                "Conversation already has an active response in progress: "
                f"{self._active.stream.id}. Wait until the response is finished before "
                "creating a new one.",
                code="conversation_already_has_active_response",
            )
        params = event.get("response") or {}
        check_response_params(params)
        self._start_response(params, event_id)

    def _input_items(self, params: Mapping[str, Any]) -> tuple[StoredItem, ...]:
        if "input" not in params:  # out-of-band or not, the conversation is the context
            return tuple(self._conversation.items())
        items: list[StoredItem] = []
        for index, raw in enumerate(params["input"]):
            path = f"response.input[{index}]"
            if not isinstance(raw, Mapping):
                raise errors.invalid_type(path, dict, raw)
            if raw.get("type") == "item_reference":
                found = self._conversation.get(str(raw.get("id")))
                if found is None:
                    raise errors.ClientError(
                        f"Item with id '{raw.get('id')}' not found.",
                        code="invalid_value",
                        param=f"{path}.id",
                    )
                items.append(found)
                continue
            new = normalize_item(raw, path)
            new.wire["id"] = new.wire["id"] or self._ids.item()
            items.append(StoredItem(new.wire, bytearray(self._codec("input").decode(new.audio))))
        return tuple(items)

    def _start_response(self, params: Mapping[str, Any], event_id: str | None) -> None:
        session = self.session
        audio_output = dict(session["audio"]["output"])
        audio_output.pop("speed", None)
        audio_output.update(((params.get("audio") or {}).get("output")) or {})
        config = ResponseConfig(
            output_modalities=tuple(
                params.get("output_modalities") or session["output_modalities"]
            ),
            instructions=str(params.get("instructions", session["instructions"])),
            tools=tuple(params.get("tools", session["tools"])),
            tool_choice=params.get("tool_choice", session["tool_choice"]),
            max_output_tokens=params.get("max_output_tokens", session["max_output_tokens"]),
            metadata=params.get("metadata"),
            audio_output=audio_output,
            in_conversation=params.get("conversation", "auto") != "none",
            items=self._input_items(params),
        )
        stream = ResponseStream(
            response_id=self._ids.response(),
            config=config,
            model=self._options.model,
            conversation=self._conversation,
            ids=self._ids,
            emit=self.emit,
            pacing=self._options.pacing,
            cached_tokens=self._last_input_tokens,
        )
        task = asyncio.get_running_loop().create_task(self._run_response(stream))
        self._active = _Active(stream, task)

    async def _run_response(self, stream: ResponseStream) -> None:
        try:
            final = await stream.run()
        finally:
            if self._active is not None and self._active.stream is stream:
                self._active = None
        usage = final["usage"] or {}
        self._last_input_tokens = int(usage.get("input_tokens", 0))
        self._spawn(self._rate_limits(int(usage.get("total_tokens", 0))))
        if self._respond_when_idle and not self._closing and self._active is None:
            self._respond_when_idle = False
            self._start_response({}, None)

    async def _rate_limits(self, tokens_used: int) -> None:
        await asyncio.sleep(self._options.rate_limits_delay)
        self.emit(
            "rate_limits.updated",
            {
                "rate_limits": [
                    {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                    {
                        "name": "tokens",
                        "limit": 40000,
                        "remaining": max(0, 40000 - tokens_used),
                        "reset_seconds": round(tokens_used * 60 / 40000, 3),
                    },
                ]
            },
        )

    def _cancel_active(self, reason: str) -> None:
        active = self._active
        if active is not None and active.stream.cancel_reason is None:
            active.stream.cancel_reason = reason
            active.task.cancel()

    def _response_cancel(self, event: Mapping[str, Any], event_id: str | None) -> None:
        active = self._active
        wanted = event.get("response_id")
        if active is None or (wanted is not None and wanted != active.stream.id):
            raise errors.ClientError(
                "Cancellation failed: no active response found.",
                code="response_cancel_not_active",
            )
        self._cancel_active("client_cancelled")


def _spoken_prefix(transcript: str, end_ms: int) -> str:
    """The part of ``transcript`` the tone-code voice has spoken after ``end_ms``."""
    elapsed = 0
    for index, char in enumerate(transcript):
        elapsed += char_duration_ms(char)
        if elapsed > end_ms:
            return transcript[:index]
    return transcript


def expires_at(session_limit: float | None = None, now: float | None = None) -> int:
    """Unix time at which a session created at ``now`` (default: now) expires: ``session_limit``
    seconds later, rounded; one hour (like the live service) when the limit is ``None``."""
    if now is None:
        now = time.time()
    if session_limit is None:
        return int(now) + _SESSION_TTL_S
    return round(now + session_limit)


def expiry_message(session_limit: float) -> str:
    """The live service's message: the limit in whole minutes, or in seconds under a minute."""
    if session_limit >= 60:
        value, unit = f"{round(session_limit / 60)}", "minute"
    else:
        value, unit = f"{session_limit:g}", "second"
    return f"Your session hit the maximum duration of {value} {unit}{'' if value == '1' else 's'}."
