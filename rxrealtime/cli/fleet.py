"""``rxrealtime fleet``: N sessions across K worker processes, each published to Redis.

Each worker process runs its share of the sessions on one event loop, against the endpoint
given by ``base_url`` or, without one, against an embedded server it starts in-process (with
real-time audio pacing by default). Every session is connected with
``recorder=RedisPublisher(...)``, so ``rxrealtime monitor`` (or any
:func:`~rxrealtime.sources.redis_group` consumer) sees it live. A session does ``turns`` voice
turns: it streams a spoken question (the embedded server's tone code, 100 ms of audio every
100 ms when real-time) and server VAD answers it with speech; ``mode="text"`` sends typed turns
instead (use it with the live API, whose VAD does not take tones for speech).

As a library: ``run_fleet(FleetOptions(sessions=100, workers=4))`` returns a
:class:`FleetResult`; :func:`fleet_worker` is one worker's coroutine.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs

from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.scheduling import first
from rxrealtime.server import encode_text, serve
from rxrealtime.server.audio import silence
from rxrealtime.session import connect
from rxrealtime.sinks import RedisPublisher
from rxrealtime.sources.redis_layout import DEFAULT_PREFIX, DEFAULT_URL

__all__ = ["FleetOptions", "FleetResult", "add_parser", "fleet_worker", "main", "run_fleet"]

_CHUNK_MS = 100
_TURN_TIMEOUT = 120.0


@attrs.frozen
class FleetOptions:
    """What a fleet runs (see ``python -m rxrealtime fleet --help``)."""

    sessions: int = 10
    workers: int = 2
    redis: str = DEFAULT_URL
    base_url: str | None = None
    model: str = "gpt-realtime"
    turns: int = 3
    mode: str = "voice"
    realtime: bool = True
    prefix: str = DEFAULT_PREFIX
    shards: int = 1
    ramp: float = 1.0
    """Seconds over which each worker starts its sessions."""


@attrs.frozen
class FleetResult:
    """What a fleet did, summed over its workers."""

    sessions: int
    completed: int
    failed: int
    frames: int
    published: int
    dropped: int
    seconds: float
    errors: tuple[str, ...] = ()


@contextlib.asynccontextmanager
async def _endpoint(options: FleetOptions) -> AsyncIterator[str | None]:
    if options.base_url is not None:
        yield options.base_url
        return
    async with serve(realtime_audio=options.realtime) as server:
        yield server.base_url


async def _voice_turn(session: Any, options: FleetOptions, turn: int) -> None:
    audio = encode_text(f"question {turn}") + silence(800)
    step = 24 * 2 * _CHUNK_MS  # bytes of 100 ms at 24 kHz PCM16
    for start in range(0, len(audio), step):
        await session.input_audio_buffer.append(audio[start : start + step])
        if options.realtime:
            await asyncio.sleep(_CHUNK_MS / 1000)


async def _text_turn(session: Any, turn: int) -> None:
    await session.send(ev.ConversationItemCreate.user_text(f"Question {turn}: say hello."))
    await session.send(ev.ResponseCreate())


async def _one_session(
    options: FleetOptions, base_url: str | None, index: int, delay: float
) -> RedisPublisher:
    await asyncio.sleep(delay)
    publisher = RedisPublisher(
        options.redis, prefix=options.prefix, shards=options.shards, meta={"fleet_index": index}
    )
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
        publisher,
        connect(options.model, base_url=base_url, recorder=publisher) as session,
    ):
        await session.send(update)
        for turn in range(options.turns):
            done = first(session.events.pipe(ops.of_type(ev.ResponseDone)))
            if options.mode == "text":
                await _text_turn(session, turn)
            else:
                await _voice_turn(session, options, turn)
            async with asyncio.timeout(_TURN_TIMEOUT):
                await done
    return publisher


async def fleet_worker(options: FleetOptions, count: int) -> FleetResult:
    """Run ``count`` sessions of the fleet on the running loop; return what they did."""
    started = time.monotonic()
    async with _endpoint(options) as base_url:
        spread = options.ramp / max(1, count)
        results = await asyncio.gather(
            *(_one_session(options, base_url, i, i * spread) for i in range(count)),
            return_exceptions=True,
        )
    publishers = [r for r in results if isinstance(r, RedisPublisher)]
    stats = [p.statistics() for p in publishers]
    errors = tuple(f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException))
    return FleetResult(
        sessions=count,
        completed=len(publishers),
        failed=len(errors),
        frames=sum(s.frames for s in stats),
        published=sum(s.published for s in stats),
        dropped=sum(s.dropped for s in stats),
        seconds=time.monotonic() - started,
        errors=errors[:5],
    )


def _worker_process(options: FleetOptions, count: int) -> FleetResult:
    return asyncio.run(fleet_worker(options, count))


def run_fleet(options: FleetOptions) -> FleetResult:
    """Run the fleet in ``options.workers`` processes (spawned) and sum their results."""
    if options.sessions < 1 or options.workers < 1:
        raise ValueError("sessions and workers must be >= 1")
    workers = min(options.workers, options.sessions)
    base, extra = divmod(options.sessions, workers)
    shares = [base + (i < extra) for i in range(workers)]
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        parts = list(pool.map(_worker_process, [options] * workers, shares))
    return FleetResult(
        sessions=sum(p.sessions for p in parts),
        completed=sum(p.completed for p in parts),
        failed=sum(p.failed for p in parts),
        frames=sum(p.frames for p in parts),
        published=sum(p.published for p in parts),
        dropped=sum(p.dropped for p in parts),
        seconds=time.monotonic() - started,
        errors=tuple(e for p in parts for e in p.errors)[:5],
    )


def add_parser(commands: Any) -> None:
    """Register ``fleet`` on the command line's sub-parsers."""
    parser = commands.add_parser(
        "fleet", help="run N sessions in K worker processes, publishing them to Redis"
    )
    parser.add_argument("--sessions", type=int, default=10, help="sessions (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--redis", default=DEFAULT_URL, metavar="URL", help="Redis URL")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix of the fleet")
    parser.add_argument("--shards", type=int, default=1, help="group streams to spread over")
    parser.add_argument(
        "--base-url", metavar="URL", help="Realtime endpoint (default: embedded, per worker)"
    )
    parser.add_argument("--model", default="gpt-realtime", help="model to ask for")
    parser.add_argument("--turns", type=int, default=3, help="turns per session (default 3)")
    parser.add_argument("--mode", choices=("voice", "text"), default="voice",
                        help="spoken turns with server VAD (default) or typed turns")  # fmt: skip
    parser.add_argument("--fast", dest="realtime", action="store_false",
                        help="embedded server and input audio as fast as possible")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    """What ``fleet`` runs for parsed ``args``: the fleet, then one summary line."""
    options = FleetOptions(
        sessions=args.sessions,
        workers=args.workers,
        redis=args.redis,
        base_url=args.base_url,
        model=args.model,
        turns=args.turns,
        mode=args.mode,
        realtime=args.realtime,
        prefix=args.prefix,
        shards=args.shards,
    )
    print(
        f"rxrealtime fleet: {options.sessions} sessions in {options.workers} workers, "
        f"publishing to {options.redis}",
        flush=True,
    )
    result = await asyncio.get_running_loop().run_in_executor(None, run_fleet, options)
    print(
        f"{result.completed}/{result.sessions} sessions completed, {result.failed} failed; "
        f"{result.published} records published ({result.frames} frames), "
        f"{result.dropped} dropped; {result.seconds:.1f} s"
    )
    for error in result.errors:
        print(f"  {error}")
