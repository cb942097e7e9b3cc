"""End-to-end events/second, socket -> subscriber: rxrealtime session vs a bare receive loop.

Both clients do the same work per frame and differ only in what rxrealtime adds:

* bare: ``websockets`` ``async for message in ws: callback(orjson.loads(message))``;
* rxrealtime: ``rxrealtime.session.connect(...)``: the session's receive loop, the typed
  ``ev.decode``, and one ``session.events`` subscriber (the same counting callback), with
  completion on the server's close.

The sender runs in its own process and writes the whole stream (a realistic mix of Realtime
server events, then a close with code 1000) as frames serialised in advance, so it costs almost
nothing and the client being measured is always the bottleneck. Each round runs both clients
against the same sender, alternating which goes first (ABBA), after one discarded warm-up round
of each; a full garbage collection precedes every run.

Per run the benchmark takes the wall-clock time and the client process's CPU time (user +
system; the sender is another process, so this is the client's own cost, and time the client
spends descheduled by other work on a shared machine counts against neither side). The figures
are medians over the rounds; the ratios are the medians of the per-round ratios rxrealtime/bare
(many short rounds, so each pair of runs sees the same machine conditions), printed with the
range of the middle half of the rounds. The goal (>= 0.80) applies to the CPU-time ratio; the
wall-clock ratio is printed beside it. Usage::

    python benchmarks/bench_session.py [--events 10000] [--rounds 31] [--per-round]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import websockets
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

import rxrealtime.session as rs

Client = Callable[[str, Callable[[object], None]], Awaitable[None]]


def event_mix(n: int) -> list[str]:
    """``n`` frames shaped like a streamed audio+text response, repeated.

    Every event has exactly the keys the service sends for its type (``session.created`` first).
    """
    ids = {"event_id": "event_1", "response_id": "resp_1", "item_id": "item_1"}
    audio = base64.b64encode(bytes(2400)).decode()  # 50 ms of 24 kHz PCM16
    usage = {"total_tokens": 120, "input_tokens": 20, "output_tokens": 100}
    cycle: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "event_id": "event_1",
            "response": {"id": "resp_1", "status": "in_progress"},
        },
        {
            "type": "response.output_item.added",
            "event_id": "event_1",
            "response_id": "resp_1",
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
            "event_id": "event_1",
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


# -- the sender ------------------------------------------------------------------------------


def wire_stream(frames: list[str]) -> bytes:
    """The server-to-client bytes of ``frames`` as unmasked text frames (no compression)."""
    return b"".join(Frame(Opcode.TEXT, f.encode()).serialize(mask=False) for f in frames)


async def _sender(port_out: Callable[[int], None], n: int, stop: asyncio.Event) -> None:
    stream = wire_stream(event_mix(n))

    async def handler(ws: ServerConnection) -> None:
        # the frames go straight to the socket, bypassing the connection's per-frame send path
        # (nothing else writes meanwhile: no pings, no compression); the close goes through it
        ws.transport.write(stream)
        await ws.close(1000)

    async with serve(
        handler, "127.0.0.1", 0, compression=None, ping_interval=None, close_timeout=60
    ) as server:
        port_out(server.sockets[0].getsockname()[1])
        await stop.wait()


def _sender_process(queue: Any, n: int) -> None:
    async def main() -> None:
        await _sender(queue.put, n, asyncio.Event())  # runs until the process is terminated

    asyncio.run(main())


# -- the two clients -------------------------------------------------------------------------


async def bare(url: str, callback: Callable[[object], None]) -> None:
    """recv + ``orjson.loads`` + ``callback``, until the server closes."""
    loads = orjson.loads
    async with websockets.connect(url, compression=None, max_size=16 * 2**20) as ws:
        async for message in ws:
            callback(loads(message))


async def session(url: str, callback: Callable[[object], None]) -> None:
    """recv + ``ev.decode`` + delivery to one ``callback`` subscriber, until completion."""
    done = asyncio.Event()
    async with rs.connect(base_url=url) as s:
        s.events.subscribe(callback, on_completed=done.set)
        await done.wait()


CLIENTS: dict[str, Client] = {"bare": bare, "rxrealtime": session}


# -- measuring -------------------------------------------------------------------------------


async def _timed(client: Client, url: str, n: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run; checks every event arrived."""
    count = 0

    def callback(_: object) -> None:
        nonlocal count
        count += 1

    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    await client(url, callback)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if count != n:
        raise RuntimeError(f"{client.__name__} received {count} of {n} events")
    return wall, cpu


