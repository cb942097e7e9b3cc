"""Sinks: side effects at the end of a pipeline (terminal, WAV files, recordings, logs, notebooks).

Every event sink is a plain reactivex observer of ``Observable[ServerEvent]``::

    session.events.subscribe(sinks.TextPrinter())
    session.events.subscribe(sinks.WavWriter("answer-{index}.wav"))
    session.events.subscribe(sinks.EventLogger())

Shared guarantees:

* ``on_next`` runs on the thread that delivers the event: the event loop's thread for a live
  session. The blocking I/O a sink does there is small (one buffered write and a flush per
  event), so sinks run inline on the loop; none starts a thread.
* A sink never raises on bad data (an undecodable audio delta, an invalid frame): it skips,
  logs or records it. Files are left valid when the stream fails: the end of the stream
  (``on_completed``/``on_error``) and ``dispose()`` finalise them.
* Sinks are single-use observers (reactivex's ``Observer`` grammar): after the stream ends,
  later notifications are ignored.

``to_dataframe`` / ``DataFrameCollector`` (:mod:`rxrealtime.sinks.dataframe`, extra
``[notebook]``) turn events or a recording into a pandas table; pandas is imported only then.

Sinks that answer the server (``run_tools``, ``send_events``, ``handle_barge_in``) live in
:mod:`rxrealtime.sinks.tool_runner` and are re-exported here.
"""

from __future__ import annotations

from rxrealtime.sinks._logging import EventLogger, default_level, summarize
from rxrealtime.sinks._notebook import DisplayState, NotebookDisplay, TextView, default_render
from rxrealtime.sinks._recorder import FORMAT_VERSION, Recorder, RecordingTransport, scrub
from rxrealtime.sinks._redis_offload import OffloadedRedisPublisher
from rxrealtime.sinks._text import TextPrinter
from rxrealtime.sinks._wav import WavFile, WavWriter
from rxrealtime.sinks.dataframe import DataFrameCollector, events_dataframe, to_dataframe
from rxrealtime.sinks.redis import PublisherStatistics, RedisPublisher
from rxrealtime.sinks.tool_runner import (
    EventSender,
    SessionLike,
    Tool,
    ToolRunner,
    ToolRunnerStatistics,
    handle_barge_in,
    run_tools,
    send_events,
)

__all__ = [
    "FORMAT_VERSION",
    "DataFrameCollector",
    "DisplayState",
    "EventLogger",
    "EventSender",
    "NotebookDisplay",
    "OffloadedRedisPublisher",
    "PublisherStatistics",
    "Recorder",
    "RecordingTransport",
    "RedisPublisher",
    "SessionLike",
    "TextPrinter",
    "TextView",
    "Tool",
    "ToolRunner",
    "ToolRunnerStatistics",
    "WavFile",
    "WavWriter",
    "default_level",
    "default_render",
    "events_dataframe",
    "handle_barge_in",
    "run_tools",
    "scrub",
    "send_events",
    "summarize",
    "to_dataframe",
]
