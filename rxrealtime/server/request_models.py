"""The client payloads the server accepts, as :mod:`~rxrealtime.server.schema` specs.

They mirror the request models of the official ``openai`` SDK (3.57.0, ``openai/types/realtime``):
``RealtimeSessionCreateRequest`` (:data:`REALTIME_SESSION`),
``RealtimeTranscriptionSessionCreateRequest`` (:data:`TRANSCRIPTION_SESSION`),
``RealtimeResponseCreateParams`` (:data:`RESPONSE_PARAMS`), the conversation item union
(:data:`ITEM`) and the top-level fields of every client event (:data:`EVENT_FIELDS`). Every field
the SDK types is accepted (a conformance test walks the SDK's models against these specs); the
server acts on the ones documented in ``docs/protocol-fidelity.md`` and echoes the rest.

Bounds are the live service's where it publishes them (``max_output_tokens`` 1 to 4096, VAD
``threshold`` 0 to 1, ``speed`` 0.25 to 1.5, ids up to 32 characters, metadata 16 pairs of 64/512
characters) and otherwise :mod:`~rxrealtime.server.limits`.
"""

from __future__ import annotations

from collections.abc import Mapping

from rxrealtime.server.limits import (
    MAX_EVENT_ID_LENGTH,
    MAX_ID_LENGTH,
    MAX_METADATA_KEY_LENGTH,
    MAX_METADATA_PAIRS,
    MAX_METADATA_VALUE_LENGTH,
)
from rxrealtime.server.schema import (
    Arr,
    Bool,
    Either,
    Free,
    Int,
    Map,
    Num,
    Obj,
    Spec,
    Str,
    Tagged,
)

__all__ = [
    "EVENT_FIELDS",
    "ITEM",
    "MODALITIES",
    "REALTIME_SESSION",
    "RESPONSE_PARAMS",
    "TRANSCRIPTION_SESSION",
]

MODALITIES = ("text", "audio")
_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")
_ID = Str(max_length=MAX_ID_LENGTH)
_LONG_ID = Str(max_length=MAX_EVENT_ID_LENGTH)
_STATUS = Str(enum=("completed", "incomplete", "in_progress"))


def _obj(required: tuple[str, ...] = (), nullable: bool = True, **fields: Spec) -> Obj:
    return Obj(fields, frozenset(required), nullable)


_MCP_INVOCATION: Mapping[str, Spec] = {
    "id": _LONG_ID,
    "arguments": Str(),
    "name": Str(),
    "server_label": Str(),
}
"""An MCP tool invocation, all fields required: an ``mcp_call`` item has them, and so has the
``mcp_approval_request`` item that asks to run it."""


def _tagged(
    variants: Mapping[str, Obj], default: str | None = None, nullable: bool = True
) -> Tagged:
    """Variants keyed by ``type``; each variant's own ``type`` field is its tag."""
    full = {
        tag: Obj({"type": Str(enum=(tag,)), **spec.fields}, spec.required, spec.nullable)
        for tag, spec in variants.items()
    }
    return Tagged(full, default=default, nullable=nullable)


# -- audio -------------------------------------------------------------------------------------

AUDIO_FORMAT = _tagged(
    {
        "audio/pcm": _obj(rate=Int(choices=(24000,))),
        "audio/pcmu": _obj(),
        "audio/pcma": _obj(),
    }
)
_TURN_DETECTION = _tagged(
    {
        "server_vad": _obj(
            create_response=Bool(),
            idle_timeout_ms=Int(minimum=0),
            interrupt_response=Bool(),
            prefix_padding_ms=Int(minimum=0),
            silence_duration_ms=Int(minimum=0),
            threshold=Num(minimum=0.0, maximum=1.0),
        ),
        "semantic_vad": _obj(
            create_response=Bool(),
            eagerness=Str(enum=("low", "medium", "high", "auto")),
            interrupt_response=Bool(),
        ),
    }
)
_NOISE_REDUCTION = _obj(type=Str(enum=("near_field", "far_field")), strength=Num(minimum=0.0))
_TRANSCRIPTION = _obj(
    delay=Str(enum=_EFFORTS),
    keywords=Arr(Str()),
    language=Str(),
    languages=Arr(Str()),
    model=Str(),
    prompt=Str(),
)
_AUDIO_INPUT = _obj(
    nullable=False,
    format=AUDIO_FORMAT,
    noise_reduction=_NOISE_REDUCTION,
    transcription=_TRANSCRIPTION,
    turn_detection=_TURN_DETECTION,
)
VOICE = Either((Str(), _obj(("id",), id=Str())))
_AUDIO_OUTPUT = _obj(
    nullable=False, format=AUDIO_FORMAT, speed=Num(minimum=0.25, maximum=1.5), voice=VOICE
)

