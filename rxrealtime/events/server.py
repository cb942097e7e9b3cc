"""Every event the server sends, one frozen attrs class per GA wire type.

Class names are the CamelCase of the GA type (``response.output_text.delta`` ->
:class:`ResponseOutputTextDelta`); the one exception is ``error`` -> :class:`ErrorEvent`. The beta
names of the six renamed stream events decode to the GA classes (:data:`BETA_ALIASES`), and the
beta-only ``transcription_session.updated`` has its own class. ``type`` keeps the wire string as
received.

Fields are required exactly where the official SDK requires them (``event_id`` too, though it
is typed optional for events built in code), nested resources included: a decoded
``ResponseDone`` always has its ``response``, a ``ConversationItemAdded`` its ``item``. A frame
whose required field (at any depth) is missing or of the wrong type decodes to
:class:`~rxrealtime.events.InvalidEvent`; an optional field that does not fit is ``None``, its
value kept in ``extra`` (see :mod:`rxrealtime.events.codec`).
"""

# long-module: one declarative class per GA server event type (53 of them) and the beta alias
# table; splitting the catalogue would scatter what a reader compares against the protocol.

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import ClassVar

from rxrealtime.events._base import ServerEvent, model, wire_type
from rxrealtime.events.items import ContentPart, ConversationItem
from rxrealtime.events.resources import (
    Conversation,
    ErrorDetails,
    LogProb,
    RateLimit,
    RealtimeError,
    TranscriptionLanguage,
    TranscriptionUsage,
)
from rxrealtime.events.response import Response
from rxrealtime.events.session import SessionConfig, TranscriptionSessionConfig

__all__ = [
    "BETA_ALIASES",
    "ConversationCreated",
    "ConversationItemAdded",
    "ConversationItemCreated",
    "ConversationItemDeleted",
    "ConversationItemDone",
    "ConversationItemInputAudioTranscriptionCompleted",
    "ConversationItemInputAudioTranscriptionDelta",
    "ConversationItemInputAudioTranscriptionFailed",
    "ConversationItemInputAudioTranscriptionSegment",
    "ConversationItemRetrieved",
    "ConversationItemTruncated",
    "ErrorEvent",
    "InputAudioBufferCleared",
    "InputAudioBufferCommitted",
    "InputAudioBufferDtmfEventReceived",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioBufferTimeoutTriggered",
    "McpListToolsCompleted",
    "McpListToolsFailed",
    "McpListToolsInProgress",
    "OutputAudioBufferCleared",
    "OutputAudioBufferStarted",
    "OutputAudioBufferStopped",
    "RateLimitsUpdated",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseCreated",
    "ResponseDone",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted",
    "ResponseMcpCallFailed",
    "ResponseMcpCallInProgress",
    "ResponseOutputAudioDelta",
    "ResponseOutputAudioDone",
    "ResponseOutputAudioTranscriptDelta",
    "ResponseOutputAudioTranscriptDone",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseOutputTextDelta",
    "ResponseOutputTextDone",
    "SERVER_EVENT_TYPES",
    "SessionCreated",
    "SessionUpdated",
    "TranscriptionSessionUpdated",
]


@model
class ConversationCreated(ServerEvent):
    """A conversation was created (right after ``session.created``)."""

    type: str = "conversation.created"
    conversation: Conversation


@model
class ConversationItemCreated(ServerEvent):
    """An item was added to the conversation (beta-era event; GA servers send
    ``conversation.item.added`` and ``conversation.item.done``)."""

    type: str = "conversation.item.created"
    item: ConversationItem
    previous_item_id: str | None = None


@model
class ConversationItemAdded(ServerEvent):
    """An item was added to the conversation (model output items may still be empty)."""

    type: str = "conversation.item.added"
    item: ConversationItem
    previous_item_id: str | None = None


@model
class ConversationItemDone(ServerEvent):
    """An item is final."""

    type: str = "conversation.item.done"
    item: ConversationItem
    previous_item_id: str | None = None


@model
class ConversationItemRetrieved(ServerEvent):
    """The answer to ``conversation.item.retrieve``."""

    type: str = "conversation.item.retrieved"
    item: ConversationItem


@model
class ConversationItemDeleted(ServerEvent):
    """An item was deleted."""

    type: str = "conversation.item.deleted"
    item_id: str


@model
class ConversationItemTruncated(ServerEvent):
    """An assistant audio item was truncated (after ``conversation.item.truncate``)."""

    type: str = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


@model
class ConversationItemInputAudioTranscriptionDelta(ServerEvent):
    """A piece of the transcript of the user's audio."""

    type: str = "conversation.item.input_audio_transcription.delta"
    item_id: str
    content_index: int | None = None
    delta: str | None = None
    logprobs: Sequence[LogProb] | None = None


