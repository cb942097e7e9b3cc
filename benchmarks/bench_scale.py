"""Real-time voice sessions per client core, MEASURED: rxrealtime vs a bare loop and the SDK.

The client process is pinned to one core (``os.sched_setaffinity``), the load generator to the
other. The load generator is ``blaster.py``: a purpose-built lean blaster server process, *not*
the embedded server (see its docstring), so the client is the bottleneck. Every session, in
this one client process and event loop, does what a voice app does:

* receives a real-time stream of ~59 server events per second (a spoken response per second:
  20 audio deltas of 50 ms, 31 transcript deltas, the response/item/part events);
* sends 100 ms of 24 kHz PCM16 every 100 ms as ``input_audio_buffer.append`` (10 per second;
  the PCM is base64-encoded by the client);
* measures every event's **lateness against the blaster's scheduled send time**, which the
  event carries in its ``event_id`` (``time.monotonic()``, one clock for every process of the
  machine): absolute lateness, so a client that falls behind uniformly shows it.

The contenders, each with the same work per event (the lateness bookkeeping):

* ``rxrealtime``: ``rxrealtime.connect()``, one ``session.events`` subscriber,
  ``session.input_audio_buffer.append(pcm)``;
* ``bare``: ``websockets`` + ``orjson``: ``async for message in ws`` with ``orjson.loads``, and
  ``ws.send(orjson.dumps({... base64.b64encode(pcm) ...}))``;
* ``sdk``: the official ``openai`` SDK: ``async for event in connection`` and
  ``connection.input_audio_buffer.append(audio=...)`` (left out without ``openai``).

"Nothing lost": at the end each session sends ``{"type":"x.done"}``; the blaster answers with
how many frames it sent and appends it received, and every session must have seen exactly that
many events, the blaster every append, no session may fail (and rxrealtime's
``statistics().dropped`` must be 0). A level passes for a contender when the p99 lateness over
every event of the measured window is under 50 ms and nothing was lost. Levels run in
increasing order, the contenders taking turns at each level (the order rotating); a contender
that fails a level is not run at the higher ones.

Memory per idle session: each contender opens ``--idle`` sessions that receive
``session.created`` and nothing more, with ``tracemalloc`` tracing; Python allocations
(``tracemalloc.get_traced_memory()``) per session, median of ``--idle-repeat`` rounds.

Who was late: the client's event-loop lag (a task sleeping 5 ms again and again), the blaster's
own write lateness against its schedule, and CPU: client, blaster, and every other process on
the machine (``/proc/stat``; the machine is shared). Usage::

    python benchmarks/bench_scale.py [--levels 200,400,600,800,1000,1200] [--duration 10]
        [--contenders rxrealtime,bare,sdk] [--idle 200] [--client-cpu 0] [--blaster-cpu 1]

Loopback only; every loop is bounded by ``--duration``; the blaster is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import orjson
import websockets

import rxrealtime.session as rs
from rxrealtime import events as ev

CHUNK_MS = 100
PCM_CHUNK = bytes(range(256)) * 18 + bytes(192)  # 4,800 bytes: 100 ms of 24 kHz PCM16
P99_LIMIT_MS = 50.0
PROBE_S = 0.005
DONE = '{"type":"x.done"}'
clock = time.monotonic
BLASTER = Path(__file__).resolve().parent / "blaster.py"


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class LagProbe:
    """Event-loop lag: how late a task sleeping ``PROBE_S`` at a time wakes up (ms)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []

    async def run(self, until: float) -> None:
        while (start := clock()) < until:
            await asyncio.sleep(PROBE_S)
            self.samples.append((start, (clock() - start - PROBE_S) * 1000))

    def p99(self, begin: float, end: float) -> float:
        return percentile([lag for at, lag in self.samples if begin <= at < end], 0.99)


# -- the blaster process -------------------------------------------------------------------------


class Blaster:
    """``blaster.py`` in its own process (pinned to ``cpu``)."""

    def __init__(self, cpu: int | None) -> None:
        command = [sys.executable, str(BLASTER)] + ([] if cpu is None else ["--cpu", str(cpu)])
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self._out.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the blaster did not start: {line!r}")
        self.port = int(line.removeprefix("listening on "))

    @property
    def _out(self) -> IO[str]:
        assert self.process.stdout is not None
        return self.process.stdout

    def window(self, begin: float, end: float) -> dict[str, float]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{begin!r} {end!r}\n")
        self.process.stdin.flush()
        answer: dict[str, float] = json.loads(self._out.readline())
        return answer

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()


@contextlib.contextmanager
def blaster(cpu: int | None) -> Iterator[Blaster]:
    started = Blaster(cpu)
    try:
        yield started
    finally:
        started.stop()


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
        return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