# -- tools and the rest of a session -------------------------------------------------------------

_FILTER = _obj(read_only=Bool(), tool_names=Arr(Str()))
_MCP_TOOL = _obj(
    ("server_label",),
    server_label=Str(),
    allowed_callers=Arr(Str(enum=("direct", "programmatic"))),
    allowed_tools=Either((Arr(Str()), _FILTER)),
    authorization=Str(),
    connector_id=Str(
        enum=(
            "connector_dropbox",
            "connector_gmail",
            "connector_googlecalendar",
            "connector_googledrive",
            "connector_microsoftteams",
            "connector_outlookcalendar",
            "connector_outlookemail",
            "connector_sharepoint",
        )
    ),
    defer_loading=Bool(),
    headers=Map(Str()),
    require_approval=Either((Str(enum=("always", "never")), _obj(always=_FILTER, never=_FILTER))),
    server_description=Str(),
    server_url=Str(),
    tunnel_id=Str(),
)
_FUNCTION_TOOL = _obj(name=Str(), description=Str(), parameters=Free())
TOOLS = Arr(_tagged({"function": _FUNCTION_TOOL, "mcp": _MCP_TOOL}, default="function"))
_TOOL_CHOICE = Either(
    (
        Str(enum=("none", "auto", "required")),
        _tagged(
            {
                "function": _obj(("name",), name=Str()),
                "mcp": _obj(("server_label",), server_label=Str(), name=Str()),
            }
        ),
    )
)
_MAX_OUTPUT_TOKENS = Either((Int(minimum=1, maximum=4096), Str(enum=("inf",))))
_PROMPT = _obj(("id",), id=Str(), variables=Map(Free()), version=Str())
_REASONING = _obj(effort=Str(enum=_EFFORTS))
_INCLUDE = Arr(Str(enum=("item.input_audio_transcription.logprobs",)))
_OUTPUT_MODALITIES = Arr(Str(enum=MODALITIES), min_items=1)

REALTIME_SESSION = _obj(
    ("type",),
    nullable=False,
    type=Str(enum=("realtime",)),
    audio=_obj(nullable=False, input=_AUDIO_INPUT, output=_AUDIO_OUTPUT),
    include=_INCLUDE,
    instructions=Str(),
    max_output_tokens=_MAX_OUTPUT_TOKENS,
    model=Str(),
    output_modalities=_OUTPUT_MODALITIES,
    parallel_tool_calls=Bool(),
    prompt=_PROMPT,
    reasoning=_REASONING,
    tool_choice=_TOOL_CHOICE,
    tools=TOOLS,
    tracing=Either(
        (Str(enum=("auto",)), _obj(group_id=Str(), metadata=Free(), workflow_name=Str()))
    ),
    truncation=Either(
        (
            Str(enum=("auto", "disabled")),
            _tagged(
                {
                    "retention_ratio": _obj(
                        ("retention_ratio",),
                        retention_ratio=Num(minimum=0.0, maximum=1.0),
                        token_limits=_obj(post_instructions=Int(minimum=0)),
                    )
                }
            ),
        )
    ),
)
"""``session.update``'s ``session`` for a realtime session."""

TRANSCRIPTION_SESSION = _obj(
    ("type",),
    nullable=False,
    type=Str(enum=("transcription",)),
    audio=_obj(nullable=False, input=_AUDIO_INPUT),
    include=_INCLUDE,
)
"""``session.update``'s ``session`` for a transcription session."""

# -- conversation items ------------------------------------------------------------------------

