"""Session configuration: what ``session.update`` sends and ``session.created/updated`` report.

The GA shape nests audio settings under ``audio.input`` / ``audio.output`` with formats as
objects (:class:`AudioPCM`, :class:`AudioPCMU`, :class:`AudioPCMA`). Servers add keys such as
``id``, ``object`` and ``expires_at`` to the session they report; the common ones are fields
here, the rest land in ``extra``. A beta-shaped (flat) session decodes as well: its keys
(``modalities``, ``voice``, ``input_audio_format``, ...) are kept in ``extra``.

Deep or fast-moving parts (``tracing``, ``prompt``, ``truncation``, ``reasoning``, MCP tool
filters) are kept as plain JSON values (``Any``).

``None`` means "not set" and is omitted on the wire. To send an explicit ``null`` (for
instance ``turn_detection: null`` to switch voice activity detection off), put it in
``extra``: ``AudioInputConfig(extra={"turn_detection": None})``, or use
:meth:`AudioInputConfig.without_turn_detection`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from rxrealtime.events._base import EMPTY, Model, model

__all__ = [
    "AudioConfig",
    "AudioInputConfig",
    "AudioOutputConfig",
    "AudioPCM",
    "AudioPCMA",
    "AudioPCMU",
    "AudioTranscription",
    "FunctionTool",
    "McpTool",
    "NoiseReduction",
    "RealtimeAudioFormats",
    "RealtimeSessionConfig",
    "SemanticVad",
    "ServerVad",
    "SessionConfig",
    "Tool",
    "ToolChoice",
    "ToolChoiceFunction",
    "ToolChoiceMcp",
    "TranscriptionAudioConfig",
    "TranscriptionSessionConfig",
    "TurnDetection",
    "VoiceId",
]


# -- audio formats ---------------------------------------------------------------------------


@model
class RealtimeAudioFormats(Model):
    """The wire object of an audio format (``session.audio.input.format``, ...): the base of
    :class:`AudioPCM`, :class:`AudioPCMU` and :class:`AudioPCMA`; an unknown format ``type``
    decodes to this base class. Named like the official SDK's union type.

    This is the wire resource only; what a format means in bytes and milliseconds (and its
    codec) is :class:`rxrealtime.audio.AudioFormat`, whose ``from_wire`` reads these objects.
    """

    type: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class AudioPCM(RealtimeAudioFormats):
    """16-bit little-endian mono PCM (``audio/pcm``); the only rate is 24 kHz."""

    type: str | None = "audio/pcm"
    rate: int | None = 24000


@model
class AudioPCMU(RealtimeAudioFormats):
    """G.711 mu-law (``audio/pcmu``)."""

    type: str | None = "audio/pcmu"


@model
class AudioPCMA(RealtimeAudioFormats):
    """G.711 A-law (``audio/pcma``)."""

    type: str | None = "audio/pcma"


# -- input processing ------------------------------------------------------------------------


@model
class TurnDetection(Model):
    """Base of the turn-detection settings; an unknown ``type`` decodes to this base class."""

    type: str | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class ServerVad(TurnDetection):
    """Voice activity detection by volume (``server_vad``)."""

    type: str | None = "server_vad"
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    idle_timeout_ms: int | None = None


@model
class SemanticVad(TurnDetection):
    """Turn detection by a model that judges whether the user has finished (``semantic_vad``)."""

    type: str | None = "semantic_vad"
    eagerness: str | None = None


@model
class AudioTranscription(Model):
    """Transcription of the input audio (``model`` such as ``"gpt-4o-transcribe"``)."""

    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    languages: Sequence[str] | None = None
    keywords: Sequence[str] | None = None
    delay: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class NoiseReduction(Model):
    """Input noise reduction (``near_field`` or ``far_field``)."""

    type: str | None = None
    strength: float | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class AudioInputConfig(Model):
    """``session.audio.input``: format, noise reduction, transcription, turn detection."""

    format: RealtimeAudioFormats | None = None
    noise_reduction: NoiseReduction | None = None
    transcription: AudioTranscription | None = None
    turn_detection: TurnDetection | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)

    @classmethod
    def without_turn_detection(cls, **fields: Any) -> AudioInputConfig:
        """An input config that sends ``turn_detection: null`` (push-to-talk: no VAD)."""
        return cls(**fields, extra={"turn_detection": None})


@model
class VoiceId(Model):
    """A custom voice, by ``id``."""

    id: str
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class AudioOutputConfig(Model):
    """``session.audio.output`` (and ``response.audio.output``): format, voice and speed."""

    format: RealtimeAudioFormats | None = None
    voice: str | VoiceId | None = None
    speed: float | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class AudioConfig(Model):
    """``session.audio`` / ``response.audio``: the input and output settings."""

    input: AudioInputConfig | None = None
    output: AudioOutputConfig | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class TranscriptionAudioConfig(Model):
    """``audio`` of a transcription session: input settings only."""

    input: AudioInputConfig | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


# -- tools -----------------------------------------------------------------------------------


@model
class Tool(Model):
    """Base of the tools a session or response may use; an unknown ``type`` decodes to it."""

    type: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class FunctionTool(Tool):
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    type: str | None = "function"
    name: str | None = None
    description: str | None = None
    parameters: Any = None


@model
class McpTool(Tool):
    """A remote MCP server whose tools the model may call (filters kept as plain JSON)."""

    type: str | None = "mcp"
    server_label: str
    server_url: str | None = None
    server_description: str | None = None
    connector_id: str | None = None
    authorization: str | None = None
    headers: Mapping[str, Any] | None = None
    allowed_tools: Any = None
    require_approval: Any = None


@model
class ToolChoice(Model):
    """Base of a forced tool choice; the plain strings ``auto``/``none``/``required`` are
    kept as ``str``."""

    type: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class ToolChoiceFunction(ToolChoice):
    """Force a call of the function ``name``."""

    type: str | None = "function"
    name: str


@model
class ToolChoiceMcp(ToolChoice):
    """Force a call of a tool of the MCP server ``server_label`` (optionally one ``name``)."""

    type: str | None = "mcp"
    server_label: str
    name: str | None = None


# -- sessions --------------------------------------------------------------------------------


@model
class SessionConfig(Model):
    """Base of the session kinds; a session of an unknown ``type`` decodes to this base."""

    type: str | None = None
    id: str | None = None
    object: str | None = None
    expires_at: int | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, hash=False)


@model
class RealtimeSessionConfig(SessionConfig):
    """A speech-to-speech session (``type="realtime"``)."""

    type: str | None = "realtime"
    model: str | None = None
    instructions: str | None = None
    output_modalities: Sequence[str] | None = None
    audio: AudioConfig | None = None
    include: Sequence[str] | None = None
    max_output_tokens: int | str | None = None
    tools: Sequence[Tool] | None = None
    tool_choice: str | ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    tracing: Any = None
    truncation: Any = None
    prompt: Any = None
    reasoning: Any = None


@model
class TranscriptionSessionConfig(SessionConfig):
    """A transcription-only session (``type="transcription"``)."""

    type: str | None = "transcription"
    audio: TranscriptionAudioConfig | None = None
    include: Sequence[str] | None = None