# -- the contenders: one session each -------------------------------------------------------------


class Meter:
    """What every session of a run measured."""

    def __init__(self, measure_from: float) -> None:
        self.measure_from = measure_from
        self.lateness: list[float] = []
        self.events = 0
        self.lost = 0
        self.failed: list[str] = []

    def arrived(self, event_id: str | None) -> bool:
        """Count one event; False for the blaster's final count (not a scheduled event)."""
        if not event_id or event_id[0] != "t":
            return False
        now = clock()
        at = int(event_id[1:]) / 1e6
        if at >= self.measure_from:
            self.lateness.append(now - at)
        return True

    def settle(self, seen: int, appended: int, count: dict[str, Any] | None) -> None:
        if count is None:
            self.lost += 1
            self.failed.append("no final count")
        elif count["sent"] != seen or count["appends"] != appended:
            self.lost += abs(count["sent"] - seen) + abs(count["appends"] - appended)
            self.failed.append(f"saw {seen}/{count['sent']}, sent {appended}/{count['appends']}")


async def _append_until(until: float, append: Callable[[], Awaitable[None]]) -> int:
    """``append()`` every 100 ms (absolute schedule) until ``until``; how many were sent."""
    next_at, sent = clock(), 0
    while clock() < until:
        await append()
        sent += 1
        next_at += CHUNK_MS / 1000
        await asyncio.sleep(max(0.0, next_at - clock()))
    return sent


async def rxrealtime_session(url: str, meter: Meter, until: float) -> None:
    seen = 0
    count: dict[str, Any] | None = None
    ended = asyncio.Event()

    def on_event(event: ev.ServerEvent) -> None:
        nonlocal seen, count
        if meter.arrived(event.event_id):
            seen += 1
        elif type(event) is ev.UnknownEvent and event.type == "x.count":
            count = dict(event.raw)

    async with rs.connect(base_url=f"http://{url}/v1", open_timeout=60) as session:
        session.events.subscribe(on_event, on_error=lambda _: ended.set(), on_completed=ended.set)
        appended = await _append_until(until, lambda: session.input_audio_buffer.append(PCM_CHUNK))
        await session.send_raw(DONE)
        await asyncio.wait_for(ended.wait(), 60)
        meter.lost += session.statistics().dropped
    meter.settle(seen, appended, count)


async def bare_session(url: str, meter: Meter, until: float) -> None:
    seen = 0
    count: dict[str, Any] | None = None
    loads, dumps, b64encode = orjson.loads, orjson.dumps, base64.b64encode
    async with websockets.connect(
        f"ws://{url}/v1/realtime", compression=None, max_size=16 * 2**20, open_timeout=60
    ) as ws:

        async def receive() -> None:
            nonlocal seen, count
            async for message in ws:
                event = loads(message)
                if meter.arrived(event.get("event_id")):
                    seen += 1
                elif event.get("type") == "x.count":
                    count = event

        async def append() -> None:
            message = {"type": "input_audio_buffer.append", "audio": b64encode(PCM_CHUNK).decode()}
            await ws.send(dumps(message).decode())

        receiving = asyncio.ensure_future(receive())
        appended = await _append_until(until, append)
        await ws.send(DONE)
        await asyncio.wait_for(receiving, 60)
    meter.settle(seen, appended, count)


async def sdk_session(url: str, meter: Meter, until: float) -> None:
    seen = 0
    count: dict[str, Any] | None = None
    client = sdk_client(f"ws://{url}/v1")
    async with client.realtime.connect(model="gpt-realtime") as connection:

        async def receive() -> None:
            nonlocal seen, count
            async for event in connection:
                if meter.arrived(getattr(event, "event_id", None)):
                    seen += 1
                elif event.type == "x.count":
                    count = {"sent": event.sent, "appends": event.appends}

        async def append() -> None:
            await connection.input_audio_buffer.append(audio=base64.b64encode(PCM_CHUNK).decode())

        receiving = asyncio.ensure_future(receive())
        appended = await _append_until(until, append)
        await connection.send_raw(DONE)
        await asyncio.wait_for(receiving, 60)
    meter.settle(seen, appended, count)


_SDK_CLIENTS: dict[str, Any] = {}


def sdk_client(base_url: str) -> Any:
    """One SDK client per server, shared by every session (as an application would)."""
    import openai

    client = _SDK_CLIENTS.get(base_url)
    if client is None:
        client = _SDK_CLIENTS[base_url] = openai.AsyncOpenAI(
            api_key="benchmark", websocket_base_url=base_url
        )
    return client


