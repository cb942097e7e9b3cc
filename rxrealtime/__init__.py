"""rxrealtime: the OpenAI Realtime API as a reactivex Observable of typed, immutable events.

::

    import rxrealtime as rr
    from rxrealtime import events as ev, operators as ops

    async with rr.connect(model="gpt-realtime") as session:
        session.events.pipe(ops.text_only()).subscribe(print)
        await session.send(ev.ConversationItemCreate.user_text("Hello"))
        await session.send(ev.ResponseCreate())

The layers and the policies the code follows (errors are data until fatal, a subscriber cannot
hurt the session, nothing is silently lost, on_next on the loop's thread, notebooks never
blocked, secrets never shown) are stated in the module docstrings of each layer.
"""

from __future__ import annotations

from rxrealtime import audio, errors, events, operators, scheduling, sinks, sources
from rxrealtime._version import __version__
from rxrealtime.reconnect import Reconnected, ReconnectPolicy, ResponseInterrupted
from rxrealtime.replay import Record, ReplaySession, replay, replay_records, replay_session
from rxrealtime.scheduling import LoopScheduler, observe_on_thread, to_async_iterable
from rxrealtime.session import RealtimeSession, SessionStatistics, connect, from_sdk_connection
from rxrealtime.tools import FunctionTool, tool

__all__ = [
    "FunctionTool",
    "LoopScheduler",
    "RealtimeSession",
    "ReconnectPolicy",
    "Reconnected",
    "Record",
    "ReplaySession",
    "ResponseInterrupted",
    "SessionStatistics",
    "__version__",
    "audio",
    "connect",
    "errors",
    "events",
    "from_sdk_connection",
    "observe_on_thread",
    "operators",
    "replay",
    "replay_records",
    "replay_session",
    "scheduling",
    "sinks",
    "sources",
    "to_async_iterable",
    "tool",
]