async def collect(url: str, n: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Per-round (wall, cpu) events/s of both clients: ``{"wall"|"cpu": {client: [rates]}}``."""
    for client in CLIENTS.values():  # warm-up, discarded
        await _timed(client, url, n)
    rates: dict[str, dict[str, list[float]]] = {
        clock: {name: [] for name in CLIENTS} for clock in ("wall", "cpu")
    }
    names = list(CLIENTS)
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            wall, cpu = await _timed(CLIENTS[name], url, n)
            rates["wall"][name].append(n / wall)
            rates["cpu"][name].append(n / max(cpu, 1e-9))
    return rates


def summarise(rates: dict[str, list[float]]) -> dict[str, float]:
    """Median rates and the median of the per-round ratios rxrealtime/bare."""
    result = {name: statistics.median(values) for name, values in rates.items()}
    result["ratio"] = statistics.median(
        r / b for r, b in zip(rates["rxrealtime"], rates["bare"], strict=True)
    )
    return result


def collect_all(n: int, rounds: int, *, inline: bool = False) -> dict[str, dict[str, list[float]]]:
    """:func:`collect` against a sender in its own process (``inline``: in this one)."""
    if inline:
        return asyncio.run(_inline(n, rounds))
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_sender_process, args=(queue, n), daemon=True)
    process.start()
    try:
        port = queue.get(timeout=30)
        return asyncio.run(collect(f"ws://127.0.0.1:{port}/v1", n, rounds))
    finally:
        process.terminate()
        process.join(10)
        queue.close()
        queue.join_thread()


def run(n: int = 10000, rounds: int = 31, *, inline: bool = False) -> dict[str, float]:
    """The headline figures (CPU time): median events/s of both clients, and the ratio.

    ``inline`` keeps the sender in this process (for smoke tests; its CPU time then counts).
    """
    return summarise(collect_all(n, rounds, inline=inline)["cpu"])


async def _inline(n: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    stop = asyncio.Event()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    sender = asyncio.ensure_future(_sender(port.set_result, n, stop))
    try:
        return await collect(f"ws://127.0.0.1:{await port}/v1", n, rounds)
    finally:
        stop.set()
        await sender


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10000, help="events per run")
    parser.add_argument("--rounds", type=int, default=31, help="rounds (medians are printed)")
    parser.add_argument("--per-round", action="store_true", help="also print every round")
    args = parser.parse_args()
    rates = collect_all(args.events, args.rounds)
    if args.per_round:
        for i in range(args.rounds):
            line = [f"round {i + 1:>2}:"]
            for clock in ("cpu", "wall"):
                bare_us, rx_us = (1e6 / rates[clock][name][i] for name in ("bare", "rxrealtime"))
                line.append(f"{clock} {bare_us:6.2f} / {rx_us:6.2f} us = {bare_us / rx_us:.2f}")
            print("   ".join(line))
    cpu, wall = summarise(rates["cpu"]), summarise(rates["wall"])
    print(f"events per run: {args.events}, rounds: {args.rounds} (medians; ratios per round)")
    print(f"{'':24} {'CPU time':>14} {'wall clock':>14}")
    for name, label in (("bare", "bare websockets+orjson"), ("rxrealtime", "rxrealtime session")):
        print(f"{label:24} {cpu[name]:>10,.0f} ev/s {wall[name]:>10,.0f} ev/s")
    for name in ("bare", "rxrealtime"):
        print(f"{name + ' per event':24} {1e6 / cpu[name]:>11.2f} us {1e6 / wall[name]:>11.2f} us")
    print(f"{'ratio rxrealtime/bare':24} {cpu['ratio']:>14.2f} {wall['ratio']:>14.2f}"
          "   (goal: CPU ratio >= 0.80)")
    if args.rounds >= 4:
        spread = [
            statistics.quantiles(
                (r / b for r, b in zip(rates[clock]["rxrealtime"], rates[clock]["bare"],
                                       strict=True)),
                n=4,
            )
            for clock in ("cpu", "wall")
        ]
        print(f"{'  middle half of rounds':24} {spread[0][0]:>8.2f}-{spread[0][2]:.2f}"
              f" {spread[1][0]:>8.2f}-{spread[1][2]:.2f}")


if __name__ == "__main__":
    main()
