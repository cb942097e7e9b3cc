"""How many real-time sessions one client process (one core) sustains.

The embedded server runs in separate processes (this file with ``--serve``: the embedded server
plus an event-loop lag probe; ``--servers K`` starts K of them and spreads the sessions).
Every session, in this one client process and event loop, does what a voice app does:

* streams input audio in real time (100 ms of 24 kHz PCM16 every 100 ms through
  ``session.input_audio_buffer.append``, server VAD off, the buffer cleared every 5 s);
* asks for a spoken reply ("hello" → about 3 s of audio) and, when it is done, the next one;
* one ``session.events`` subscriber measures every output audio delta.

Latency method: the server paces output audio in real time — delta *k* of a response leaves at
``start + (audio before k)``. The client anchors each response on the arrival of its first
audio delta and measures, for every later delta, ``arrival - (anchor + audio before k)``: how
late it arrived against the server's own schedule. Server overload, socket buffering and
client overload all show up in it; the constant network delay of the first delta does not (on
loopback it is well under a millisecond when idle). "No event lost": every ``response.created``
got its ``response.done``, no frame failed to decode, no queue dropped anything
(``statistics().dropped == 0``) and no session errored.

Who was late: the client process and every server process run a lag probe (a task that sleeps
5 ms again and again and records how late it wakes). A late delta whose server's loop lagged
as much was late in the server; when only the client's loop lags, the client is the limit.

CPU: the CPU time of the client and of the server processes during the measured window (100% =
one core), and of everything else on the machine (``/proc/stat`` minus ours): on a shared
machine other work takes cores away, and a level can then fail with no process of ours
saturated. The client's cost per session gives its capacity: sessions per client core =
sessions / client CPU, from the largest passing level.

Levels are tried in increasing order for ``--duration`` seconds each (``--repeat R`` times,
medians reported); sessions connect spread over one second and lateness is measured from 1.5 s
after the first one starts (so the handshakes are not counted); a run passes when p99 lateness
< 50 ms and nothing is lost, a level when the median run's p99 does and no run lost anything.
Prints one row per level and the largest passing level. Usage::

    python benchmarks/bench_scale.py [--levels 10,25,50,100,200] [--duration 8] [--servers 1]
                                     [--repeat 1] [--no-input] [--loop asyncio|uvloop]

Loopback only; every loop is bounded by ``--duration``; the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import rxrealtime.session as rs
from rxrealtime import events as ev

CHUNK_MS = 100
PCM_CHUNK = bytes(24 * 2 * CHUNK_MS)  # 100 ms of 24 kHz mono PCM16 silence
CLEAR_EVERY = 50  # appends (5 s)
P99_LIMIT_MS = 50.0
PROBE_S = 0.005
clock = time.monotonic  # every time here: one clock for the client and the servers
_T = TypeVar("_T")
HELLO = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}


def _percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class LagProbe:
    """Event-loop lag: how late a task sleeping ``PROBE_S`` at a time wakes up (ms), with the
    time it went to sleep. Times are ``time.monotonic()``, one clock for every process on the
    machine, so the client can ask a server about its own measured window."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []

    async def run(self, until: float = float("inf")) -> None:
        while (start := time.monotonic()) < until:
            await asyncio.sleep(PROBE_S)
            self.samples.append((start, (time.monotonic() - start - PROBE_S) * 1000))

    def window(self, begin: float, end: float) -> dict[str, float]:
        """p99 and max lag (ms) of the samples taken in ``[begin, end)``; older ones are
        forgotten."""
        self.samples = [sample for sample in self.samples if sample[0] >= begin]
        lags = [lag for start, lag in self.samples if start < end]
        return {"p99": _percentile(lags, 0.99), "max": max(lags, default=float("nan"))}


