"""End-to-end events/second, socket -> subscriber: rxrealtime session vs a bare receive loop.

A tiny purpose-built sender (in its own process, so it does not compete with the clients for
the event loop) writes a realistic mix of Realtime server events as fast as it can, then closes
with 1000. Each round runs both clients against the same sender, alternating:

* bare: ``websockets`` ``async for message in ws: orjson.loads(message)``;
* rxrealtime: ``rxrealtime.session.connect(...)``, typed decode, one ``session.events``
  subscriber counting events, completion on close.

Usage: ``python benchmarks/bench_session.py [--events 20000] [--rounds 7]``. Prints the median
rates and the median of the per-round ratios rxrealtime/bare (goal: >= 0.80).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson
import websockets
from websockets.asyncio.server import ServerConnection, serve

import rxrealtime.session as rs


def event_mix(n: int) -> list[str]:
    """``n`` frames shaped like a streamed audio+text response, repeated."""
    ids = {"event_id": "event_1", "response_id": "resp_1", "item_id": "item_1"}
    audio = base64.b64encode(bytes(2400)).decode()  # 50 ms of 24 kHz PCM16
    usage = {"total_tokens": 120, "input_tokens": 20, "output_tokens": 100}
    cycle: list[dict[str, Any]] = [
        {"type": "response.created", **ids, "response": {"id": "resp_1", "status": "in_progress"}},
        {
            "type": "response.output_item.added",
            **ids,
            "output_index": 0,
            "item": {"id": "item_1", "type": "message", "role": "assistant", "content": []},
        },
        *(
            {
                "type": "response.output_audio_transcript.delta",
                **ids,
                "output_index": 0,
                "content_index": 0,
                "delta": "word ",
            }
            for _ in range(8)
        ),
        *(
            {
                "type": "response.output_audio.delta",
                **ids,
                "output_index": 0,
                "content_index": 0,
                "delta": audio,
            }
            for _ in range(4)
        ),
        *(
            {
                "type": "response.output_text.delta",
                **ids,
                "output_index": 0,
                "content_index": 0,
                "delta": "token",
            }
            for _ in range(8)
        ),
        {
            "type": "response.done",
            **ids,
            "response": {"id": "resp_1", "status": "completed", "usage": usage, "output": []},
        },
        {
            "type": "rate_limits.updated",
            "event_id": "event_2",
            "rate_limits": [
                {"name": "tokens", "limit": 1000, "remaining": 900, "reset_seconds": 1.0}
            ],
        },
    ]
    frames = [orjson.dumps(e).decode() for e in cycle]
    session_created = orjson.dumps(
        {"type": "session.created", "event_id": "event_0", "session": {"type": "realtime"}}
    ).decode()
    return [session_created, *(frames[i % len(frames)] for i in range(n - 1))]


async def _sender(port_out: Callable[[int], None], n: int, stop: asyncio.Event) -> None:
    frames = event_mix(n)

    async def handler(ws: ServerConnection) -> None:
        for frame in frames:
            await ws.send(frame)
        await ws.close(1000)

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port_out(server.sockets[0].getsockname()[1])
        await stop.wait()


def _sender_process(queue: Any, n: int) -> None:
    async def main() -> None:
        await _sender(queue.put, n, asyncio.Event())  # runs until the process is terminated

    asyncio.run(main())


async def bare(url: str) -> int:
    count = 0
    async with websockets.connect(url, compression=None, max_size=16 * 2**20) as ws:
        async for message in ws:
            orjson.loads(message)
            count += 1
    return count


async def session(url: str) -> int:
    count = 0
    done = asyncio.Event()

    def on_next(_: object) -> None:
        nonlocal count
        count += 1

    async with rs.connect(base_url=url) as s:
        s.events.subscribe(on_next, on_completed=done.set)
        await done.wait()
    return count


async def measure(url: str, n: int, rounds: int) -> dict[str, float]:
    rates: dict[str, list[float]] = {"bare": [], "rxrealtime": []}
    for _ in range(rounds):
        for name, client in (("bare", bare), ("rxrealtime", session)):
            started = time.perf_counter()
            got = await client(url)
            elapsed = time.perf_counter() - started
            if got != n:
                raise RuntimeError(f"{name} received {got} of {n} events")
            rates[name].append(n / elapsed)
    result = {name: statistics.median(values) for name, values in rates.items()}
    # per-round ratios cancel slow drifts of machine load; their median is the headline figure
    result["ratio"] = statistics.median(
        r / b for r, b in zip(rates["rxrealtime"], rates["bare"], strict=True)
    )
    return result


def run(n: int = 20000, rounds: int = 7, *, inline: bool = False) -> dict[str, float]:
    """Run the benchmark; ``inline`` keeps the sender in this process (for smoke tests)."""
    if inline:
        return asyncio.run(_inline(n, rounds))
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_sender_process, args=(queue, n), daemon=True)
    process.start()
    try:
        port = queue.get(timeout=30)
        return asyncio.run(measure(f"ws://127.0.0.1:{port}/v1", n, rounds))
    finally:
        process.terminate()
        process.join(10)
        queue.close()
        queue.join_thread()


async def _inline(n: int, rounds: int) -> dict[str, float]:
    stop = asyncio.Event()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    sender = asyncio.ensure_future(_sender(port.set_result, n, stop))
    try:
        return await measure(f"ws://127.0.0.1:{await port}/v1", n, rounds)
    finally:
        stop.set()
        await sender


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    result = run(args.events, args.rounds)
    print(f"events per run: {args.events}, rounds: {args.rounds} (medians)")
    print(f"bare websockets+orjson : {result['bare']:>10,.0f} events/s")
    print(f"rxrealtime session     : {result['rxrealtime']:>10,.0f} events/s")
    print(f"ratio (median/round)   : {result['ratio']:.2f} (goal >= 0.80)")


if __name__ == "__main__":
    main()
