"""End to end, socket -> subscriber and PCM -> socket: rxrealtime vs a bare loop and the SDK.

Receiving (events/second of client CPU, the same stream for every contender):

* ``bare``: ``websockets`` ``async for message in ws: callback(orjson.loads(message))``;
* ``rxrealtime``: ``rxrealtime.session.connect(...)``, one ``session.events`` subscriber (the same
  counting callback), completion on the server's close;
* ``rxrealtime+ops``: the same session with three operator pipelines subscribed:
  ``text_only()``, ``accumulate_deltas()`` and ``audio_chunks()`` (base64-decoded audio), each
  with a counting callback;
* ``sdk``: the official ``openai`` SDK, ``async for event in connection`` (typed events); left
  out when ``openai`` is not installed.

Sending: ``appends`` 100 ms PCM16 chunks, each sent as ``input_audio_buffer.append``:

* ``bare``: ``await ws.send(orjson.dumps({"type": ..., "audio": base64.b64encode(pcm)
  .decode()}).decode())``;
* ``rxrealtime``: ``await session.input_audio_buffer.append(pcm)``.

The server runs in its own process: to receivers it writes the whole stream (a realistic mix of
Realtime server events, then a close with 1000) as frames serialised in advance, so it costs
almost nothing and the client being measured is always the bottleneck; senders' frames it reads
and drops. Each round runs every contender once, the order rotating from round to round, after
one discarded warm-up round; a full garbage collection precedes every run. Every run is checked:
each receiver must see exactly the events (or operator outputs) expected, each sender's frames
must all arrive.

Per run the benchmark takes the client process's CPU time (user + system; the server is another
process, and time the client spends descheduled by other work on a shared machine counts
against nobody) and the wall-clock time. The figures are medians over the rounds; the ratios
are the medians of the per-round ratios contender/bare as *speed* (bare time / contender time:
above 1 is faster than the bare loop), with the middle half of the rounds. Usage::

    python benchmarks/bench_session.py [--events 10000] [--appends 2000] [--rounds 31]
                                       [--per-round] [--no-sdk]
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
import reactivex
import websockets
from reactivex.subject import Subject
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

import rxrealtime.session as rs
from rxrealtime import events as ev
from rxrealtime import operators as ops

PCM_CHUNK = bytes(range(256)) * 18 + bytes(192)  # 4,800 bytes: 100 ms of 24 kHz PCM16
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


def pipelines() -> list[Callable[[reactivex.Observable[Any]], reactivex.Observable[Any]]]:
    """The operator pipelines of ``rxrealtime+ops`` (fresh ones: operators are cold)."""
    return [ops.text_only(), ops.accumulate_deltas(), ops.audio_chunks()]


def expected_outputs(frames: list[str]) -> int:
    """How many values the ``rxrealtime+ops`` pipelines emit for ``frames`` (computed offline,
    with the same decoder and operators on a plain Subject)."""
    subject: Subject[ev.ServerEvent] = Subject()
    count = 0

    def counted(_: object) -> None:
        nonlocal count
        count += 1

    for pipe in pipelines():
        subject.pipe(pipe).subscribe(counted)
    for frame in frames:
        subject.on_next(ev.decode(frame))
    return count


# -- the server ------------------------------------------------------------------------------


def wire_stream(frames: list[str]) -> bytes:
    """The server-to-client bytes of ``frames`` as unmasked text frames (no compression)."""
    return b"".join(Frame(Opcode.TEXT, f.encode()).serialize(mask=False) for f in frames)


async def _server(port_out: Callable[[int], None], n: int, stop: asyncio.Event) -> None:
    stream = wire_stream(event_mix(n))

    async def handler(ws: ServerConnection) -> None:
        if ws.request is not None and "/sink" in ws.request.path:
            received = 0
            async for _ in ws:  # a sender's frames: read and dropped
                received += 1
            return
        # the frames go straight to the socket, bypassing the connection's per-frame send path
        # (nothing else writes meanwhile: no pings, no compression); the close goes through it
        ws.transport.write(stream)
        await ws.close(1000)

    async with serve(
        handler,
        "127.0.0.1",
        0,
        compression=None,
        ping_interval=None,
        close_timeout=60,
        max_size=2**24,
    ) as server:
        port_out(server.sockets[0].getsockname()[1])
        await stop.wait()


def _server_process(queue: Any, n: int) -> None:
    async def main() -> None:
        await _server(queue.put, n, asyncio.Event())  # runs until the process is terminated

    asyncio.run(main())


# -- the receivers -----------------------------------------------------------------------------


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


async def session_ops(url: str, callback: Callable[[object], None]) -> None:
    """The session with ``text_only``, ``accumulate_deltas`` and ``audio_chunks`` subscribed."""
    done = asyncio.Event()
    async with rs.connect(base_url=url) as s:
        for pipe in pipelines():
            s.events.pipe(pipe).subscribe(callback)
        s.events.subscribe(on_completed=done.set)
        await done.wait()


async def sdk(url: str, callback: Callable[[object], None]) -> None:
    """The official SDK: ``async for event in connection``, until the server closes."""
    import openai

    client = openai.AsyncOpenAI(api_key="benchmark", websocket_base_url=url)
    async with client.realtime.connect(model="gpt-realtime") as connection:
        async for event in connection:
            callback(event)


RECEIVERS: dict[str, Client] = {
    "bare": bare,
    "rxrealtime": session,
    "rxrealtime+ops": session_ops,
    "sdk": sdk,
}


# -- the senders -------------------------------------------------------------------------------


async def bare_send(url: str, appends: int) -> None:
    dumps, b64encode = orjson.dumps, base64.b64encode
    async with websockets.connect(url, compression=None) as ws:
        for _ in range(appends):
            event = {"type": "input_audio_buffer.append", "audio": b64encode(PCM_CHUNK).decode()}
            await ws.send(dumps(event).decode())


async def session_send(url: str, appends: int) -> None:
    async with rs.connect(base_url=url) as s:
        append = s.input_audio_buffer.append
        for _ in range(appends):
            await append(PCM_CHUNK)
        assert s.statistics().frames_out == appends


SENDERS: dict[str, Callable[[str, int], Awaitable[None]]] = {
    "bare": bare_send,
    "rxrealtime": session_send,
}


# -- measuring -------------------------------------------------------------------------------


async def _timed(run: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    await run()
    return time.perf_counter() - wall, time.process_time() - cpu


async def _receive(client: Client, url: str, expected: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run; checks every value arrived."""
    count = 0

    def callback(_: object) -> None:
        nonlocal count
        count += 1

    times = await _timed(lambda: client(url, callback))
    if count != expected:
        raise RuntimeError(f"{client.__name__} received {count} of {expected} values")
    return times


