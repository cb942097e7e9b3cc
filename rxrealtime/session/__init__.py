"""The session: one receive task per connection, fanned out as a hot Observable.

``async with rxrealtime.connect(...) as session:`` opens the socket and starts the receive task;
every frame becomes exactly one typed event (``ev.decode`` never raises: unknown and malformed
frames are ``UnknownEvent``/``InvalidEvent`` events, a server ``error`` is an ``ErrorEvent``).

Consumers
    ``session.events`` (Rx subscribers), ``async for event in session`` (each iterator has its
    own bounded queue) and ``await session.recv()`` (one shared queue) all see every event, in
    arrival order, from the moment they join. Rx subscribers are called synchronously on the
    loop's thread, in subscription order, before the receive task reads the next frame.

Events before the first consumer (the buffering policy)
    Events that arrive while nobody listens are kept in a backlog of at most ``buffer_size``
    events (default 1024). When the first consumer joins, the backlog is delivered at the next
    turn of the event loop, to every consumer present at that moment — so several pipelines
    subscribed one after the other in the same synchronous block all see ``session.created``.
    If the backlog overflows, the oldest events are dropped, counted in ``statistics().dropped``
    and logged (warning, logger ``rxrealtime``). A consumer joining later sees live events only.
    If the connection ends before anyone listened, the first consumers get the backlog and then
    the end of the stream.

Errors (DESIGN.md policy)
    An exception raised by one Rx subscriber (anywhere in its pipeline, including its own
    ``on_error`` default) is logged on ``rxrealtime`` with its traceback, counted in
    ``statistics().subscriber_errors``, and that subscriber is detached (it receives nothing
    more); the receive task and the other consumers go on. A close with code 1000, or a close
    this side asked for (``close()``), completes every consumer. Any other close errors them with
    :class:`~rxrealtime.errors.ConnectionClosedError` carrying ``code`` and ``reason``; 3000 is
    :class:`~rxrealtime.errors.AuthenticationError` and 4000
    :class:`~rxrealtime.errors.SessionRejectedError`, whose messages name the cause taken from the
    ``error`` event that immediately preceded the close.

Reconnects, timeouts and limits (opt-in, see :func:`connect`)
    With ``reconnect=ReconnectPolicy(...)`` a recoverable close does not end the stream: the
    session reconnects, restores the configuration, and the stream carries
    :class:`~rxrealtime.reconnect.ResponseInterrupted` for each response cut off and one
    :class:`~rxrealtime.reconnect.Reconnected` marker; ``session.events`` stays the same
    Observable (see :mod:`rxrealtime.session.reconnect`). ``idle_timeout`` ends (or reconnects) a
    connection on which nothing arrives. A server frame over ``max_size`` (16 MiB) errors the
    stream with :class:`~rxrealtime.errors.MessageTooBigError`; a client frame over 15 MiB is
    refused by :meth:`RealtimeSession.send_raw` before it is sent.

Threads and schedulers
    Everything here runs on the loop that opened the session. ``session.scheduler`` is that
    loop's :class:`~rxrealtime.scheduling.LoopScheduler`; ``session.events`` and everything
    piped from it default to it at subscribe time, so ``delay``/``debounce``/
    ``buffer_with_time``/``timeout`` run their timers on the loop without a ``scheduler=``
    argument. Use :func:`~rxrealtime.scheduling.observe_on_thread` for blocking sinks. Inside a
    Jupyter kernel each subscriber's callbacks run in the ``contextvars`` context it subscribed
    from, so what it prints or displays belongs to the cell that subscribed.

Lifecycle and cancellation
    Leaving ``async with`` (normally, by exception or by cancellation) closes the socket, waits
    for the receive task and completes every consumer; if that wait is itself cancelled the
    socket is aborted and the task cancelled, so nothing leaks. ``close()`` is idempotent.
    Cancelling a task blocked in ``recv()`` or in an ``async for`` is safe: no event is lost
    for the other consumers.

The package, one job per module
    :mod:`~rxrealtime.session.hub`: the consumer rules above, sans-I/O (:class:`EventHub`: no
    socket, no task), shared with :class:`~rxrealtime.replay.ReplaySession`, so a replayed
    session follows the same rules. :mod:`~rxrealtime.session.base`: what every session
    exposes (:class:`SessionBase`: ``events``, ``recv``, ``iterate``, ``statistics()``, the end
    states, the typed helpers). :mod:`~rxrealtime.session.live`: the receive task, reconnect
    and recycle (:class:`RealtimeSession`). :mod:`~rxrealtime.session.reconnect`: the sans-I/O
    reconnect policy and continuity state. :mod:`~rxrealtime.session.resources`: ``send()`` and
    the typed send helpers. :mod:`~rxrealtime.session.options`: :func:`connect`'s options as
    one object (:class:`ConnectOptions`) and the entry points.
    :mod:`~rxrealtime.session.observable`: :class:`SessionObservable`.
    :mod:`~rxrealtime.session.ask`: ``session.ask(...)``, one-call answers (:class:`Ask`,
    :class:`Answer`).
"""

from __future__ import annotations

from rxrealtime.session.ask import Answer, Ask
from rxrealtime.session.base import SessionBase
from rxrealtime.session.hub import DEFAULT_BUFFER_SIZE, EventHub, SessionStatistics
from rxrealtime.session.live import RealtimeSession
from rxrealtime.session.observable import SessionObservable
from rxrealtime.session.options import (
    DEFAULT_MODEL,
    Connecting,
    ConnectOptions,
    FrameRecorder,
    connect,
    from_sdk_connection,
)
from rxrealtime.session.resources import (
    ClientEventSender,
    ConversationItemResource,
    ConversationResource,
    InputAudioBufferResource,
    OutputAudioBufferResource,
    ResponseResource,
    SessionResource,
)

__all__ = [
    "Answer",
    "Ask",
    "DEFAULT_BUFFER_SIZE",
    "DEFAULT_MODEL",
    "ClientEventSender",
    "ConnectOptions",
    "Connecting",
    "ConversationItemResource",
    "ConversationResource",
    "EventHub",
    "FrameRecorder",
    "InputAudioBufferResource",
    "OutputAudioBufferResource",
    "RealtimeSession",
    "ResponseResource",
    "SessionBase",
    "SessionObservable",
    "SessionResource",
    "SessionStatistics",
    "connect",
    "from_sdk_connection",
]
