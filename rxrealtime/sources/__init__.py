"""Sources: Observables of events that do not come from a live socket.

Recordings are read by :func:`rxrealtime.replay` (:mod:`rxrealtime.replay`); this package holds
the broker sources, fed by :class:`rxrealtime.sinks.RedisPublisher`:

* :func:`redis_session` -- one session's stream back as ``Observable[ServerEvent]`` (a replay,
  with the original timing if asked, or a live tail);
* :func:`redis_group` -- every session through a Redis consumer group, as
  :class:`SessionEvent`/:class:`SessionEnd` items (at-least-once, one consumer per entry);
  :func:`by_session` splits that into one ``Observable[ServerEvent]`` per session.

The ``redis`` package (``pip install 'rxrealtime[redis]'``) is imported only when a source is
subscribed or a client opened; importing this package does not need it. The key layout is in
:mod:`rxrealtime.sources.redis_layout`.
"""

from __future__ import annotations

from rxrealtime.sources.redis import default_consumer, redis_group, redis_session
from rxrealtime.sources.redis_layout import StreamLayout
from rxrealtime.sources.sessions import (
    SessionEnd,
    SessionEvent,
    SessionItem,
    SessionStream,
    by_session,
)

__all__ = [
    "SessionEnd",
    "SessionEvent",
    "SessionItem",
    "SessionStream",
    "StreamLayout",
    "by_session",
    "default_consumer",
    "redis_group",
    "redis_session",
]