Rates = dict[str, dict[str, list[float]]]
"""``{"wall"|"cpu": {contender: [seconds per item, one per round]}}``."""


async def collect(
    url: str, n: int, appends: int, rounds: int, receivers: list[str]
) -> tuple[Rates, Rates]:
    """Per-round seconds per event of every receiver and per append of every sender."""
    expected = {name: n for name in receivers}
    if "rxrealtime+ops" in receivers:
        expected["rxrealtime+ops"] = expected_outputs(event_mix(n))
    sink = url + "/sink"
    received: Rates = {clock: {name: [] for name in receivers} for clock in ("wall", "cpu")}
    sent: Rates = {clock: {name: [] for name in SENDERS} for clock in ("wall", "cpu")}
    for i in range(rounds + 1):  # the first round is a warm-up, discarded
        order = receivers[i % len(receivers) :] + receivers[: i % len(receivers)]
        for name in order:
            wall, cpu = await _receive(RECEIVERS[name], url, expected[name])
            if i:
                received["wall"][name].append(wall / n)
                received["cpu"][name].append(cpu / n)
        if appends:
            for name in list(SENDERS) if i % 2 else list(SENDERS)[::-1]:
                send = SENDERS[name]
                wall, cpu = await _timed(lambda send=send: send(sink, appends))  # type: ignore[misc]
                if i:
                    sent["wall"][name].append(wall / appends)
                    sent["cpu"][name].append(cpu / appends)
    return received, sent