def run_on(loop_kind: str, main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` on a new asyncio (``"asyncio"``) or uvloop (``"uvloop"``, an optional extra
    for this benchmark only: ``pip install uvloop``) event loop."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop_kind == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


# -- the server processes ----------------------------------------------------------------------


async def _serve_with_probe() -> None:
    """``--serve``: the embedded server (real-time audio) and a lag probe. Prints ``listening
    on URL``, then answers each ``BEGIN END`` line on stdin with the probe's window as JSON;
    stops at the end of stdin."""
    from rxrealtime.server import serve

    loop = asyncio.get_running_loop()
    probe = LagProbe()
    probing = loop.create_task(probe.run())
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    async with serve("127.0.0.1", 0) as server:
        print(f"listening on {server.base_url}", flush=True)
        while line := await commands.readline():
            begin, end = map(float, line.split())
            print(json.dumps(probe.window(begin, end)), flush=True)
    probing.cancel()


class ServerProcess:
    """One ``--serve`` child process."""

    def __init__(self, loop_kind: str = "asyncio") -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", "--loop", loop_kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._out.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.url = line.removeprefix("listening on ")

    @property
    def _out(self) -> IO[str]:
        assert self.process.stdout is not None
        return self.process.stdout

    def lag(self, begin: float, end: float) -> dict[str, float]:
        """The server loop's lag during ``[begin, end)`` (answered after the server has caught
        up with its backlog)."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{begin!r} {end!r}\n")
        self.process.stdin.flush()
        answer: dict[str, float] = json.loads(self._out.readline())
        return answer

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()  # the server's signal to stop
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()


@contextlib.contextmanager
def servers(count: int, loop_kind: str = "asyncio") -> Iterator[list[ServerProcess]]:
    """Start ``count`` embedded servers, each in its own process."""
    started: list[ServerProcess] = []
    try:
        for _ in range(count):
            started.append(ServerProcess(loop_kind))
        yield started
    finally:
        for server in started:
            server.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu_seconds() -> float:
    """CPU seconds every process on the machine has used (Linux ``/proc/stat``; 0 elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:9]]
        idle = fields[3] + fields[4]  # idle, iowait
        return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


# -- one session ---------------------------------------------------------------------------------


class Meter:
    """What every session of a level measured."""

    def __init__(self) -> None:
        self.lateness_ms: list[float] = []
        self.events = 0
        self.created = 0
        self.done = 0
        self.invalid = 0
        self.dropped = 0
        self.failed: list[str] = []


def _audio_ms(delta: str) -> float:
    size = len(delta) * 3 // 4 - delta[-2:].count("=")
    return size / 48  # 48 bytes per ms at 24 kHz PCM16


async def one_session(
    base_url: str,
    meter: Meter,
    start_at: float,
    measure_from: float,
    until: float,
    input_audio: bool = True,
) -> None:
    await asyncio.sleep(max(0.0, start_at - clock()))
    anchors: dict[str, list[float]] = {}
    response_done = asyncio.Event()

    def on_event(event: ev.ServerEvent) -> None:
        now = clock()
        meter.events += 1
        kind = type(event)
        if kind is ev.ResponseOutputAudioDelta:
            assert isinstance(event, ev.ResponseOutputAudioDelta)
            anchor = anchors.get(event.response_id)
            if anchor is None:
                anchors[event.response_id] = [now, _audio_ms(event.delta)]
            else:
                if now >= measure_from:
                    meter.lateness_ms.append((now - anchor[0]) * 1000 - anchor[1])
                anchor[1] += _audio_ms(event.delta)
        elif kind is ev.ResponseCreated:
            meter.created += 1
        elif kind is ev.ResponseDone:
            assert isinstance(event, ev.ResponseDone)
            meter.done += 1
            anchors.pop((event.response.id if event.response else None) or "", None)
            response_done.set()
        elif kind is ev.InvalidEvent:
            meter.invalid += 1

    async def stream_input(session: rs.RealtimeSession) -> None:
        next_at, sent = clock(), 0
        while clock() < until:
            await session.input_audio_buffer.append(PCM_CHUNK)
            sent += 1
            if sent % CLEAR_EVERY == 0:
                await session.input_audio_buffer.clear()
            next_at += CHUNK_MS / 1000
            await asyncio.sleep(max(0.0, next_at - clock()))

    try:
        async with rs.connect(base_url=base_url, open_timeout=30) as session:
            session.events.subscribe(on_event)
            await session.session.update(
                session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
            )
            sender = asyncio.ensure_future(
                stream_input(session) if input_audio else asyncio.sleep(0)
            )
            try:
                while clock() < until:
                    response_done.clear()
                    await session.conversation.item.create(item=HELLO)
                    await session.response.create()
                    await asyncio.wait_for(response_done.wait(), timeout=until - clock() + 30)
            finally:
                await sender
            meter.dropped += session.statistics().dropped
            if session.exception() is not None:
                meter.failed.append(str(session.exception()))
    except Exception as exc:  # counted: a failed session fails the level
        meter.failed.append(f"{type(exc).__name__}: {exc}")


# -- one level -------------------------------------------------------------------------------


async def run_level(
    urls: Sequence[str],
    pids: Sequence[int],
    sessions: int,
    duration: float,
    input_audio: bool = True,
) -> dict[str, Any]:
    """One run of ``sessions`` sessions; the row also holds the measured window
    (``window``) so the servers' lag can be asked for afterwards."""
    meter = Meter()
    begin = clock() + 0.2
    measure_from = begin + 1.5  # every session has connected and started its first reply
    until = measure_from + duration
    window: dict[str, float] = {}
    probe = LagProbe()

    async def cpu_window() -> None:  # CPU used while lateness is measured
        await asyncio.sleep(max(0.0, measure_from - clock()))
        start = (time.process_time(), sum(map(cpu_seconds, pids)), machine_cpu_seconds())
        await asyncio.sleep(max(0.0, until - clock()))
        window["client"] = (time.process_time() - start[0]) / duration
        window["servers"] = (sum(map(cpu_seconds, pids)) - start[1]) / duration
        machine = (machine_cpu_seconds() - start[2]) / duration
        window["others"] = max(0.0, machine - window["client"] - window["servers"])

    wall = time.monotonic()
    await asyncio.gather(
        cpu_window(),
        probe.run(until),
        *(
            one_session(
                urls[i % len(urls)],
                meter,
                begin + i / max(1, sessions),
                measure_from,
                until,
                input_audio,
            )
            for i in range(sessions)
        ),
    )
    wall = time.monotonic() - wall
    lost = (meter.created - meter.done) + meter.invalid + meter.dropped + len(meter.failed)
    p99 = _percentile(meter.lateness_ms, 0.99)
    return {
        "sessions": sessions,
        "p50_ms": _percentile(meter.lateness_ms, 0.50),
        "p99_ms": p99,
        "max_ms": max(meter.lateness_ms, default=float("nan")),
        "deltas": len(meter.lateness_ms),
        "events_per_s": meter.events / wall,
        "responses": meter.done,
        "lost": lost,
        "failures": meter.failed[:3],
        "client_cpu": window["client"],
        "server_cpu": window["servers"],
        "others_cpu": window["others"],
        "client_lag_p99_ms": probe.window(measure_from, until)["p99"],
        "window": (measure_from, until),
        "passed": lost == 0 and meter.done > 0 and p99 < P99_LIMIT_MS,
    }


def _median_row(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One row for a level run several times: medians of the figures, every loss counted."""
    row = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, float):
            row[key] = statistics.median(run[key] for run in runs)
    row["responses"] = min(run["responses"] for run in runs)
    row["lost"] = sum(run["lost"] for run in runs)
    row["failures"] = [failure for run in runs for failure in run["failures"]][:3]
    row["runs"] = len(runs)
    row["runs_passed"] = sum(run["passed"] for run in runs)
    row["passed"] = row["lost"] == 0 and row["responses"] > 0 and row["p99_ms"] < P99_LIMIT_MS
    cpu = row["client_cpu"]
    row["sessions_per_core"] = row["sessions"] / cpu if cpu > 0 else float("nan")
    return row


def _print_row(row: dict[str, Any]) -> None:
    runs = f" ({row['runs_passed']}/{row['runs']} runs passed)" if row["runs"] > 1 else ""
    print(
        f"{row['sessions']:5d} sessions  lateness p50 {row['p50_ms']:6.1f} "
        f"p99 {row['p99_ms']:6.1f} max {row['max_ms']:6.1f} ms  "
        f"loop lag p99 client {row['client_lag_p99_ms']:5.1f} server "
        f"{row['server_lag_p99_ms']:5.1f} ms  {row['events_per_s']:6.0f} ev/s  "
        f"lost {row['lost']}  cpu client {row['client_cpu']:4.0%} servers "
        f"{row['server_cpu']:4.0%} others {row['others_cpu']:4.0%}  "
        f"client {row['sessions_per_core']:5.0f} sessions/core  "
        f"{'PASS' if row['passed'] else 'FAIL'}{runs}",
        flush=True,
    )
    if row["failures"]:
        print("      failures:", *row["failures"], sep="\n        ", flush=True)


def run(
    levels: Sequence[int],
    duration: float,
    server_count: int = 1,
    *,
    input_audio: bool = True,
    stop_on_fail: bool = True,
    repeat: int = 1,
    loop_kind: str = "asyncio",
) -> list[dict[str, Any]]:
    """Run the levels in order (stopping after the first failing level); return one row each
    (medians over ``repeat`` runs)."""
    rows: list[dict[str, Any]] = []
    with servers(server_count, loop_kind) as started:
        urls = [server.url for server in started]
        pids = [server.process.pid for server in started]
        for sessions in levels:
            runs = []
            for _ in range(repeat):
                result = run_on(loop_kind, run_level(urls, pids, sessions, duration, input_audio))
                lags = [server.lag(*result["window"]) for server in started]
                result["server_lag_p99_ms"] = max(lag["p99"] for lag in lags)
                runs.append(result)
            row = _median_row(runs)
            rows.append(row)
            _print_row(row)
            if stop_on_fail and not row["passed"]:
                break
    return rows


def _verdict(rows: Sequence[dict[str, Any]], server_count: int) -> None:
    passed = [row for row in rows if row["passed"]]
    best = max(passed, key=lambda row: row["sessions"], default=None)
    if best is None:
        print("sustained: no level passed")
        return
    print(
        f"sustained: {best['sessions']} real-time sessions end to end (one client process, "
        f"{server_count} server process(es), this machine)"
    )
    print(
        f"client: {best['client_cpu']:.0%} of a core at {best['sessions']} sessions = "
        f"{best['client_cpu'] / best['sessions'] * 100:.3f}% per session -> "
        f"~{best['sessions_per_core']:.0f} real-time sessions per client core"
    )
    failed = [row for row in rows if not row["passed"]]
    if failed:
        row = failed[0]
        where = (
            "in the server process(es)"
            if row["server_lag_p99_ms"] >= row["client_lag_p99_ms"]
            else "in the client process"
        )
        print(
            f"first failing level {row['sessions']}: the loop lag was largest {where} "
            f"(p99 client {row['client_lag_p99_ms']:.1f} ms, servers "
            f"{row['server_lag_p99_ms']:.1f} ms); CPU client {row['client_cpu']:.0%}, servers "
            f"{row['server_cpu']:.0%}, other processes {row['others_cpu']:.0%} of "
            f"{os.cpu_count()} cores"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="10,25,50,100,150,200,300,400,500")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs per level (medians)")
    parser.add_argument("--no-input", action="store_true", help="do not stream input audio")
    parser.add_argument(
        "--loop", choices=("asyncio", "uvloop"), default="asyncio", help="event loop, every process"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        run_on(args.loop, _serve_with_probe())
        return 0
    levels = [int(n) for n in args.levels.split(",")]
    print(
        f"real-time sessions, {args.duration:g} s x {args.repeat} run(s) per level, "
        f"{args.servers} server process(es), one client process, {args.loop} loop, "
        f"{os.cpu_count()} cores; "
        f"pass = p99 lateness < {P99_LIMIT_MS:g} ms and nothing lost",
        flush=True,
    )
    rows = run(
        levels,
        args.duration,
        args.servers,
        input_audio=not args.no_input,
        repeat=args.repeat,
        loop_kind=args.loop,
    )
    _verdict(rows, args.servers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