_COMMON: dict[str, Spec] = {"id": _ID, "object": Str(enum=("realtime.item",)), "status": _STATUS}
_PART = Free(kind=dict)  # checked per role by validation.normalize_item


def _item(required: tuple[str, ...], **fields: Spec) -> Obj:
    """A message or function item: its fields plus ``id``, ``object`` and ``status``."""
    return Obj({**fields, **_COMMON}, frozenset(required))


ITEM = _tagged(
    {
        "message": _item(("role", "content"), role=Str(), content=Arr(_PART)),
        "function_call": _item(("name", "arguments"), name=Str(), arguments=Str(), call_id=_ID),
        "function_call_output": _item(("call_id", "output"), call_id=_ID, output=Str()),
        "mcp_approval_response": _obj(
            ("id", "approval_request_id", "approve"),
            id=_LONG_ID,
            approval_request_id=_LONG_ID,
            approve=Bool(),
            reason=Str(),
        ),
        "mcp_list_tools": _obj(
            ("server_label", "tools"),
            id=_LONG_ID,
            server_label=Str(),
            tools=Arr(
                _obj(
                    ("input_schema", "name"),
                    input_schema=Free(),
                    name=Str(),
                    annotations=Free(),
                    description=Str(),
                )
            ),
        ),
        "mcp_call": Obj(
            {
                **_MCP_INVOCATION,
                "approval_request_id": _LONG_ID,
                "error": Free(kind=dict),
                "output": Str(),
            },
            frozenset(_MCP_INVOCATION),
        ),
        "mcp_approval_request": Obj(_MCP_INVOCATION, frozenset(_MCP_INVOCATION)),
    },
    nullable=False,
)
"""A conversation item (``conversation.item.create``'s ``item``, ``response.input[]``)."""

ITEM_REFERENCE = _obj(("id",), type=Str(enum=("item_reference",)), id=_ID)

_LATER = Free(kind=dict, nullable=False, limited=False)
"""An object checked later by its own spec (a session update, an item)."""

# -- response.create ---------------------------------------------------------------------------

RESPONSE_PARAMS = _obj(
    nullable=True,
    audio=_obj(output=_obj(format=AUDIO_FORMAT, voice=VOICE)),
    conversation=Str(enum=("auto", "none")),
    input=Arr(_LATER),  # items and item references: checked one by one when used
    instructions=Str(),
    max_output_tokens=_MAX_OUTPUT_TOKENS,
    metadata=Map(
        Str(max_length=MAX_METADATA_VALUE_LENGTH),
        max_pairs=MAX_METADATA_PAIRS,
        key_max_length=MAX_METADATA_KEY_LENGTH,
    ),
    output_modalities=_OUTPUT_MODALITIES,
    parallel_tool_calls=Bool(),
    prompt=_PROMPT,
    reasoning=_REASONING,
    tool_choice=_TOOL_CHOICE,
    tools=TOOLS,
)
"""``response.create``'s ``response``."""

# -- client events -----------------------------------------------------------------------------

EVENT_FIELDS: dict[str, Obj] = {
    "session.update": _obj(("session",), session=_LATER),
    "input_audio_buffer.append": _obj(("audio",), audio=Str(nullable=False)),
    "input_audio_buffer.commit": _obj(),
    "input_audio_buffer.clear": _obj(),
    "output_audio_buffer.clear": _obj(),
    "conversation.item.create": _obj(("item",), item=_LATER, previous_item_id=_ID),
    "conversation.item.delete": _obj(("item_id",), item_id=_ID),
    "conversation.item.retrieve": _obj(("item_id",), item_id=_ID),
    "conversation.item.truncate": _obj(
        ("item_id", "content_index", "audio_end_ms"),
        item_id=_ID,
        content_index=Int(minimum=0),
        audio_end_ms=Int(minimum=0),
    ),
    "response.create": _obj(response=RESPONSE_PARAMS),
    "response.cancel": _obj(response_id=_LONG_ID),
}
"""Each GA client event's own fields (besides ``type`` and ``event_id``), in the order the live
service lists the types in errors."""

EVENT_ID = _LONG_ID
