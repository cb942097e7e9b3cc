"""The send side shared by live and replayed sessions: ``send()`` and the typed helpers.

The helpers are laid out like the official SDK's connection resources, and send exactly the
frames the SDK sends for the same call (``tests/session/test_sdk.py`` holds them equal)::

    await session.session.update(session={...})
    await session.response.create(response={"output_modalities": ["text"]})
    await session.response.cancel()
    await session.conversation.item.create(item=ev.UserMessage.text("hi"))
    await session.conversation.item.delete(item_id=...)       # also retrieve, truncate
    await session.input_audio_buffer.append(pcm_bytes)        # also commit, clear
    await session.output_audio_buffer.clear()

Each helper takes keyword arguments named like the event's fields; configuration objects and
items may be plain dicts or events-layer objects. Every helper goes through the session's
:meth:`~TypedSenders.send` (validated, encoded, sent as one text frame), except
``input_audio_buffer.append``, which builds its frame directly (see there). A helper raises
what ``send`` raises: :class:`~rxrealtime.errors.InvalidClientEventError` before anything is
sent, the session's :class:`~rxrealtime.errors.ConnectionClosed` once it is closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from rxrealtime import events as ev
from rxrealtime.audio import b64
from rxrealtime.errors import EventTooLargeError
from rxrealtime.session.hub import byte_len
from rxrealtime.validation import (
    MAX_AUDIO_APPEND_BYTES,
    MAX_EVENT_BYTES,
    split_audio,
    validate_client_event,
)

__all__ = [
    "ClientEventSender",
    "ConversationItemResource",
    "ConversationResource",
    "InputAudioBufferResource",
    "OutputAudioBufferResource",
    "ResponseResource",
    "SessionResource",
    "TypedSenders",
    "check_frame_size",
]


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    """The wire dict of a client event; events-layer values (items, session and response
    configuration objects) become their wire dicts, so the helpers take either form."""
    return {
        "type": kind,
        **{
            key: ev.to_dict(value) if isinstance(value, ev.Model) else value
            for key, value in fields.items()
            if value is not None
        },
    }


def check_frame_size(data: str | bytes) -> int:
    """The wire size of ``data``; :class:`~rxrealtime.errors.EventTooLargeError` when it is
    over the service's limit of 15 MiB per client event."""
    size = byte_len(data)
    if size > MAX_EVENT_BYTES:
        raise EventTooLargeError(
            f"client event of {size} bytes exceeds the service's limit of {MAX_EVENT_BYTES} "
            "bytes per event (send audio with session.input_audio_buffer.append(), which "
            "splits it)",
            field="type",
        )
    return size


class ClientEventSender(Protocol):
    """What the typed helpers send through: a live
    :class:`~rxrealtime.session.RealtimeSession`, or a
    :class:`~rxrealtime.replay.ReplaySession` standing in for one."""

    async def send(self, event: ev.ClientEvent | Mapping[str, Any]) -> None:
        """Validate, encode and send one client event."""

    async def _send_frame(self, kind: str, frame: str) -> None:
        """Send a client event of type ``kind`` that is already encoded (and known good)."""


class _Resource:
    __slots__ = ("_session",)

    def __init__(self, session: ClientEventSender) -> None:
        self._session = session


class SessionResource(_Resource):
    """``session.session``: the session's configuration."""

    __slots__ = ()

    async def update(self, *, session: Any, event_id: str | None = None) -> None:
        """``session.update``: ``session`` is a dict or an events-layer session object."""
        await self._session.send(_event("session.update", session=session, event_id=event_id))


class ResponseResource(_Resource):
    """``session.response``: start and cancel model responses."""

    __slots__ = ()

    async def create(self, *, response: Any = None, event_id: str | None = None) -> None:
        """``response.create`` (``response`` holds the optional per-response overrides)."""
        await self._session.send(_event("response.create", response=response, event_id=event_id))

    async def cancel(self, *, response_id: str | None = None, event_id: str | None = None) -> None:
        """``response.cancel`` (the in-progress response, or ``response_id``)."""
        await self._session.send(
            _event("response.cancel", response_id=response_id, event_id=event_id)
        )


class InputAudioBufferResource(_Resource):
    """``session.input_audio_buffer``: stream the user's audio in."""

    __slots__ = ()

    async def append(
        self, audio: bytes | bytearray | memoryview | str, *, event_id: str | None = None
    ) -> None:
        """``input_audio_buffer.append``: raw PCM bytes (base64-encoded here) or base64 text.

        Audio larger than one event may carry (15 MiB encoded) is sent as several appends, in
        order, each at most :data:`~rxrealtime.validation.MAX_AUDIO_APPEND_BYTES` of audio and
        cut on whole samples; ``event_id`` goes on the first.
        """
        raw = len(audio) * 3 // 4 if isinstance(audio, str) else memoryview(audio).nbytes
        pieces = split_audio(audio) if raw > MAX_AUDIO_APPEND_BYTES else (audio,)
        for piece in pieces:
            # Built directly (the hot path of a voice session: many appends per second); the
            # shape is ours, so there is nothing for send()'s validation to find.
            if event_id is None and not isinstance(piece, str):
                # base64 needs no JSON escaping: the frame orjson would write, put together
                frame = f'{{"type":"input_audio_buffer.append","audio":"{b64.encode(piece)}"}}'
            else:
                event = {
                    "type": "input_audio_buffer.append",
                    "audio": piece if isinstance(piece, str) else b64.encode(piece),
                }
                if event_id is not None:
                    event["event_id"] = event_id
                frame = orjson.dumps(event).decode()
            await self._session._send_frame("input_audio_buffer.append", frame)
            event_id = None

    async def commit(self, *, event_id: str | None = None) -> None:
        """``input_audio_buffer.commit``: end the user's turn (without server VAD)."""
        await self._session.send(_event("input_audio_buffer.commit", event_id=event_id))

    async def clear(self, *, event_id: str | None = None) -> None:
        """``input_audio_buffer.clear``: discard the audio appended and not committed."""
        await self._session.send(_event("input_audio_buffer.clear", event_id=event_id))


