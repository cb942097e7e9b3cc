"""``rxrealtime monitor``: every session published to Redis, watched live from one process.

The view is built from the library's own pieces: :func:`rxrealtime.sources.redis_group` (a
consumer group over every session), :func:`rxrealtime.sources.by_session` (one
``Observable[ServerEvent]`` per session), and on each session the operators a single session
would use -- ``ops.usage`` (tokens and cost), ``ops.latency`` (time to first audio and first
delta, measured on the sessions' own clock: each event's receive time, not the time the monitor
got it), ``ops.errors`` (``error`` events and frames that did not decode).

As a library::

    monitor = FleetMonitor(prices=ops.Prices(input_text=4, output_text=16))
    subscription = monitor.attach(rr.sources.redis_group(url, "monitor", None))
    ...
    print(monitor.snapshot())

or ``await run_monitor(url, duration=60)`` for the terminal view. Figures are cumulative since
the monitor started, except the rates and the lag, which cover the last ``window`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO, TypeVar

import attrs
from reactivex import abc
from reactivex import typing as rx_typing
from reactivex.disposable import CompositeDisposable
from reactivex.scheduler import ImmediateScheduler
from reactivex.scheduler.scheduler import Scheduler

from rxrealtime import operators as ops
from rxrealtime.sources import (
    SessionEnd,
    SessionItem,
    SessionStream,
    by_session,
    redis_group,
)
from rxrealtime.sources.redis_layout import (
    DEFAULT_PREFIX,
    DEFAULT_URL,
    StreamLayout,
    open_client,
)

__all__ = ["FleetMonitor", "MonitorSnapshot", "RecordClock", "add_parser", "main", "run_monitor"]

_TState = TypeVar("_TState")


class RecordClock(Scheduler):
    """A scheduler whose ``now`` is the receive time of the event being delivered, so that
    time-measuring operators (``ops.latency``) measure the session, not the monitor's delay.
    Scheduling runs actions at once (no operator used here schedules)."""

    def __init__(self) -> None:
        super().__init__()
        self._ts = time.time()
        self._at: datetime | None = None  # made when asked for (most events never are)

    @property
    def now(self) -> datetime:
        at = self._at
        if at is None:
            at = self._at = datetime.fromtimestamp(self._ts, UTC)
        return at

    @property
    def at(self) -> datetime:
        """The time being delivered (``now``)."""
        return self.now

    def set(self, ts: float | None) -> None:
        if ts is not None:
            self._ts, self._at = ts, None

    def schedule(
        self, action: rx_typing.ScheduledAction[_TState], state: _TState | None = None
    ) -> abc.DisposableBase:
        return ImmediateScheduler.singleton().schedule(action, state)

    def schedule_relative(
        self,
        duetime: rx_typing.RelativeTime,
        action: rx_typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        return ImmediateScheduler.singleton().schedule_relative(duetime, action, state)

    def schedule_absolute(
        self,
        duetime: rx_typing.AbsoluteTime,
        action: rx_typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        return ImmediateScheduler.singleton().schedule_absolute(duetime, action, state)


@attrs.frozen
class MonitorSnapshot:
    """What :meth:`FleetMonitor.snapshot` reports (times in milliseconds)."""

    active: int
    ended: int
    failed: int
    """Sessions that ended with reason ``error``."""
    events: int
    events_per_s: float
    first_audio_p50: float | None
    """Speech stopped -> first audio of the answer (``ops.latency``)."""
    first_audio_p95: float | None
    first_delta_p50: float | None
    """``response.created`` -> first delta."""
    first_delta_p95: float | None
    responses: int
    tokens: int
    cost: float | None
    errors: int
    """``error`` events and frames that did not decode."""
    lag_p50: float | None
    """Session receive -> monitor subscriber, over the last window."""
    lag_p99: float | None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile of ``values`` (nearest rank), ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class FleetMonitor:
    """Aggregates a group stream (``Observable[SessionItem]``) into :class:`MonitorSnapshot`.

    Everything runs in the subscriber, on the thread that delivers the items (the loop's);
    :meth:`snapshot` is cheap and may be called at any time. ``lags`` keeps every lag measured
    (seconds) when ``keep_lags`` is set (the benchmark uses it).
    """

    def __init__(
        self,
        prices: ops.Prices | None = None,
        *,
        window: float = 5.0,
        clock: Callable[[], float] = time.time,
        keep_lags: bool = False,
    ) -> None:
        self._prices = prices
        self._window = window
        self._clock = clock
        self._record_clock = RecordClock()
        self._active: set[str] = set()
        self._ended = self._failed = self._events = self._errors = 0
        self._usage: dict[str, ops.UsageTotals] = {}
        self._first_audio: list[float] = []
        self._first_delta: list[float] = []
        self._recent: collections.deque[tuple[float, float]] = collections.deque()
        self.lags: list[float] | None = [] if keep_lags else None

    def attach(self, source: Any) -> abc.DisposableBase:
        """Subscribe to ``source`` (a :func:`~rxrealtime.sources.redis_group` Observable)."""
        shared = source.pipe(_tap(self._on_item))
        return CompositeDisposable(shared.pipe(by_session()).subscribe(self._on_session))

    def _on_item(self, item: SessionItem) -> None:
        now = self._clock()
        if isinstance(item, SessionEnd):
            self._active.discard(item.session_id)
            self._ended += 1
            self._failed += item.reason == "error"
            return
        self._active.add(item.session_id)
        self._events += 1
        self._record_clock.set(item.ts)
        lag = now - item.ts if item.ts is not None else 0.0
        self._recent.append((now, lag))
        if self.lags is not None:
            self.lags.append(lag)
        while self._recent and self._recent[0][0] < now - self._window:
            self._recent.popleft()

    def _on_session(self, session: SessionStream) -> None:
        events = session.events
        sid = session.session_id

        def on_usage(totals: ops.UsageTotals) -> None:
            self._usage[sid] = totals

        def on_latency(latency: ops.Latency) -> None:
            if latency.speech_to_first_audio_ms is not None:
                self._first_audio.append(latency.speech_to_first_audio_ms)
            if latency.created_to_first_delta_ms is not None:
                self._first_delta.append(latency.created_to_first_delta_ms)

        def count_error(_: object) -> None:
            self._errors += 1

        events.pipe(ops.usage(self._prices)).subscribe(on_usage)
        events.pipe(ops.latency(scheduler=self._record_clock)).subscribe(on_latency)
        events.pipe(ops.errors()).subscribe(count_error)

    def snapshot(self) -> MonitorSnapshot:
        now = self._clock()
        while self._recent and self._recent[0][0] < now - self._window:
            self._recent.popleft()
        lags = [lag * 1000 for _, lag in self._recent]
        totals = list(self._usage.values())
        costs = [t.cost for t in totals if t.cost is not None]
        return MonitorSnapshot(
            active=len(self._active),
            ended=self._ended,
            failed=self._failed,
            events=self._events,
            events_per_s=len(self._recent) / self._window,
            first_audio_p50=percentile(self._first_audio, 0.5),
            first_audio_p95=percentile(self._first_audio, 0.95),
            first_delta_p50=percentile(self._first_delta, 0.5),
            first_delta_p95=percentile(self._first_delta, 0.95),
            responses=sum(t.responses for t in totals),
            tokens=sum(t.total_tokens for t in totals),
            cost=sum(costs) if self._prices is not None else None,
            errors=self._errors,
            lag_p50=percentile(lags, 0.5),
            lag_p99=percentile(lags, 0.99),
        )


def _tap(action: Callable[[SessionItem], None]) -> Any:
    from reactivex import operators as rx_ops

    return rx_ops.do_action(action)


def _ms(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.0f}"


def render(snapshot: MonitorSnapshot) -> list[str]:
    """The terminal view of one snapshot."""
    cost = "n/a (no --prices)" if snapshot.cost is None else f"{snapshot.cost:.4f}"
    return [
        f"sessions  active {snapshot.active:6d}   ended {snapshot.ended:6d}   "
        f"failed {snapshot.failed:4d}",
        f"events    {snapshot.events:10d} total   {snapshot.events_per_s:9.1f} /s",
        f"1st audio p50 {_ms(snapshot.first_audio_p50)} ms   "
        f"p95 {_ms(snapshot.first_audio_p95)} ms   (speech stopped -> first audio)",
        f"1st delta p50 {_ms(snapshot.first_delta_p50)} ms   "
        f"p95 {_ms(snapshot.first_delta_p95)} ms   (response created -> first delta)",
        f"usage     {snapshot.responses} responses, {snapshot.tokens} tokens, cost {cost}",
        f"errors    {snapshot.errors}",
        f"lag       p50 {_ms(snapshot.lag_p50)} ms   p99 {_ms(snapshot.lag_p99)} ms"
        "   (session receive -> monitor)",
    ]


async def run_monitor(
    url: str = DEFAULT_URL,
    *,
    group: str = "rxrealtime-monitor",
    consumer: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    shards: int = 1,
    prices: ops.Prices | None = None,
    interval: float = 1.0,
    duration: float | None = None,
    until_idle: float | None = None,
    out: TextIO | None = None,
) -> MonitorSnapshot:
    """Show the live view every ``interval`` seconds until ``duration`` has passed, or (with
    ``until_idle``) until the fleet is done: at least one session ended, none is active, the
    group has delivered and acknowledged every entry stored (asked of Redis, so a monitor
    that is merely slow -- a loaded machine -- never mistakes its own delay for the end) and
    nothing new arrived for ``until_idle`` seconds; else forever. Returns the last snapshot.
    New groups start with the entries still stored."""
    stream = out if out is not None else sys.stdout
    monitor = FleetMonitor(prices)
    failure: list[Exception] = []
    source = redis_group(url, group, consumer, prefix=prefix, shards=shards)
    subscription = monitor.attach(source.pipe(_error_sink(failure.append)))
    loop = asyncio.get_running_loop()
    started = loop.time()
    last_change, last_events = started, -1
    interactive = stream.isatty()
    checker = open_client(url) if until_idle is not None else None
    streams = StreamLayout(prefix, shards).shard_streams()
    try:
        while not failure:
            await asyncio.sleep(interval)
            snapshot = monitor.snapshot()
            lines = render(snapshot)
            if interactive:
                stream.write("\x1b[H\x1b[2J")
            stream.write("\n".join(lines) + "\n" + ("" if interactive else "\n"))
            stream.flush()
            now = loop.time()
            if snapshot.events != last_events:
                last_change, last_events = now, snapshot.events
            if duration is not None and now - started >= duration:
                break
            idle = until_idle is not None and snapshot.ended and snapshot.active == 0
            if idle and until_idle is not None and now - last_change >= until_idle:
                assert checker is not None
                if await _group_drained(checker, streams, group):
                    break
    finally:
        subscription.dispose()
        if checker is not None:
            await checker.aclose()
    if failure:
        raise failure[0]
    return monitor.snapshot()


def _entry_key(entry_id: object) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


async def _group_drained(client: Any, streams: Sequence[str], group: str) -> bool:
    """Whether ``group`` has been delivered every entry of ``streams`` and acknowledged them
    all (``XINFO``; works on Redis 6.2 and later). ``False`` when Redis cannot say."""
    try:
        for name in streams:
            info: Any = await client.xinfo_stream(name)
            groups: Any = await client.xinfo_groups(name)
            mine = [g for g in groups if g.get("name") in (group, group.encode())]
            if not mine or int(mine[0].get("pending", 1)):
                return False
            delivered = _entry_key(mine[0].get("last-delivered-id", b"0-0"))
            if delivered < _entry_key(info.get("last-generated-id", b"0-0")):
                return False
    except Exception:  # Redis away, no such stream yet: not known to be drained
        return False
    return True


def _error_sink(report: Callable[[Exception], None]) -> Any:
    from reactivex import operators as rx_ops

    def catch(error: Exception, _source: Any) -> Any:
        import reactivex

        report(error)
        return reactivex.empty()

    return rx_ops.catch(catch)


def parse_prices(text: str) -> ops.Prices:
    """``input_text=4,output_text=16,...`` (per million tokens) as :class:`ops.Prices`."""
    values: dict[str, float] = {}
    for part in text.split(","):
        name, _, amount = part.partition("=")
        values[name.strip()] = float(amount)
    try:
        return ops.Prices(**values)
    except TypeError as error:
        raise argparse.ArgumentTypeError(f"bad --prices: {error}") from None


def add_parser(commands: Any) -> None:
    """Register ``monitor`` on the command line's sub-parsers."""
    parser = commands.add_parser(
        "monitor", help="watch every session published to Redis (live terminal view)"
    )
    parser.add_argument("--redis", default=DEFAULT_URL, metavar="URL", help="Redis URL")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix of the fleet")
    parser.add_argument("--shards", type=int, default=1, help="group streams (as published)")
    parser.add_argument("--group", default="rxrealtime-monitor", help="consumer group")
    parser.add_argument("--prices", type=parse_prices, metavar="NAME=PRICE,...",
                        help="per million tokens, e.g. input_text=4,output_text=16,"
                        "input_audio=32,output_audio=64")  # fmt: skip
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between views")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument(
        "--until-idle",
        type=float,
        metavar="S",
        help="stop once every session ended, the group is drained and nothing came for S s",
    )


async def main(args: argparse.Namespace) -> None:
    """What ``monitor`` runs for parsed ``args``."""
    await run_monitor(
        args.redis,
        group=args.group,
        prefix=args.prefix,
        shards=args.shards,
        prices=args.prices,
        interval=args.interval,
        duration=args.duration,
        until_idle=args.until_idle,
    )