@model
class ConversationItemInputAudioTranscriptionCompleted(ServerEvent):
    """The transcript of the user's audio is complete."""

    type: str = "conversation.item.input_audio_transcription.completed"
    item_id: str
    content_index: int
    transcript: str
    usage: TranscriptionUsage | None = None
    logprobs: Sequence[LogProb] | None = None
    languages: Sequence[TranscriptionLanguage] | None = None


@model
class ConversationItemInputAudioTranscriptionSegment(ServerEvent):
    """A diarized segment of the user's audio transcript."""

    type: str = "conversation.item.input_audio_transcription.segment"
    item_id: str
    content_index: int
    id: str
    text: str
    speaker: str
    start: float
    end: float


@model
class ConversationItemInputAudioTranscriptionFailed(ServerEvent):
    """Transcribing the user's audio failed; ``error`` says why."""

    type: str = "conversation.item.input_audio_transcription.failed"
    item_id: str
    content_index: int
    error: ErrorDetails


@model
class ErrorEvent(ServerEvent):
    """An error the server reports; the session stays open unless a close follows."""

    type: str = "error"
    error: RealtimeError


@model
class InputAudioBufferCommitted(ServerEvent):
    """The input audio buffer was committed as the user item ``item_id``."""

    type: str = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


@model
class InputAudioBufferCleared(ServerEvent):
    """The input audio buffer was cleared."""

    type: str = "input_audio_buffer.cleared"


@model
class InputAudioBufferSpeechStarted(ServerEvent):
    """Voice activity detection heard speech start (``audio_start_ms`` into the buffer)."""

    type: str = "input_audio_buffer.speech_started"
    item_id: str
    audio_start_ms: int


@model
class InputAudioBufferSpeechStopped(ServerEvent):
    """Voice activity detection heard speech stop."""

    type: str = "input_audio_buffer.speech_stopped"
    item_id: str
    audio_end_ms: int


@model
class InputAudioBufferTimeoutTriggered(ServerEvent):
    """The idle timeout fired with no speech in the buffer."""

    type: str = "input_audio_buffer.timeout_triggered"
    item_id: str
    audio_start_ms: int
    audio_end_ms: int


@model
class InputAudioBufferDtmfEventReceived(ServerEvent):
    """A DTMF key was pressed on a SIP call (this event has no ``event_id``)."""

    type: str = "input_audio_buffer.dtmf_event_received"
    _required_on_wire: ClassVar[frozenset[str]] = frozenset()
    event: str
    received_at: int


@model
class OutputAudioBufferStarted(ServerEvent):
    """The server started playing a response's audio (WebRTC/SIP)."""

    type: str = "output_audio_buffer.started"
    response_id: str


@model
class OutputAudioBufferStopped(ServerEvent):
    """The server finished playing a response's audio (WebRTC/SIP)."""

    type: str = "output_audio_buffer.stopped"
    response_id: str


@model
class OutputAudioBufferCleared(ServerEvent):
    """The output audio buffer was cleared (WebRTC/SIP)."""

    type: str = "output_audio_buffer.cleared"
    response_id: str


@model
class RateLimitsUpdated(ServerEvent):
    """The rate limits now in force (sent after ``response.done``)."""

    type: str = "rate_limits.updated"
    rate_limits: Sequence[RateLimit]


@model
class ResponseCreated(ServerEvent):
    """A response started (``response.status`` is ``in_progress``)."""

    type: str = "response.created"
    response: Response


@model
class ResponseDone(ServerEvent):
    """A response ended; ``response`` holds its final status, output and usage."""

    type: str = "response.done"
    response: Response


@model
class ResponseOutputItemAdded(ServerEvent):
    """A response added an output item."""

    type: str = "response.output_item.added"
    response_id: str
    output_index: int
    item: ConversationItem


@model
class ResponseOutputItemDone(ServerEvent):
    """An output item of a response is final."""

    type: str = "response.output_item.done"
    response_id: str
    output_index: int
    item: ConversationItem


@model
class ResponseContentPartAdded(ServerEvent):
    """A content part started (``part.type`` is ``text``/``audio``)."""

    type: str = "response.content_part.added"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


@model
class ResponseContentPartDone(ServerEvent):
    """A content part is final."""

    type: str = "response.content_part.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


@model
class ResponseOutputTextDelta(ServerEvent):
    """A piece of output text (beta: ``response.text.delta``)."""

    type: str = "response.output_text.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@model
class ResponseOutputTextDone(ServerEvent):
    """An output text part is final (beta: ``response.text.done``)."""

    type: str = "response.output_text.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    text: str


@model
class ResponseOutputAudioDelta(ServerEvent):
    """A piece of output audio, base64 (beta: ``response.audio.delta``)."""

    type: str = "response.output_audio.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@model
class ResponseOutputAudioDone(ServerEvent):
    """An output audio part is final (beta: ``response.audio.done``)."""

    type: str = "response.output_audio.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int