class ConversationItemResource(_Resource):
    """``session.conversation.item``: create, delete, retrieve and truncate items."""

    __slots__ = ()

    async def create(
        self, *, item: Any, previous_item_id: str | None = None, event_id: str | None = None
    ) -> None:
        """``conversation.item.create``: ``item`` is a dict or an events-layer item."""
        await self._session.send(
            _event(
                "conversation.item.create",
                item=item,
                previous_item_id=previous_item_id,
                event_id=event_id,
            )
        )

    async def delete(self, *, item_id: str, event_id: str | None = None) -> None:
        """``conversation.item.delete``."""
        await self._session.send(
            _event("conversation.item.delete", item_id=item_id, event_id=event_id)
        )

    async def retrieve(self, *, item_id: str, event_id: str | None = None) -> None:
        """``conversation.item.retrieve`` (answered with ``conversation.item.retrieved``)."""
        await self._session.send(
            _event("conversation.item.retrieve", item_id=item_id, event_id=event_id)
        )

    async def truncate(
        self, *, item_id: str, content_index: int, audio_end_ms: int, event_id: str | None = None
    ) -> None:
        """``conversation.item.truncate``: cut an assistant audio item at ``audio_end_ms``
        (what the user actually heard)."""
        await self._session.send(
            _event(
                "conversation.item.truncate",
                item_id=item_id,
                content_index=content_index,
                audio_end_ms=audio_end_ms,
                event_id=event_id,
            )
        )


class ConversationResource(_Resource):
    """``session.conversation``: the conversation's items (``.item``)."""

    __slots__ = ("_item",)

    def __init__(self, session: ClientEventSender) -> None:
        super().__init__(session)
        self._item = ConversationItemResource(session)

    @property
    def item(self) -> ConversationItemResource:
        """``conversation.item.create/delete/retrieve/truncate``."""
        return self._item


class OutputAudioBufferResource(_Resource):
    """``session.output_audio_buffer``: the server's outgoing audio (WebRTC/SIP sessions)."""

    __slots__ = ()

    async def clear(self, *, event_id: str | None = None) -> None:
        """``output_audio_buffer.clear``: stop the audio being played out."""
        await self._session.send(_event("output_audio_buffer.clear", event_id=event_id))


class TypedSenders:
    """``send()`` and the typed helpers, for any session that implements ``_send_frame``
    (and ``send_raw``). Call :meth:`_init_senders` from ``__init__``."""

    # each made on first use (an idle session keeps none of them)
    _session_resource: SessionResource | None = None
    _response_resource: ResponseResource | None = None
    _conversation_resource: ConversationResource | None = None
    _input_audio_resource: InputAudioBufferResource | None = None
    _output_audio_resource: OutputAudioBufferResource | None = None

    def _init_senders(self) -> None:
        """Nothing to do any more: each helper is made on first use."""

    @property
    def session(self) -> SessionResource:
        """Typed helper: ``await session.session.update(session={...})`` sends
        ``session.update`` (a dict or an events-layer session configuration)."""
        if self._session_resource is None:
            self._session_resource = SessionResource(self)
        return self._session_resource

    @property
    def response(self) -> ResponseResource:
        """Typed helpers: ``await session.response.create(response=...)`` and
        ``await session.response.cancel(response_id=...)``."""
        if self._response_resource is None:
            self._response_resource = ResponseResource(self)
        return self._response_resource

    @property
    def conversation(self) -> ConversationResource:
        """Typed helpers: ``await session.conversation.item.create(item=...)``, and
        ``.delete``, ``.retrieve``, ``.truncate`` of ``conversation.item``."""
        if self._conversation_resource is None:
            self._conversation_resource = ConversationResource(self)
        return self._conversation_resource

    @property
    def input_audio_buffer(self) -> InputAudioBufferResource:
        """Typed helpers: ``await session.input_audio_buffer.append(pcm)`` (split when too
        large for one event), ``.commit()``, ``.clear()``."""
        if self._input_audio_resource is None:
            self._input_audio_resource = InputAudioBufferResource(self)
        return self._input_audio_resource

    @property
    def output_audio_buffer(self) -> OutputAudioBufferResource:
        """Typed helper: ``await session.output_audio_buffer.clear()``."""
        if self._output_audio_resource is None:
            self._output_audio_resource = OutputAudioBufferResource(self)
        return self._output_audio_resource

    async def send(self, event: ev.ClientEvent | Mapping[str, Any]) -> None:
        """Check ``event`` (a client event or a plain dict), encode it and send it as one text
        frame.

        Typed events and dicts take one validation path
        (:func:`rxrealtime.validation.validate_client_event`): a missing or unknown ``type`` or
        a field of the wrong type raises :class:`~rxrealtime.errors.InvalidClientEventError`
        naming the field, and nothing is sent. See ``send_raw`` for the size limit, closed
        sessions and reconnects.
        """
        kind = validate_client_event(event)
        await self._send_frame(kind, ev.encode(event))

    async def _send_frame(self, kind: str, frame: str) -> None:
        """Send an encoded client event of type ``kind`` (already known good)."""
        raise NotImplementedError

    async def send_raw(self, data: str | bytes) -> None:
        """Send one frame as is (``str`` → text frame, ``bytes`` → binary frame)."""
        raise NotImplementedError
