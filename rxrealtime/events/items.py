"""Conversation items and their content parts.

Items are dispatched on ``(type, role)``: the three message kinds share the wire type
``"message"`` and differ by ``role``. Content parts are dispatched on ``type``; the beta names
``"text"``/``"audio"`` (still used by ``response.content_part.*`` and by some assistant items)
map to :class:`OutputText`/:class:`OutputAudio` and keep their wire ``type``. An item or part
whose type this version does not know becomes :class:`UnknownItem`/:class:`UnknownContent`
with everything it carried in ``extra``.

Fields are required where the official SDK requires them (a message's ``content``, a function
call's ``name`` and ``arguments``, an MCP call's ``id``, ``server_label``, ``name`` and
``arguments``, ...); everything else is optional, since the server often sends partial items
(``in_progress`` items with empty content). See the decoding policy in
:mod:`rxrealtime.events.codec`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from rxrealtime.events._base import EMPTY, Model, model

__all__ = [
    "AssistantMessage",
    "ContentPart",
    "ConversationItem",
    "FunctionCall",
    "FunctionCallOutput",
    "InputAudio",
    "InputImage",
    "InputText",
    "ItemReference",
    "McpApprovalRequest",
    "McpApprovalResponse",
    "McpError",
    "McpListTools",
    "McpListedTool",
    "McpToolCall",
    "OutputAudio",
    "OutputText",
    "SystemMessage",
    "UnknownContent",
    "UnknownItem",
    "UserMessage",
]


# -- content parts ---------------------------------------------------------------------------


@model
class ContentPart(Model):
    """Base of the content parts of a message (and of ``response.content_part.*``'s ``part``)."""

    type: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class InputText(ContentPart):
    """Text the user or system wrote (``input_text``)."""

    type: str | None = "input_text"
    text: str | None = None


@model
class InputAudio(ContentPart):
    """Audio the user sent (``input_audio``): ``audio`` base64, ``transcript`` when known."""

    type: str | None = "input_audio"
    audio: str | None = None
    transcript: str | None = None


@model
class InputImage(ContentPart):
    """An image the user sent (``input_image``): a data or https URL, with a detail level."""

    type: str | None = "input_image"
    image_url: str | None = None
    detail: str | None = None


@model
class OutputText(ContentPart):
    """Text the model wrote (``output_text``; beta ``text``)."""

    type: str | None = "output_text"
    text: str | None = None


@model
class OutputAudio(ContentPart):
    """Audio the model spoke (``output_audio``; beta ``audio``) and its transcript."""

    type: str | None = "output_audio"
    audio: str | None = None
    transcript: str | None = None


@model
class UnknownContent(ContentPart):
    """A content part of a type this version does not know; its fields are in ``extra``."""


# -- items -----------------------------------------------------------------------------------


@model
class ConversationItem(Model):
    """Base of every conversation item. ``id``, ``object`` and ``status`` are the server's."""

    type: str | None = None
    id: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class _Message(ConversationItem):
    type: str | None = "message"
    object: str | None = None
    status: str | None = None


@model
class SystemMessage(_Message):
    """A system message (``type="message"``, ``role="system"``); content is ``InputText``."""

    role: str | None = "system"
    content: Sequence[ContentPart]

    @classmethod
    def text(cls, text: str) -> SystemMessage:
        """A system message holding one ``input_text`` part."""
        return cls(content=(InputText(text=text),))


@model
class UserMessage(_Message):
    """A user message (``type="message"``, ``role="user"``): text, audio and image parts."""

    role: str | None = "user"
    content: Sequence[ContentPart]

    @classmethod
    def text(cls, text: str) -> UserMessage:
        """A user message holding one ``input_text`` part."""
        return cls(content=(InputText(text=text),))


@model
class AssistantMessage(_Message):
    """An assistant message (``type="message"``, ``role="assistant"``): output text/audio."""

    role: str | None = "assistant"
    content: Sequence[ContentPart]

    @classmethod
    def text(cls, text: str) -> AssistantMessage:
        """An assistant message holding one ``output_text`` part."""
        return cls(content=(OutputText(text=text),))


@model
class FunctionCall(ConversationItem):
    """The model calling a function; ``arguments`` is the JSON text the model wrote."""

    type: str | None = "function_call"
    name: str
    arguments: str
    object: str | None = None
    status: str | None = None
    call_id: str | None = None


@model
class FunctionCallOutput(ConversationItem):
    """The result of a function call, sent back by the client; ``output`` is free text."""

    type: str | None = "function_call_output"
    call_id: str
    output: str
    object: str | None = None
    status: str | None = None


@model
class McpError(Model):
    """Why an MCP tool call failed: ``protocol_error``, ``tool_execution_error`` or
    ``http_error`` (``code`` is set for the protocol and HTTP kinds)."""

    type: str
    message: str
    code: int | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class McpListedTool(Model):
    """One tool an MCP server offers (an entry of :class:`McpListTools`'s ``tools``)."""

    name: str
    input_schema: Any
    description: str | None = None
    annotations: Any = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class McpApprovalRequest(ConversationItem):
    """The model asking for approval before calling an MCP tool."""

    type: str | None = "mcp_approval_request"
    id: str
    server_label: str
    name: str
    arguments: str


@model
class McpApprovalResponse(ConversationItem):
    """The client's answer to an :class:`McpApprovalRequest`."""

    type: str | None = "mcp_approval_response"
    id: str
    approval_request_id: str
    approve: bool
    reason: str | None = None


@model
class McpListTools(ConversationItem):
    """The tools an MCP server listed."""

    type: str | None = "mcp_list_tools"
    server_label: str
    tools: Sequence[McpListedTool]


@model
class McpToolCall(ConversationItem):
    """A call of an MCP tool and its result (``output``) or ``error``."""

    type: str | None = "mcp_call"
    id: str
    server_label: str
    name: str
    arguments: str
    approval_request_id: str | None = None
    output: str | None = None
    error: McpError | None = None


@model
class ItemReference(ConversationItem):
    """A reference to an existing item by ``id`` (``response.create``'s ``input`` only)."""

    type: str | None = "item_reference"


@model
class UnknownItem(ConversationItem):
    """An item whose ``(type, role)`` this version does not know; its fields are in ``extra``."""