CONTENDERS: dict[str, Callable[[str, Meter, float], Awaitable[None]]] = {
    "rxrealtime": rxrealtime_session,
    "bare": bare_session,
    "sdk": sdk_session,
}


# -- one run -----------------------------------------------------------------------------------


async def run_level(
    contender: str,
    address: str,
    pids: Sequence[int],
    sessions: int,
    duration: float,
    ramp: float,
) -> dict[str, Any]:
    """``sessions`` sessions of ``contender`` for ``ramp`` + 1 s + ``duration`` seconds."""
    begin = clock() + 0.2
    measure_from = begin + ramp + 1.0  # every session is connected and streaming
    until = measure_from + duration
    meter = Meter(measure_from)
    window: dict[str, float] = {}
    probe = LagProbe()
    session = CONTENDERS[contender]

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, begin + ramp * i / max(1, sessions) - clock()))
        try:
            await session(address, meter, until)
        except Exception as exc:  # counted: a failed session fails the run
            meter.failed.append(f"{type(exc).__name__}: {exc}")
            meter.lost += 1

    async def cpu_window() -> None:
        await asyncio.sleep(max(0.0, measure_from - clock()))
        start = (time.process_time(), sum(map(cpu_seconds, pids)), machine_cpu_seconds())
        await asyncio.sleep(max(0.0, until - clock()))
        window["client"] = (time.process_time() - start[0]) / duration
        window["blaster"] = (sum(map(cpu_seconds, pids)) - start[1]) / duration
        machine = (machine_cpu_seconds() - start[2]) / duration
        window["others"] = max(0.0, machine - window["client"] - window["blaster"])

    await asyncio.gather(cpu_window(), probe.run(until), *(one(i) for i in range(sessions)))
    p99 = percentile(meter.lateness, 0.99) * 1000
    return {
        "contender": contender,
        "sessions": sessions,
        "p50_ms": percentile(meter.lateness, 0.50) * 1000,
        "p99_ms": p99,
        "max_ms": max(meter.lateness, default=float("nan")) * 1000,
        "events": len(meter.lateness),
        "lost": meter.lost,
        "failures": meter.failed[:3],
        "client_cpu": window["client"],
        "blaster_cpu": window["blaster"],
        "others_cpu": window["others"],
        "client_lag_p99_ms": probe.p99(measure_from, until),
        "window": (measure_from, until),
        "passed": meter.lost == 0 and bool(meter.lateness) and p99 < P99_LIMIT_MS,
    }


# -- memory per idle session ---------------------------------------------------------------------


async def _idle_rxrealtime(address: str, ready: asyncio.Event) -> Callable[[], Awaitable[None]]:
    session = await rs.connect(base_url=f"http://{address}/idle")
    session.events.subscribe(lambda event: ready.set())
    return session.close


async def _idle_bare(address: str, ready: asyncio.Event) -> Callable[[], Awaitable[None]]:
    ws = await websockets.connect(f"ws://{address}/idle/realtime", compression=None)

    async def receive() -> None:
        async for message in ws:
            orjson.loads(message)
            ready.set()

    task = asyncio.ensure_future(receive())

    async def close() -> None:
        await ws.close()
        await task

    return close


async def _idle_sdk(address: str, ready: asyncio.Event) -> Callable[[], Awaitable[None]]:
    client = sdk_client(f"ws://{address}/idle")
    manager = client.realtime.connect(model="gpt-realtime")
    connection = await manager.__aenter__()

    async def receive() -> None:
        async for _ in connection:
            ready.set()

    task = asyncio.ensure_future(receive())

    async def close() -> None:
        await manager.__aexit__(None, None, None)
        with contextlib.suppress(Exception):
            await task

    return close


IDLE = {"rxrealtime": _idle_rxrealtime, "bare": _idle_bare, "sdk": _idle_sdk}


async def idle_memory(contender: str, address: str, sessions: int) -> float:
    """Python bytes allocated per idle session (tracemalloc), all of them open at once (after
    one session opened and closed on the same loop, so one-time costs are not counted)."""
    warm = asyncio.Event()
    close_first = await IDLE[contender](address, warm)
    await asyncio.wait_for(warm.wait(), 60)
    await close_first()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        readies = [asyncio.Event() for _ in range(sessions)]
        closers = [await IDLE[contender](address, ready) for ready in readies]
        async with asyncio.timeout(60):
            for ready in readies:
                await ready.wait()
        await asyncio.sleep(0.2)
        gc.collect()
        per_session = (tracemalloc.get_traced_memory()[0] - before) / sessions
    finally:
        tracemalloc.stop()
    for close in closers:
        await close()
    return per_session


# -- the whole benchmark -----------------------------------------------------------------------


