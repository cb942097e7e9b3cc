"""The embedded server's bounds: how much one client may make it hold, and how long strings and
nesting may be. Each is a named constant so tests, docs and the fidelity matrix
(``docs/protocol-fidelity.md``) can cite it.

Where the live service publishes a limit the constant follows it; where it does not, the value is
ours, chosen so that nothing a real client sends is refused (and documented as our choice).
"""

from __future__ import annotations

__all__ = [
    "MAX_EVENT_ID_LENGTH",
    "MAX_FRAME_BYTES",
    "MAX_ID_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_METADATA_KEY_LENGTH",
    "MAX_METADATA_PAIRS",
    "MAX_METADATA_VALUE_LENGTH",
    "MAX_OUTBOX_BYTES",
    "OUTBOX_CLOSE_CODE",
    "OUTBOX_CLOSE_TIMEOUT",
    "OUTBOX_PAUSE_BYTES",
    "OUTBOX_STALL_TIMEOUT",
]

MAX_FRAME_BYTES = 21 * 1024 * 1024
"""Largest client frame accepted (bytes). The live service documents 15 MiB of audio per
``input_audio_buffer.append``; in base64 that is 20 MiB, plus room for the JSON around it. A larger
frame closes the connection with 1009 (message too big), as websockets and the live endpoint do."""

MAX_OUTBOX_BYTES = 32 * 1024 * 1024
"""Serialised server events queued for one client that is not reading them (bytes). Past this the
server stops queueing and closes the connection with :data:`OUTBOX_CLOSE_CODE`."""

OUTBOX_PAUSE_BYTES = MAX_OUTBOX_BYTES // 2
"""While more than this many bytes of events wait to be written, the server reads no further
client event (backpressure: a burst of requests from a client that does read is answered, not
cut off)."""

OUTBOX_STALL_TIMEOUT = 60.0
"""Seconds one frame may wait for a client that takes nothing before the TCP connection is
aborted (our choice; the live service does not document its timeout)."""

OUTBOX_CLOSE_CODE = 1008
"""Close code (policy violation) for a client whose unread events passed :data:`MAX_OUTBOX_BYTES`.
The live service does not document its code for this case; this is our choice."""

OUTBOX_CLOSE_TIMEOUT = 2.0
"""Seconds the close handshake with a client that does not read may take before the TCP
connection is aborted."""

MAX_ID_LENGTH = 32
"""Longest client-supplied item id or call id: the live service answers
``string_above_max_length`` ("Expected a string with maximum length 32") beyond it."""

MAX_EVENT_ID_LENGTH = 512
"""Longest client ``event_id`` (our bound: the live service does not publish one)."""

MAX_JSON_DEPTH = 64
"""Deepest nesting accepted inside free-form values (a tool's ``parameters`` schema, ``tracing``
metadata, prompt variables); our bound, far above any real JSON Schema, and safely below the
254 levels the server's JSON writer can serialise."""

MAX_METADATA_PAIRS = 16
"""``response.metadata``: at most 16 key-value pairs (as the SDK documents)."""

MAX_METADATA_KEY_LENGTH = 64
"""``response.metadata`` keys: at most 64 characters (as the SDK documents)."""

MAX_METADATA_VALUE_LENGTH = 512
"""``response.metadata`` values: at most 512 characters (as the SDK documents)."""
