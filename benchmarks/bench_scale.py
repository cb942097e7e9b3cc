"""How many real-time sessions one client process (one core) sustains.

The embedded server runs in separate processes (``python -m rxrealtime serve --port 0``, the
first line printed gives the URL; ``--servers K`` starts K of them and spreads the sessions).
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

Levels are tried in increasing order for ``--duration`` seconds each; sessions connect spread
over one second and lateness is measured from 1.5 s after the first one starts (so the
handshakes are not counted); a level passes when p99 lateness < 50 ms and nothing is lost.
Prints one row per level (median and p99 lateness, events/s, and the CPU used by the client
process and by the server processes during the measured window, 100% = one core) and the
largest passing level. Usage::

    python benchmarks/bench_scale.py [--levels 10,25,50,100,200] [--duration 8] [--servers 1]

Loopback only; every loop is bounded by ``--duration``; the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import rxrealtime.session as rs
from rxrealtime import events as ev

CHUNK_MS = 100
PCM_CHUNK = bytes(24 * 2 * CHUNK_MS)  # 100 ms of 24 kHz mono PCM16 silence
CLEAR_EVERY = 50  # appends (5 s)
P99_LIMIT_MS = 50.0
HELLO = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}


# -- the server processes ----------------------------------------------------------------------


@contextlib.contextmanager
def servers(count: int) -> Iterator[list[tuple[subprocess.Popen[str], str]]]:
    """Start ``count`` embedded servers, each in its own process; yield (process, base_url)."""
    started: list[tuple[subprocess.Popen[str], str]] = []
    try:
        for _ in range(count):
            process = subprocess.Popen(
                [sys.executable, "-m", "rxrealtime", "serve", "--port", "0"],
                stdout=subprocess.PIPE,
                text=True,
            )
            started.append((process, ""))
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if not line.startswith("listening on "):
                raise RuntimeError(f"the server did not start: {line!r}")
            started[-1] = (process, line.removeprefix("listening on "))
        yield started
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
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
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start_at - loop.time()))
    anchors: dict[str, list[float]] = {}
    response_done = asyncio.Event()

    def on_event(event: ev.ServerEvent) -> None:
        now = loop.time()
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
            anchors.pop(event.response.id if event.response else "", None)
            response_done.set()
        elif kind is ev.InvalidEvent:
            meter.invalid += 1

    async def stream_input(session: rs.RealtimeSession) -> None:
        next_at, sent = loop.time(), 0
        while loop.time() < until:
            await session.input_audio_buffer.append(PCM_CHUNK)
            sent += 1
            if sent % CLEAR_EVERY == 0:
                await session.input_audio_buffer.clear()
            next_at += CHUNK_MS / 1000
            await asyncio.sleep(max(0.0, next_at - loop.time()))

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
                while loop.time() < until:
                    response_done.clear()
                    await session.conversation.item.create(item=HELLO)
                    await session.response.create()
                    await asyncio.wait_for(response_done.wait(), timeout=until - loop.time() + 30)
            finally:
                await sender
            meter.dropped += session.statistics().dropped
            if session.exception() is not None:
                meter.failed.append(str(session.exception()))
    except Exception as exc:  # counted: a failed session fails the level
        meter.failed.append(f"{type(exc).__name__}: {exc}")


# -- one level -------------------------------------------------------------------------------


def _percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_level(
    urls: Sequence[str],
    pids: Sequence[int],
    sessions: int,
    duration: float,
    input_audio: bool = True,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    meter = Meter()
    begin = loop.time() + 0.2
    measure_from = begin + 1.5  # every session has connected and started its first reply
    until = measure_from + duration
    window: dict[str, float] = {}

    async def cpu_window() -> None:  # CPU used while lateness is measured
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        window["client"], window["servers"] = time.process_time(), sum(map(cpu_seconds, pids))
        await asyncio.sleep(max(0.0, until - loop.time()))
        window["client"] = (time.process_time() - window["client"]) / duration
        window["servers"] = (sum(map(cpu_seconds, pids)) - window["servers"]) / duration

    wall = time.monotonic()
    await asyncio.gather(
        cpu_window(),
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
        "passed": lost == 0 and meter.done > 0 and p99 < P99_LIMIT_MS,
    }


def run(
    levels: Sequence[int],
    duration: float,
    server_count: int = 1,
    *,
    input_audio: bool = True,
    stop_on_fail: bool = True,
) -> list[dict[str, Any]]:
    """Run the levels in order (stopping after the first failure); return one row each."""
    rows: list[dict[str, Any]] = []
    with servers(server_count) as started:
        urls = [url for _, url in started]
        pids = [process.pid for process, _ in started]
        for sessions in levels:
            row = asyncio.run(run_level(urls, pids, sessions, duration, input_audio))
            rows.append(row)
            print(
                f"{row['sessions']:5d} sessions  p50 {row['p50_ms']:7.1f} ms  "
                f"p99 {row['p99_ms']:7.1f} ms  max {row['max_ms']:7.1f} ms  "
                f"{row['events_per_s']:8.0f} ev/s  lost {row['lost']}  "
                f"client cpu {row['client_cpu']:4.0%}  server cpu {row['server_cpu']:4.0%}  "
                f"{'PASS' if row['passed'] else 'FAIL'}",
                flush=True,
            )
            if row["failures"]:
                print("      failures:", *row["failures"], sep="\n        ", flush=True)
            if stop_on_fail and not row["passed"]:
                break
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="10,25,50,100,150,200,300,400,500")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--no-input", action="store_true", help="do not stream input audio")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.levels.split(",")]
    print(
        f"real-time sessions, {args.duration:g} s per level, {args.servers} server process(es), "
        f"one client process; pass = p99 lateness < {P99_LIMIT_MS:g} ms and nothing lost"
    )
    rows = run(levels, args.duration, args.servers, input_audio=not args.no_input)
    passed = [row["sessions"] for row in rows if row["passed"]]
    best = max(passed, default=0)
    print(f"sustained: {best} real-time sessions (client on one core)")
    busy = [row for row in rows if row["server_cpu"] > 0.9 * args.servers]
    if busy:
        print(
            f"note: the server process(es) were saturated from {busy[0]['sessions']} sessions "
            "(server CPU ~100%): the limit measured there is the embedded server's"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
