"""The embedded Realtime server: the GA protocol on loopback, with a deterministic model.

Run it for demos, notebooks and tests — no API key, no network::

    from rxrealtime.server import serve

    async with serve(realtime_audio=False) as server:
        client = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
        async with client.realtime.connect(model="gpt-realtime") as connection:
            ...

Or from a shell: ``python -m rxrealtime serve --port 8765``.

The model is pluggable (:class:`Model`); the default (:class:`DefaultModel`) is documented
reply by reply so tests can predict it. Audio is PCM16 24 kHz, or G.711 µ-law / A-law 8 kHz when
the session or response asks for ``audio/pcmu`` / ``audio/pcma`` (:mod:`rxrealtime.server.g711`);
the server's voice is a tone code (:mod:`rxrealtime.server.audio`) that its transcription reads
back. :class:`Faults` injects drops, bad frames, duplicates, delays and stalls for client
resilience tests.

Client events are checked against the request models of the official SDK (every field it types
is accepted, values the live service refuses get its errors); how the server matches the live
service, behaviour by behaviour and with public sources, is in ``docs/protocol-fidelity.md``.
Its bounds (frame size, unread events, id lengths, nesting) are named in
:mod:`rxrealtime.server.limits`.
"""

from __future__ import annotations

from rxrealtime.server.app import RealtimeServer, serve
from rxrealtime.server.audio import decode_tones, encode_text
from rxrealtime.server.faults import Faults
from rxrealtime.server.model import (
    DefaultModel,
    Message,
    Model,
    PlannedOutput,
    ResponseRequest,
    ToolCall,
)

__all__ = [
    "DefaultModel",
    "Faults",
    "Message",
    "Model",
    "PlannedOutput",
    "RealtimeServer",
    "ResponseRequest",
    "ToolCall",
    "decode_tones",
    "encode_text",
    "serve",
]
