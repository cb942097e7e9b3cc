"""``rxrealtime serve``: run the embedded server (:mod:`rxrealtime.server`) until SIGINT or
SIGTERM.

The first line printed on stdout is ``listening on ws://HOST:PORT/v1`` (the real port when
``--port 0`` picked a free one), flushed at once, so a script can read it and connect. Each
connection then gets one line on stderr when it opens (or is refused) and one when it closes,
logged at INFO by the ``rxrealtime.server`` logger: its number, the client's address, the
session and model, the key it presented, masked, and the close code. ``--quiet`` turns these
lines off.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from rxrealtime.server.app import serve

__all__ = ["LOGGER", "serve_main"]

LOGGER = "rxrealtime.server"
"""The logger that reports connections (one INFO line per connect and disconnect)."""


async def _serve_until_signalled(
    host: str, port: int, *, realtime_audio: bool, api_key: str | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with serve(host, port, realtime_audio=realtime_audio, api_key=api_key) as server:
            print(f"listening on {server.base_url}", flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _log_connections(enabled: bool) -> None:
    logger = logging.getLogger(LOGGER)
    if not enabled:
        logger.setLevel(logging.WARNING)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def serve_main(
    host: str,
    port: int,
    *,
    realtime_audio: bool = True,
    api_key: str | None = None,
    log_connections: bool = True,
) -> int:
    """Serve on ``host:port`` (0 = a free port) until SIGINT (Ctrl-C) or SIGTERM.

    The first line printed is ``listening on ws://HOST:PORT/v1``. ``realtime_audio`` paces
    output audio at speaking speed (as the live service does); ``api_key`` makes the server
    refuse clients that do not present it (``invalid_api_key``, close 3000, like the live
    service); ``log_connections`` writes one line per connect and disconnect to stderr.
    A signal stops the server cleanly (open connections are closed with 1001) and the function
    returns 0; it returns 1, with one line on stderr, when the address cannot be bound.
    """
    _log_connections(log_connections)
    try:
        asyncio.run(
            _serve_until_signalled(host, port, realtime_audio=realtime_audio, api_key=api_key)
        )
    except OSError as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        print(f"rxrealtime serve: cannot listen on {host}:{port}: {why}", file=sys.stderr)
        return 1
    return 0
