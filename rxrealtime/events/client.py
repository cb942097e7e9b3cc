"""Every event the client sends (the 11 GA types), with constructors for the common cases.

::

    ev.ConversationItemCreate.user_text("What's the weather in Oslo?")
    ev.InputAudioBufferAppend.from_pcm(pcm_bytes)            # base64 done for you
    ev.ConversationItemCreate.function_call_output(call_id, '{"temp": 7}')
    ev.ResponseCreate(response=ev.ResponseCreateParams(output_modalities=["text"]))
    ev.SessionUpdate(session=ev.RealtimeSessionConfig(instructions="Be brief."))

:func:`~rxrealtime.events.encode` writes any of them as compact wire JSON, leaving out fields
that are ``None`` (so ``event_id`` is only sent when set).

The classes are also the one client-event *schema*: :data:`CLIENT_EVENT_SCHEMA` is derived from
their fields and annotations (which fields each type has, which are required, what JSON kind each
holds) and is what :func:`rxrealtime.validation.validate_client_event` checks, for typed events
and plain dicts alike. A test holds it against the official SDK's client-event models.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import attrs

from rxrealtime.audio import b64
from rxrealtime.events._base import EMPTY, ClientEvent, Model, model, wire_type
from rxrealtime.events.items import (
    AssistantMessage,
    ConversationItem,
    FunctionCallOutput,
    InputAudio,
    SystemMessage,
    UserMessage,
)
from rxrealtime.events.session import AudioConfig, SessionConfig, Tool, ToolChoice

__all__ = [
    "CLIENT_EVENT_SCHEMA",
    "CLIENT_EVENT_TYPES",
    "MESSAGE_ROLES",
    "ClientField",
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
        part = InputAudio(audio=b64.encode(pcm))
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
        return cls(audio=b64.encode(pcm), event_id=event_id)


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


# -- the schema derived from the classes -------------------------------------------------------

_KINDS: Final[tuple[tuple[type, str], ...]] = (
    (bool, "boolean"),  # before int: a bool is an int in Python, never in JSON
    (str, "string"),
    (int, "integer"),
    (float, "number"),
    (Model, "object"),
    (Mapping, "object"),
    (Sequence, "array"),
)


@attrs.frozen
class ClientField:
    """One top-level field of a client event, as the wire sees it.

    ``kind`` is the JSON kind of its value (``"string"``, ``"integer"``, ``"number"``,
    ``"boolean"``, ``"object"`` or ``"array"``); ``required`` says whether the event is invalid
    without it. A ``null`` value counts as absent.
    """

    name: str
    kind: str
    required: bool

    def accepts(self, value: object) -> bool:
        """Whether ``value`` (a decoded JSON value) is of this field's kind."""
        if self.kind == "boolean":
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if self.kind == "string":
            return isinstance(value, str)
        if self.kind == "integer":
            return isinstance(value, int)
        if self.kind == "number":
            return isinstance(value, int | float)
        if self.kind == "object":
            return isinstance(value, Mapping)
        return isinstance(value, list | tuple)


def _kind_of(annotation: Any, where: str) -> str:
    """The one JSON kind an annotation (``X`` or ``X | None``) stands for."""
    union = isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
    members = typing.get_args(annotation) if union else (annotation,)
    kinds = set()
    for member in members:
        if member is type(None):
            continue
        origin = typing.get_origin(member) or member
        is_class = isinstance(origin, type)
        found = [name for base, name in _KINDS if is_class and issubclass(origin, base)]
        if not found:
            raise TypeError(f"{where}: no JSON kind for {member!r}")
        kinds.add(found[0])
    if len(kinds) != 1:
        raise TypeError(f"{where}: {annotation!r} is not of exactly one JSON kind")
    return kinds.pop()


def _fields_of(cls: type[ClientEvent]) -> Mapping[str, ClientField]:
    hints = typing.get_type_hints(cls)
    fields = {}
    for field in attrs.fields(cls):  # type: ignore[arg-type]
        if field.name in ("type", "extra"):
            continue
        kind = _kind_of(hints[field.name], f"{cls.__name__}.{field.name}")
        fields[field.name] = ClientField(field.name, kind, field.default is attrs.NOTHING)
    return MappingProxyType(fields)


CLIENT_EVENT_SCHEMA: Mapping[str, Mapping[str, ClientField]] = MappingProxyType(
    {wire_type(cls): _fields_of(cls) for cls in _CLASSES}
)
"""Every client wire type -> its top-level fields (``event_id`` included, ``type`` not),
derived from the event classes above."""

MESSAGE_ROLES: tuple[str, ...] = tuple(
    str(attrs.fields_dict(cls)["role"].default)  # type: ignore[arg-type]
    for cls in (UserMessage, AssistantMessage, SystemMessage)
)
"""The ``role`` of each message item class: ``("user", "assistant", "system")``."""
