"""The response resource of ``response.created`` / ``response.done`` and its usage figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from rxrealtime.events._base import EMPTY, Model, model
from rxrealtime.events.items import ConversationItem
from rxrealtime.events.resources import ErrorDetails
from rxrealtime.events.session import AudioConfig

__all__ = [
    "CachedTokensDetails",
    "InputTokenDetails",
    "OutputTokenDetails",
    "Response",
    "ResponseStatusDetails",
    "Usage",
]


@model
class CachedTokensDetails(Model):
    """How the cached input tokens split by modality."""

    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class InputTokenDetails(Model):
    """How the input tokens split by modality, and how many were cached."""

    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None
    cached_tokens: int | None = None
    cached_tokens_details: CachedTokensDetails | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class OutputTokenDetails(Model):
    """How the output tokens split by modality."""

    text_tokens: int | None = None
    audio_tokens: int | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class Usage(Model):
    """Token usage of one response (set on ``response.done``)."""

    total_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_token_details: InputTokenDetails | None = None
    output_token_details: OutputTokenDetails | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class ResponseStatusDetails(Model):
    """Why a response ended as it did: ``type`` (the status), ``reason``, ``error``."""

    type: str | None = None
    reason: str | None = None
    error: ErrorDetails | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class Response(Model):
    """A model response. ``status`` is ``in_progress`` on ``response.created`` and final
    (``completed``, ``cancelled``, ``failed``, ``incomplete``) on ``response.done``."""

    id: str | None = None
    object: str | None = None
    status: str | None = None
    status_details: ResponseStatusDetails | None = None
    output: Sequence[ConversationItem] | None = None
    usage: Usage | None = None
    conversation_id: str | None = None
    output_modalities: Sequence[str] | None = None
    max_output_tokens: int | str | None = None
    metadata: Mapping[str, Any] | None = None
    audio: AudioConfig | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)