def available(contenders: Sequence[str]) -> list[str]:
    try:
        import openai  # noqa: F401
    except ImportError:
        return [name for name in contenders if name != "sdk"]
    return list(contenders)


def run(
    levels: Sequence[int],
    duration: float,
    *,
    contenders: Sequence[str] = ("rxrealtime", "bare", "sdk"),
    stop_on_fail: bool = True,
    idle_sessions: int = 200,
    idle_repeat: int = 3,
    client_cpu: int | None = 0,
    blaster_cpu: int | None = 1,
    report: Callable[[dict[str, Any]], None] = lambda row: None,
) -> dict[str, Any]:
    """Every level for every contender (see the module docstring); returns ``{"rows": [...],
    "idle_bytes": {contender: bytes per idle session}}``."""
    cores = os.cpu_count() or 1
    if client_cpu is not None and hasattr(os, "sched_setaffinity") and client_cpu < cores:
        os.sched_setaffinity(0, {client_cpu})
    if blaster_cpu is not None and blaster_cpu >= cores:
        blaster_cpu = None
    names = available(contenders)
    rows: list[dict[str, Any]] = []
    idle: dict[str, float] = {}
    with blaster(blaster_cpu) as load:
        address = f"127.0.0.1:{load.port}"
        pids = [load.process.pid]
        if idle_sessions:
            samples: dict[str, list[float]] = {name: [] for name in names}
            for i in range(idle_repeat):
                for name in names[i % len(names) :] + names[: i % len(names)]:
                    samples[name].append(asyncio.run(idle_memory(name, address, idle_sessions)))
            idle = {name: statistics.median(values) for name, values in samples.items()}
        running = list(names)
        for round_index, sessions in enumerate(levels):
            order = (
                running[round_index % max(1, len(running)) :]
                + running[: round_index % max(1, len(running))]
            )
            for name in order:
                ramp = max(1.0, sessions / 400)
                row = asyncio.run(run_level(name, address, pids, sessions, duration, ramp))
                lag = load.window(*row["window"])
                row["blaster_late_p99_ms"] = lag["p99_ms"]
                rows.append(row)
                report(row)
                if stop_on_fail and not row["passed"]:
                    running.remove(name)
            if not running:
                break
    return {"rows": rows, "idle_bytes": idle}


def print_row(row: dict[str, Any]) -> None:
    print(
        f"{row['contender']:11} {row['sessions']:5d} sessions  lateness p50 {row['p50_ms']:6.1f} "
        f"p99 {row['p99_ms']:7.1f} max {row['max_ms']:7.1f} ms  lag p99 client "
        f"{row['client_lag_p99_ms']:6.1f} blaster {row['blaster_late_p99_ms']:5.1f} ms  "
        f"cpu client {row['client_cpu']:4.0%} blaster {row['blaster_cpu']:4.0%} others "
        f"{row['others_cpu']:4.0%}  lost {row['lost']}  {'PASS' if row['passed'] else 'FAIL'}",
        flush=True,
    )
    for failure in row["failures"]:
        print(f"      {failure}", flush=True)


def _load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="200,400,600,800,1000,1200")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--contenders", default="rxrealtime,bare,sdk")
    parser.add_argument("--idle", type=int, default=200, help="idle sessions (0: skip)")
    parser.add_argument("--idle-repeat", type=int, default=3)
    parser.add_argument("--client-cpu", type=int, default=0)
    parser.add_argument("--blaster-cpu", type=int, default=1)
    args = parser.parse_args(argv)
    print(
        f"real-time sessions (~59 events/s in, 10 appends/s out each), {args.duration:g} s per "
        f"run; client pinned to CPU {args.client_cpu}, blaster to CPU {args.blaster_cpu} of "
        f"{os.cpu_count()}; pass = p99 lateness < {P99_LIMIT_MS:g} ms and nothing lost; "
        f"load average {_load()}",
        flush=True,
    )
    result = run(
        [int(n) for n in args.levels.split(",")],
        args.duration,
        contenders=args.contenders.split(","),
        idle_sessions=args.idle,
        idle_repeat=args.idle_repeat,
        client_cpu=args.client_cpu,
        blaster_cpu=args.blaster_cpu,
        report=print_row,
    )
    print(f"load average at the end {_load()}")
    for name in available(args.contenders.split(",")):
        passed = [r["sessions"] for r in result["rows"] if r["contender"] == name and r["passed"]]
        idle = result["idle_bytes"].get(name)
        idle_text = f"; {idle / 1024:.1f} KiB per idle session" if idle is not None else ""
        print(f"{name:11} sustained {max(passed, default=0)} sessions{idle_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
