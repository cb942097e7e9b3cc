"""Starting and stopping: free ports, clean shutdown (1001, no leaked tasks), pacing, the CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from _server_support import Client, audio_of, validate_strictly
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rxrealtime.server import serve
from rxrealtime.server.audio import duration_ms

REPO = Path(__file__).resolve().parents[2]


async def test_free_port_base_url_and_going_away_on_stop() -> None:
    server = serve(realtime_audio=False)
    await server.start()
    assert server.port > 0
    assert server.base_url == f"ws://127.0.0.1:{server.port}/v1"
    async with connect(server.url()) as ws:
        assert validate_strictly(await ws.recv())["type"] == "session.created"
        await server.stop()
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftover == []


async def test_stop_during_a_paced_response_leaks_nothing() -> None:
    async with serve(realtime_audio=True) as server:
        sdk = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
        async with sdk.realtime.connect(model="gpt-realtime") as connection:
            client = Client(connection)
            await client.recv()
            await client.create_text("hello")
            await client.send({"type": "response.create"})
            await client.until("response.output_audio.delta")
            await server.stop()
        await sdk.close()
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftover == []


async def _timed_audio_turn(realtime_audio: bool) -> tuple[float, float]:
    async with serve(realtime_audio=realtime_audio) as server:
        sdk = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
        async with sdk.realtime.connect(model="gpt-realtime") as connection:
            client = Client(connection)
            await client.recv()
            await client.create_text("hello")
            started = time.monotonic()
            await client.send({"type": "response.create"})
            events = await client.until("response.done")
            elapsed = time.monotonic() - started
        await sdk.close()
    return elapsed, duration_ms(audio_of(events)) / 1000


async def test_audio_is_paced_in_real_time_unless_asked_not_to() -> None:
    elapsed, audio_seconds = await _timed_audio_turn(realtime_audio=True)
    # the last 200 ms chunk may leave early; everything before it waits for its play time
    assert audio_seconds - 0.25 <= elapsed <= audio_seconds + 1.0
    fast_elapsed, fast_audio = await _timed_audio_turn(realtime_audio=False)
    assert fast_audio == audio_seconds
    assert fast_elapsed < audio_seconds - 0.25  # faster than pacing could ever be


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cli_serve_prints_the_url_first_and_exits_0_on_signal(signum: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "rxrealtime", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("listening on ws://127.0.0.1:") and first.endswith("/v1")
        port = int(first.rsplit(":", 1)[1].removesuffix("/v1"))
        assert port > 0

        async def handshake() -> str:
            async with connect(f"{first.removeprefix('listening on ')}/realtime?model=m") as ws:
                return str(validate_strictly(await ws.recv())["type"])

        assert asyncio.run(handshake()) == "session.created"
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in stderr


def test_cli_serve_reports_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "rxrealtime", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
        )
    assert result.returncode == 1 and result.stdout == ""
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
