"""Small resources shared by several events: errors, rate limits, the conversation, and the
input-audio transcription details (usage, log-probabilities, languages)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from rxrealtime.events._base import EMPTY, Model, model

__all__ = [
    "Conversation",
    "ErrorDetails",
    "LogProb",
    "RateLimit",
    "RealtimeError",
    "TranscriptionInputTokenDetails",
    "TranscriptionLanguage",
    "TranscriptionUsage",
    "TranscriptionUsageDuration",
    "TranscriptionUsageTokens",
]


@model
class ErrorDetails(Model):
    """An error as a response's ``status_details.error`` or a failed input transcription
    (``conversation.item.input_audio_transcription.failed``) reports it: ``type``, ``code``,
    ``message``, ``param``. The protocol promises none of these fields; read them as optional.
    """

    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class RealtimeError(ErrorDetails):
    """The error of an ``error`` event: ``type`` (e.g. ``invalid_request_error``) and
    ``message`` are always set (a frame without them is an
    :class:`~rxrealtime.events.InvalidEvent`); ``code`` (e.g. ``invalid_value``), the offending
    ``param`` and the client ``event_id`` that caused it are set when the server gives them.
    """

    type: str
    message: str
    event_id: str | None = None


@model
class RateLimit(Model):
    """One rate limit (``requests`` or ``tokens``) and when it resets."""

    name: str | None = None
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class Conversation(Model):
    """The conversation a session holds."""

    id: str | None = None
    object: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class TranscriptionUsage(Model):
    """Base of the transcription usage kinds; an unknown ``type`` decodes to this base."""

    type: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class TranscriptionInputTokenDetails(Model):
    """How the transcription's input tokens split into text and audio."""

    text_tokens: int | None = None
    audio_tokens: int | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class TranscriptionUsageTokens(TranscriptionUsage):
    """Usage of a token-billed transcription model (``type="tokens"``)."""

    type: str | None = "tokens"
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_token_details: TranscriptionInputTokenDetails | None = None


@model
class TranscriptionUsageDuration(TranscriptionUsage):
    """Usage of a duration-billed transcription model (``type="duration"``)."""

    type: str | None = "duration"
    seconds: float


@model
class LogProb(Model):
    """The log-probability of one transcribed token (``bytes`` are its UTF-8 bytes)."""

    token: str
    logprob: float
    bytes: Sequence[int]
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class TranscriptionLanguage(Model):
    """A language detected in the input audio (``code`` such as ``"en"``)."""

    code: str
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)
