"""Every event the client sends (the 11 GA types), with constructors for the common cases.

::

    ev.ConversationItemCreate.user_text("What's the weather in Oslo?")
    ev.InputAudioBufferAppend.from_pcm(pcm_bytes)            # base64 done for you
    ev.ConversationItemCreate.function_call_output(call_id, '{"temp": 7}')
    ev.ResponseCreate(response=ev.ResponseCreateParams(output_modalities=["text"]))
    ev.SessionUpdate(session=ev.RealtimeSessionConfig(instructions="Be brief."))

:func:`~rxrealtime.events.encode` writes any of them as compact wire JSON, leaving out fields
that are ``None`` (so ``event_id`` is only sent when set).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from rxrealtime.events._base import EMPTY, ClientEvent, Model, model, wire_type
from rxrealtime.events.items import (
    ConversationItem,
    FunctionCallOutput,
    InputAudio,
    SystemMessage,
    UserMessage,
)
from rxrealtime.events.session import AudioConfig, SessionConfig, Tool, ToolChoice

__all__ = [
    "CLIENT_EVENT_TYPES",
    "ConversationItemCreate",
    "ConversationItemDelete",
    "ConversationItemRetrieve",
    "ConversationItemTruncate",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCommit",
    "OutputAudioBufferClear",
    "ResponseCancel",
    "ResponseCreate",
    "ResponseCreateParams",
    "SessionUpdate",
]


@model
class ResponseCreateParams(Model):
    """The optional ``response`` of ``response.create``: settings for this one response.

    ``conversation="none"`` makes an out-of-band response; ``input`` then gives its context
    (items, or :class:`~rxrealtime.events.ItemReference` to existing ones).
    """

    instructions: str | None = None
    output_modalities: Sequence[str] | None = None
    conversation: str | None = None
    input: Sequence[ConversationItem] | None = None
    metadata: Mapping[str, Any] | None = None
    audio: AudioConfig | None = None
    max_output_tokens: int | str | None = None
    tools: Sequence[Tool] | None = None
    tool_choice: str | ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    prompt: Any = None
    reasoning: Any = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class SessionUpdate(ClientEvent):
    """Change the session configuration (``session.update``)."""

    type: str = "session.update"
    session: SessionConfig


@model
class ResponseCreate(ClientEvent):
    """Ask the model to respond (``response.create``), optionally with per-response settings."""

    type: str = "response.create"
    response: ResponseCreateParams | None = None


@model
class ResponseCancel(ClientEvent):
    """Cancel the active response (or the one named by ``response_id``)."""

    type: str = "response.cancel"
    response_id: str | None = None


@model
class ConversationItemCreate(ClientEvent):
    """Add an item to the conversation, after ``previous_item_id`` (default: at the end)."""

    type: str = "conversation.item.create"
    item: ConversationItem
    previous_item_id: str | None = None

    @classmethod
    def user_text(cls, text: str, *, event_id: str | None = None) -> ConversationItemCreate:
        """A user message holding ``text``."""
        return cls(item=UserMessage.text(text), event_id=event_id)

    @classmethod
    def system_text(cls, text: str, *, event_id: str | None = None) -> ConversationItemCreate:
        """A system message holding ``text``."""
        return cls(item=SystemMessage.text(text), event_id=event_id)

    @classmethod
    def user_audio(cls, pcm: bytes, *, event_id: str | None = None) -> ConversationItemCreate:
        """A user message holding ``pcm`` (raw audio in the session's input format)."""
        part = InputAudio(audio=base64.b64encode(pcm).decode("ascii"))
        return cls(item=UserMessage(content=(part,)), event_id=event_id)

    @classmethod
    def function_call_output(
        cls, call_id: str, output: str, *, event_id: str | None = None
    ) -> ConversationItemCreate:
        """The result ``output`` (free text, usually JSON) of the function call ``call_id``."""
        return cls(item=FunctionCallOutput(call_id=call_id, output=output), event_id=event_id)


@model
class ConversationItemDelete(ClientEvent):
    """Delete the item ``item_id``."""

    type: str = "conversation.item.delete"
    item_id: str


@model
class ConversationItemRetrieve(ClientEvent):
    """Ask for the item ``item_id`` (answered by ``conversation.item.retrieved``)."""

    type: str = "conversation.item.retrieve"
    item_id: str


@model
class ConversationItemTruncate(ClientEvent):
    """Cut an assistant audio item at ``audio_end_ms`` (what the user actually heard)."""

    type: str = "conversation.item.truncate"
    item_id: str
    content_index: int
    audio_end_ms: int


@model
class InputAudioBufferAppend(ClientEvent):
    """Append base64 ``audio`` to the input buffer (no acknowledgement is sent)."""

    type: str = "input_audio_buffer.append"
    audio: str

    @classmethod
    def from_pcm(cls, pcm: bytes, *, event_id: str | None = None) -> InputAudioBufferAppend:
        """Append raw audio bytes (in the session's input format); base64 is done here."""
        return cls(audio=base64.b64encode(pcm).decode("ascii"), event_id=event_id)


@model
class InputAudioBufferCommit(ClientEvent):
    """Commit the input buffer as a user item (needed when turn detection is off)."""

    type: str = "input_audio_buffer.commit"


@model
class InputAudioBufferClear(ClientEvent):
    """Drop the audio in the input buffer."""

    type: str = "input_audio_buffer.clear"


@model
class OutputAudioBufferClear(ClientEvent):
    """Stop the audio the server is playing (WebRTC/SIP; cancel the response first)."""

    type: str = "output_audio_buffer.clear"


_CLASSES: tuple[type[ClientEvent], ...] = (
    SessionUpdate,
    ResponseCreate,
    ResponseCancel,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    InputAudioBufferClear,
    OutputAudioBufferClear,
)



CLIENT_EVENT_TYPES: Mapping[str, type[ClientEvent]] = MappingProxyType(
    {wire_type(cls): cls for cls in _CLASSES}
)
"""Every client wire type -> its class."""