def summarise(times: dict[str, list[float]]) -> dict[str, Any]:
    """Median seconds per item of each contender, and its speed relative to ``bare``: the
    median over rounds of bare time / contender time (above 1: faster than the bare loop),
    with the quartiles of those per-round ratios."""
    result: dict[str, Any] = {}
    for name, values in times.items():
        ratios = [b / c for b, c in zip(times["bare"], values, strict=True)]
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
        result[name] = {
            "seconds": statistics.median(values),
            "ratio": statistics.median(ratios),
            "middle_half": (quartiles[0], quartiles[2]),
        }
    return result


def _has_sdk() -> bool:
    try:
        import openai  # noqa: F401
    except ImportError:
        return False
    return True


def collect_all(
    n: int, appends: int, rounds: int, *, inline: bool = False, with_sdk: bool = True
) -> tuple[Rates, Rates]:
    """:func:`collect` against a server in its own process (``inline``: in this one)."""
    receivers = [name for name in RECEIVERS if name != "sdk" or (with_sdk and _has_sdk())]
    if inline:
        return asyncio.run(_inline(n, appends, rounds, receivers))
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_server_process, args=(queue, n), daemon=True)
    process.start()
    try:
        port = queue.get(timeout=30)
        url = f"ws://127.0.0.1:{port}/v1"
        return asyncio.run(collect(url, n, appends, rounds, receivers))
    finally:
        process.terminate()
        process.join(10)
        queue.close()
        queue.join_thread()


async def _inline(n: int, appends: int, rounds: int, receivers: list[str]) -> tuple[Rates, Rates]:
    stop = asyncio.Event()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = asyncio.ensure_future(_server(port.set_result, n, stop))
    try:
        return await collect(f"ws://127.0.0.1:{await port}/v1", n, appends, rounds, receivers)
    finally:
        stop.set()
        await server


def run(
    n: int = 10000,
    rounds: int = 31,
    *,
    appends: int = 2000,
    inline: bool = False,
    with_sdk: bool = True,
) -> dict[str, dict[str, Any]]:
    """The headline figures (CPU time): ``{"receive": summary, "send": summary}`` (see
    :func:`summarise`). ``inline`` keeps the server in this process (for smoke tests; its CPU
    time then counts)."""
    received, sent = collect_all(n, appends, rounds, inline=inline, with_sdk=with_sdk)
    return {
        "receive": summarise(received["cpu"]),
        "send": summarise(sent["cpu"]) if appends else {},
    }


def _load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10000, help="events per receiving run")
    parser.add_argument("--appends", type=int, default=2000, help="appends per sending run")
    parser.add_argument("--rounds", type=int, default=31, help="rounds (medians are printed)")
    parser.add_argument("--per-round", action="store_true", help="also print every round")
    parser.add_argument("--no-sdk", action="store_true", help="leave the official SDK out")
    args = parser.parse_args()
    started = _load()
    received, sent = collect_all(args.events, args.appends, args.rounds, with_sdk=not args.no_sdk)
    print(
        f"{args.events} events and {args.appends} appends per run, {args.rounds} rounds; "
        f"load average before {started}, after {_load()}"
    )
    for title, times, unit in (
        ("receive: socket -> subscriber", received, "event"),
        ("send: PCM -> input_audio_buffer.append -> socket", sent, "append"),
    ):
        if not times["cpu"] or not next(iter(times["cpu"].values())):
            continue
        cpu, wall = summarise(times["cpu"]), summarise(times["wall"])
        print(f"\n{title} (CPU us per {unit}; speed vs bare = bare time / time, median of rounds)")
        for name in cpu:
            low, high = cpu[name]["middle_half"]
            print(
                f"  {name:16} {cpu[name]['seconds'] * 1e6:8.2f} us   x{cpu[name]['ratio']:5.2f}"
                f"  (middle half {low:.2f}-{high:.2f}; wall clock x{wall[name]['ratio']:.2f})"
            )
        if args.per_round:
            for i in range(args.rounds):
                line = "   ".join(
                    f"{name} {times['cpu'][name][i] * 1e6:.2f}" for name in times["cpu"]
                )
                print(f"    round {i + 1:>2}: {line}")


if __name__ == "__main__":
    main()
