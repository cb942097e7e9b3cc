"""A one-hour voice session compressed in time: does the client's memory stay flat?

The embedded server runs in a separate process with real-time pacing off (audio streams as fast
as it is produced), so an hour of conversation takes seconds. One session, in this process,
with a reconnect policy and the usual pipelines subscribed (``text_only``,
``accumulate_deltas``, ``audio_chunks``, ``responses``, ``usage``, ``latency``, a
``Recorder`` writing to a temporary file):

* input audio: ``--minutes`` x 60 s of 24 kHz PCM16, sent in 100 ms appends (server VAD off,
  the buffer cleared every 10 s of audio so the *server* stays small);
* every 10 s of input audio, a spoken reply ("hello", about 3 s of output audio), awaited.

Memory is sampled (``tracemalloc`` current size, and RSS from ``/proc``) every simulated half
minute; growth is the last sample minus the sample after the first 5 minutes (warm-up: caches,
the allocator's pools). Prints the figures; the goal is < 20 MB growth over the hour. Usage::

    python benchmarks/bench_soak.py [--minutes 60]

Loopback only; bounded by ``--minutes``; the server process is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import rxrealtime.session as rs
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.reconnect import ReconnectPolicy
from rxrealtime.sinks import Recorder

CHUNK = bytes(24 * 2 * 100)  # 100 ms of 24 kHz PCM16
APPENDS_PER_REPLY = 100  # 10 s of input audio per spoken reply
WARM_UP_MINUTES = 5
HELLO = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}
_SERVER = (
    "import asyncio, sys\n"
    "from rxrealtime.server import serve\n"
    "async def main():\n"
    "    async with serve(port=0, realtime_audio=False) as server:\n"
    "        print('listening on ' + server.base_url, flush=True)\n"
    "        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)\n"
    "asyncio.run(main())\n"
)


@contextlib.contextmanager
def unpaced_server() -> Iterator[str]:
    """An embedded server without real-time pacing in its own process; yields its URL. It
    stops when its stdin closes."""
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        line = process.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the server did not start: {line!r}")
        yield line.removeprefix("listening on ")
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


async def soak(base_url: str, minutes: float, recording: Path) -> dict[str, Any]:
    samples: list[tuple[float, int, int]] = []  # (minute, tracemalloc bytes, rss bytes)
    counts = {"events": 0, "replies": 0, "words": 0, "chunks": 0, "summaries": 0}
    done = asyncio.Event()

    def count(key: str) -> Any:
        def add(_: object) -> None:
            counts[key] += 1

        return add

    def on_event(event: ev.ServerEvent) -> None:
        counts["events"] += 1
        if type(event) is ev.ResponseDone:
            counts["replies"] += 1
            done.set()

    policy = ReconnectPolicy(max_attempts=3, initial_delay=0.05)
    async with rs.connect(base_url=base_url, reconnect=policy) as session:
        session.events.subscribe(on_event)
        session.events.pipe(ops.text_only()).subscribe(count("words"))
        session.events.pipe(ops.accumulate_deltas()).subscribe(lambda _: None)
        session.events.pipe(ops.audio_chunks()).subscribe(count("chunks"))
        session.events.pipe(ops.responses()).subscribe(count("summaries"))
        session.events.pipe(ops.usage()).subscribe(lambda _: None)
        session.events.pipe(ops.latency()).subscribe(lambda _: None)
        with Recorder(recording) as recorder:
            session.events.subscribe(recorder)
            await session.session.update(
                session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
            )
            total_appends = int(minutes * 600)
            for index in range(1, total_appends + 1):
                await session.input_audio_buffer.append(CHUNK)
                if index % APPENDS_PER_REPLY == 0:
                    await session.input_audio_buffer.clear()
                    done.clear()
                    await session.conversation.item.create(item=HELLO)
                    await session.response.create()
                    await asyncio.wait_for(done.wait(), 30)
                if index % 300 == 0:  # every simulated half minute
                    samples.append((index / 600, tracemalloc.get_traced_memory()[0], rss_bytes()))
        stats = session.statistics()
    base = next((s for s in samples if s[0] >= min(WARM_UP_MINUTES, minutes)), samples[0])
    last = samples[-1]
    return {
        "minutes": minutes,
        "samples": samples,
        "traced_growth_mb": (last[1] - base[1]) / 2**20,
        "rss_growth_mb": (last[2] - base[2]) / 2**20,
        "traced_median_mb": statistics.median(s[1] for s in samples) / 2**20,
        "frames_in": stats.frames_in,
        "frames_out": stats.frames_out,
        "dropped": stats.dropped,
        **counts,
    }


def run(minutes: float) -> dict[str, Any]:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with unpaced_server() as url, tempfile.TemporaryDirectory() as folder:
            result = asyncio.run(soak(url, minutes, Path(folder) / "soak.jsonl"))
    finally:
        tracemalloc.stop()
    result["wall_s"] = time.monotonic() - started
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args(argv)
    result = run(args.minutes)
    for minute, traced, rss in result["samples"][:: max(1, len(result["samples"]) // 12)]:
        print(
            f"  minute {minute:5.1f}: traced {traced / 2**20:7.2f} MB   RSS {rss / 2**20:7.1f} MB"
        )
    print(
        f"{result['minutes']:g} simulated minutes in {result['wall_s']:.0f} s: "
        f"{result['frames_in']} frames in, {result['frames_out']} out, "
        f"{result['replies']} spoken replies, {result['chunks']} audio chunks, "
        f"dropped {result['dropped']}"
    )
    print(
        f"memory growth after the {WARM_UP_MINUTES}-minute warm-up: "
        f"tracemalloc {result['traced_growth_mb']:+.2f} MB, RSS {result['rss_growth_mb']:+.1f} MB "
        f"(goal < 20 MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
