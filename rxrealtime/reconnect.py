"""Opt-in reconnection: the policy, the stream's markers and the continuity state.

The code lives in :mod:`rxrealtime.session.reconnect` (the session package owns reconnection);
this module keeps the ``rxrealtime.reconnect`` import path, and every name, working.
"""

from __future__ import annotations

from rxrealtime.session.reconnect import (
    MIN_RECONNECT_DELAY,
    RECOVERABLE_CLOSE_CODES,
    Continuity,
    Reconnected,
    ReconnectPolicy,
    ResponseInterrupted,
    deep_merge,
    replayable_item,
)

__all__ = [
    "MIN_RECONNECT_DELAY",
    "RECOVERABLE_CLOSE_CODES",
    "Continuity",
    "ReconnectPolicy",
    "Reconnected",
    "ResponseInterrupted",
    "deep_merge",
    "replayable_item",
]
