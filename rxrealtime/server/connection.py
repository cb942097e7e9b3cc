"""One Realtime session over one WebSocket: client events in, server events out.

Guarantees:

* Client events are handled one at a time, in arrival order; a handler never waits on a
  response, so ``response.cancel`` is seen while a response streams.
* Server events leave in the order they were emitted (one :class:`~.faults.Outbox` per
  connection, bounded: see :mod:`~.limits`). Every bad client event gets exactly one ``error``
  event carrying its ``event_id``, and the session stays open and usable. That holds for any
  input: a handler that fails in a way nobody foresaw (a bug, or input no check anticipated)
  gives an ``error`` of type ``server_error`` instead of ending the connection, and the
  failure is logged with its traceback on the ``rxrealtime.server`` logger. Handlers check
  their input completely before changing any state, so a refused event changes nothing.
* When the connection ends (client close, fault, server shutdown) the active response and every
  background task of the connection (the expiry timer and the VAD clock included) are cancelled
  and awaited before :meth:`Connection.run` returns: nothing leaks.
* With ``session_limit`` set, the session expires that many seconds after the connection was
  accepted, like the live service: one ``error`` event (``session_expired``, "Your session hit
  the maximum duration of 60 minutes."), written after every event emitted before it, then a
  close with 1001 (going away) and the same message as reason. Nothing is sent after the error.

Audio arrives and leaves in the session's formats (``audio.input.format``,
``audio.output.format``; see :mod:`~.g711`) but is kept as PCM16 24 kHz: the input buffer and the
VAD (and the VAD's clock, ``arrival`` or ``audio``) are :class:`~.input_audio.InputAudio`'s. Audio
in items the client creates is read in the input format; ``conversation.item.retrieve`` returns
audio in the session's current input (``input_audio``) or output (``output_audio``) format.

A tool result sent with ``conversation.item.create`` never starts a response by itself (the
client sends ``response.create``, as the live service documents); only ``response.create`` and
server VAD with ``create_response`` start responses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import attrs
import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from rxrealtime.server import errors, items
from rxrealtime.server.audio import BYTES_PER_MS, VadEvent
from rxrealtime.server.conversation import Conversation, StoredItem
from rxrealtime.server.faults import Faults, Outbox
from rxrealtime.server.g711 import Codec, codec_for
from rxrealtime.server.ids import IdFactory
from rxrealtime.server.input_audio import InputAudio, VadClock
from rxrealtime.server.limits import MAX_EVENT_ID_LENGTH, OUTBOX_PAUSE_BYTES
from rxrealtime.server.model import Model
from rxrealtime.server.request_models import ITEM_REFERENCE
from rxrealtime.server.responses import Pacing, ResponseStream
from rxrealtime.server.schema import check
from rxrealtime.server.session_config import (
    apply_update,
    expires_at,
    expiry_message,
    response_config,
)
from rxrealtime.server.transcription import LOGPROBS, transcribe
from rxrealtime.server.validation import (
    check_response_params,
    decode_audio,
    normalize_item,
    parse_event,
)

__all__ = ["Connection", "ConnectionOptions", "expires_at", "expiry_message"]

_log = logging.getLogger("rxrealtime.server")


@attrs.frozen
class ConnectionOptions:
    """Per-server settings every connection shares."""

    model: Model
    pacing: Pacing
    faults: Faults | None = None
    rate_limits_delay: float = 0.0
    session_limit: float | None = None
    """Seconds from connect until the session expires (``None``: never)."""
    vad_clock: VadClock = "audio"
    """When server VAD hands out turn boundaries (see :mod:`~.input_audio`)."""


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
        self._input = InputAudio(
            self._codec("input"), clock=options.vad_clock, on_boundary=self._on_boundary
        )
        self._speech_item: str | None = None
        self._active: _Active | None = None
        self._audio_produced = False
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
        """Run a background job of this connection (never once the connection is closing); a
        job that fails is logged, never left unobserved."""
        if self._closing:
            coroutine.close()
            return
        task = asyncio.get_running_loop().create_task(self._logged(coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _logged(coroutine: Coroutine[Any, Any, None]) -> None:
        try:
            await coroutine
        except Exception:
            _log.exception("embedded server background job failed")

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
                if self._outbox.queued_bytes > OUTBOX_PAUSE_BYTES:
                    await self._outbox.drained(OUTBOX_PAUSE_BYTES)
        except ConnectionClosed:
            pass
        finally:
            self._closing = True
            active = self._active
            if active is not None:
                active.task.cancel()
                await asyncio.gather(active.task, return_exceptions=True)
            await self._input.close()
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
        """Handle one client frame; never raises (see the module docstring)."""
        event_id: str | None = None
        try:
            data = self._parse(message)
            raw_id = data.get("event_id")
            if isinstance(raw_id, str) and len(raw_id) <= MAX_EVENT_ID_LENGTH:
                event_id = raw_id
            kind, event = parse_event(data)
            self._handlers[kind](event, event_id)
        except errors.ClientError as error:
            self._error(error, event_id)
        except Exception:
            _log.exception("embedded server failed on a client event")
            self._error(errors.server_error(), event_id)

    @staticmethod
    def _parse(message: str | bytes) -> dict[str, Any]:
        """The frame as a JSON object (else the live service's error)."""
        if isinstance(message, bytes):
            raise errors.ClientError(
                "Binary frames are not supported; send client events as JSON text frames.",
                code="invalid_event",
            )
        try:
            data = orjson.loads(message)
        except orjson.JSONDecodeError as exc:
            raise errors.ClientError(
                f"We could not parse the JSON body of your request. ({exc})",
                code="invalid_json",
            ) from exc
        if not isinstance(data, dict):
            raise errors.ClientError(
                "Expected the event to be a JSON object.", code="invalid_event"
            )
        return data

    def _on_boundary(self, boundary: VadEvent) -> None:
        """A VAD boundary (maybe from the VAD clock's task): like a client event, a failure
        becomes a ``server_error`` event, never an exception."""
        try:
            self._on_vad(boundary)
        except Exception:
            _log.exception("embedded server failed on a turn boundary")
            self._error(errors.server_error(), None)

    # -- session ----------------------------------------------------------------------------

    def _session_update(self, event: Mapping[str, Any], event_id: str | None) -> None:
        active = self._active
        produced = self._audio_produced or (active is not None and active.stream.audio_sent)
        self.session = apply_update(self.session, event["session"], audio_produced=produced)
        self._configure_vad()
        self._input.set_codec(self._codec("input"))
        self.emit("session.updated", {"session": self.session})

    def _configure_vad(self) -> None:
        if self._input.configure(self.session["audio"]["input"].get("turn_detection")):
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
        self._input.append(decode_audio(event["audio"], "audio"))

    def _on_vad(self, boundary: VadEvent) -> None:
        turn = self.session["audio"]["input"].get("turn_detection") or {}
        if boundary.kind == "speech_started":
            self._speech_item = self._ids.item()
            self.emit(
                "input_audio_buffer.speech_started",
                {"audio_start_ms": boundary.ms, "item_id": self._speech_item},
            )
            if self._active is not None and turn.get("interrupt_response", True) is not False:
                self._cancel_active("turn_detected")
            return
        item_id = self._speech_item or self._ids.item()
        self._speech_item = None
        self.emit(
            "input_audio_buffer.speech_stopped", {"audio_end_ms": boundary.ms, "item_id": item_id}
        )
        self._commit(self._input.take_until(boundary.ms), item_id)
        if turn.get("create_response", True) is not False and not self._is_transcription:
            if self._active is None:
                self._start_response({}, None)
            elif self._active.stream.cancel_reason is not None:
                self._respond_when_idle = True  # after the interrupted response has ended

    def _audio_commit(self, event: Mapping[str, Any], event_id: str | None) -> None:
        ms = self._input.buffered_ms
        if ms < 100:
            raise errors.ClientError(
                "Error committing input audio buffer: buffer too small. Expected at least 100ms "
                f"of audio, but buffer only has {ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        item_id = self._speech_item or self._ids.item()
        self._speech_item = None
        self._commit(self._input.take_all(), item_id)

    def _audio_clear(self, event: Mapping[str, Any], event_id: str | None) -> None:
        self._input.clear()
        self._speech_item = None
        self.emit("input_audio_buffer.cleared")

    def _commit(self, pcm: bytes, item_id: str) -> None:
        wire = {
            "id": item_id,
            "object": "realtime.item",
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
            logprobs = LOGPROBS in (self.session.get("include") or ())
            self._spawn(transcribe(self._options.model, stored, self.emit, logprobs=logprobs))

    def _output_audio_clear(self, event: Mapping[str, Any], event_id: str | None) -> None:
        raise errors.ClientError(
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
            code="invalid_value",
            param="type",
        )

    # -- conversation items -----------------------------------------------------------------

    def _item_create(self, event: Mapping[str, Any], event_id: str | None) -> None:
        new = normalize_item(event["item"])
        previous_id = event.get("previous_item_id")
        if previous_id not in (None, "root") and self._conversation.get(previous_id) is None:
            raise errors.ClientError(
                f"Previous item with id '{previous_id}' not found.",
                code="invalid_value",
                param="previous_item_id",
            )
        audio = self._codec("input").decode(new.audio)
        wire = new.wire
        if wire.get("id") is None:
            wire["id"] = self._ids.item()
        if wire["type"] == "function_call" and wire.get("call_id") is None:
            wire["call_id"] = self._ids.call()
        stored = StoredItem(wire, bytearray(audio), int(len(audio) / BYTES_PER_MS))
        previous = self._conversation.add(stored, previous_id)
        self.emit(
            "conversation.item.added", {"previous_item_id": previous, "item": stored.snapshot()}
        )
        self.emit(
            "conversation.item.done", {"previous_item_id": previous, "item": stored.snapshot()}
        )
        if wire.get("role") == "user":
            self._maybe_transcribe(stored)

    def _item_delete(self, event: Mapping[str, Any], event_id: str | None) -> None:
        stored = items.find(self._conversation, event["item_id"], "delete")
        self._conversation.delete(stored.id)
        self.emit("conversation.item.deleted", {"item_id": stored.id})

    def _item_retrieve(self, event: Mapping[str, Any], event_id: str | None) -> None:
        stored = items.find(self._conversation, event["item_id"], "retrieve")
        item = items.retrieved(stored, self._codec("input"), self._codec("output"))
        self.emit("conversation.item.retrieved", {"item": item})

    def _item_truncate(self, event: Mapping[str, Any], event_id: str | None) -> None:
        stored = items.find(self._conversation, event["item_id"], "truncate")
        index, end_ms = event["content_index"], event["audio_end_ms"]
        items.truncate(stored, index, end_ms)
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
        self._start_response(check_response_params(event.get("response")), event_id)

    def _input_items(self, params: Mapping[str, Any]) -> tuple[StoredItem, ...]:
        if params.get("input") is None:  # out-of-band or not, the conversation is the context
            return tuple(self._conversation.items())
        found: list[StoredItem] = []
        for index, raw in enumerate(params["input"]):
            path = f"response.input[{index}]"
            if raw.get("type") == "item_reference":
                reference = check(ITEM_REFERENCE, raw, path)
                stored = self._conversation.get(reference["id"])
                if stored is None:
                    raise errors.ClientError(
                        f"Item with id '{reference['id']}' not found.",
                        code="invalid_value",
                        param=f"{path}.id",
                    )
                found.append(stored)
                continue
            new = normalize_item(raw, path)
            new.wire["id"] = new.wire.get("id") or self._ids.item()
            found.append(StoredItem(new.wire, bytearray(self._codec("input").decode(new.audio))))
        return tuple(found)

    def _start_response(self, params: Mapping[str, Any], event_id: str | None) -> None:
        config = response_config(self.session, params, self._input_items(params))
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
        except Exception:
            _log.exception("embedded server failed while streaming a response")
            self._error(errors.server_error(), None)
            return
        finally:
            self._audio_produced = self._audio_produced or stream.audio_sent
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
