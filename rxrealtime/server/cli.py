"""``python -m rxrealtime serve``: run the embedded server until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

from rxrealtime.server.app import serve

__all__ = ["serve_main"]


async def _serve_until_signalled(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with serve(host, port) as server:
            print(f"listening on {server.base_url}", flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def serve_main(host: str, port: int) -> int:
    """Serve on ``host:port`` (0 = a free port). The first line printed is
    ``listening on ws://HOST:PORT/v1``; SIGINT (Ctrl-C) or SIGTERM stops the server cleanly
    (open connections are closed with 1001) and the function returns 0. Returns 1, with a
    message on stderr, when the address cannot be bound."""
    try:
        asyncio.run(_serve_until_signalled(host, port))
    except OSError as exc:
        print(f"rxrealtime serve: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0