@model
class ResponseOutputAudioTranscriptDelta(ServerEvent):
    """A piece of the transcript of the output audio (beta: ``response.audio_transcript.delta``)."""

    type: str = "response.output_audio_transcript.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@model
class ResponseOutputAudioTranscriptDone(ServerEvent):
    """The transcript of an output audio part is final (beta:
    ``response.audio_transcript.done``)."""

    type: str = "response.output_audio_transcript.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    transcript: str


@model
class ResponseFunctionCallArgumentsDelta(ServerEvent):
    """A piece of a function call's JSON arguments."""

    type: str = "response.function_call_arguments.delta"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


@model
class ResponseFunctionCallArgumentsDone(ServerEvent):
    """A function call's arguments are complete (``name`` is absent in beta)."""

    type: str = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    arguments: str
    name: str | None = None


@model
class ResponseMcpCallArgumentsDelta(ServerEvent):
    """A piece of an MCP tool call's JSON arguments."""

    type: str = "response.mcp_call_arguments.delta"
    response_id: str
    item_id: str
    output_index: int
    delta: str
    obfuscation: str | None = None


@model
class ResponseMcpCallArgumentsDone(ServerEvent):
    """An MCP tool call's arguments are complete."""

    type: str = "response.mcp_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    arguments: str


@model
class ResponseMcpCallInProgress(ServerEvent):
    """An MCP tool call started."""

    type: str = "response.mcp_call.in_progress"
    item_id: str
    output_index: int


@model
class ResponseMcpCallCompleted(ServerEvent):
    """An MCP tool call completed."""

    type: str = "response.mcp_call.completed"
    item_id: str
    output_index: int


@model
class ResponseMcpCallFailed(ServerEvent):
    """An MCP tool call failed."""

    type: str = "response.mcp_call.failed"
    item_id: str
    output_index: int


@model
class McpListToolsInProgress(ServerEvent):
    """Listing an MCP server's tools started."""

    type: str = "mcp_list_tools.in_progress"
    item_id: str


@model
class McpListToolsCompleted(ServerEvent):
    """Listing an MCP server's tools completed."""

    type: str = "mcp_list_tools.completed"
    item_id: str


@model
class McpListToolsFailed(ServerEvent):
    """Listing an MCP server's tools failed."""

    type: str = "mcp_list_tools.failed"
    item_id: str


@model
class SessionCreated(ServerEvent):
    """The session was created; ``session`` is its configuration."""

    type: str = "session.created"
    session: SessionConfig


@model
class SessionUpdated(ServerEvent):
    """The session configuration changed (after ``session.update``)."""

    type: str = "session.updated"
    session: SessionConfig


@model
class TranscriptionSessionUpdated(ServerEvent):
    """Beta only: a transcription session's configuration changed (GA sends ``session.updated``
    with a transcription session)."""

    type: str = "transcription_session.updated"
    session: TranscriptionSessionConfig


_CLASSES: tuple[type[ServerEvent], ...] = (
    ConversationCreated,
    ConversationItemCreated,
    ConversationItemAdded,
    ConversationItemDone,
    ConversationItemRetrieved,
    ConversationItemDeleted,
    ConversationItemTruncated,
    ConversationItemInputAudioTranscriptionDelta,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemInputAudioTranscriptionSegment,
    ConversationItemInputAudioTranscriptionFailed,
    ErrorEvent,
    InputAudioBufferCommitted,
    InputAudioBufferCleared,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferTimeoutTriggered,
    InputAudioBufferDtmfEventReceived,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    OutputAudioBufferCleared,
    RateLimitsUpdated,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseMcpCallArgumentsDelta,
    ResponseMcpCallArgumentsDone,
    ResponseMcpCallInProgress,
    ResponseMcpCallCompleted,
    ResponseMcpCallFailed,
    McpListToolsInProgress,
    McpListToolsCompleted,
    McpListToolsFailed,
    SessionCreated,
    SessionUpdated,
    TranscriptionSessionUpdated,
)

BETA_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "response.text.delta": "response.output_text.delta",
        "response.text.done": "response.output_text.done",
        "response.audio.delta": "response.output_audio.delta",
        "response.audio.done": "response.output_audio.done",
        "response.audio_transcript.delta": "response.output_audio_transcript.delta",
        "response.audio_transcript.done": "response.output_audio_transcript.done",
    }
)
"""Beta wire type -> GA wire type, for the server events the GA protocol renamed."""


_BY_TYPE = {wire_type(cls): cls for cls in _CLASSES}

SERVER_EVENT_TYPES: Mapping[str, type[ServerEvent]] = MappingProxyType(
    {**_BY_TYPE, **{beta: _BY_TYPE[ga] for beta, ga in BETA_ALIASES.items()}}
)
"""Every server wire type :func:`~rxrealtime.events.decode` knows (GA names, the beta aliases
and the beta-only ``transcription_session.updated``) -> its class."""
