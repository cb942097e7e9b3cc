"""``python -m rxrealtime serve`` as a subprocess: the URL first, one log line per connection
(key masked), ``--require-key`` refusing like the live service, ``--fast``/``--realtime``
pacing."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cli_helpers import TIMEOUT, cli_argv, cli_env
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

KEY = "sk-serve-test-key-0123456789"
PCM_BYTES_PER_SECOND = 24_000 * 2
MASKED = r"\S*\*\*\S*"  # a key shown masked: stars where (most of) the key was


class Served:
    """A running ``serve`` subprocess: its base URL and its stderr, read line by line."""

    def __init__(self, process: asyncio.subprocess.Process, base_url: str) -> None:
        self.process = process
        self.base_url = base_url
        self.log: list[str] = []

    async def expect_log(self, pattern: str) -> str:
        """The next stderr line matching ``pattern`` (``re.search``); waits for it."""
        assert self.process.stderr is not None
        while True:
            raw = await asyncio.wait_for(self.process.stderr.readline(), TIMEOUT)
            assert raw, f"stderr ended before {pattern!r}: {self.log}"
            line = raw.decode().rstrip("\n")
            self.log.append(line)
            if re.search(pattern, line):
                return line


@contextlib.asynccontextmanager
async def served(*options: str) -> AsyncIterator[Served]:
    process = await asyncio.create_subprocess_exec(
        *cli_argv(("serve", "--port", "0", *options)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(None),
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode()
        match = re.fullmatch(r"listening on (ws://127\.0\.0\.1:\d+/v1)\n", first)
        assert match is not None, first
        yield Served(process, match.group(1))
        process.send_signal(signal.SIGINT)
        _, rest = await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert process.returncode == 0
        assert "Traceback" not in rest.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _session(served: Served, key: str | None) -> dict[str, Any]:
    """Connect (with ``key`` as the bearer key, if any), return the first event, hang up."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = f"{served.base_url}/realtime?model=gpt-realtime"
    async with connect(url, additional_headers=headers) as ws:
        first: dict[str, Any] = json.loads(await ws.recv())
        if first["type"] == "error":
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            first["close_code"] = closed.value.rcvd.code
    return first


async def test_require_key_refuses_like_the_live_service_and_logs_each_connection() -> None:
    async with served("--require-key", KEY, "--fast") as server:
        created = await _session(server, KEY)
        assert created["type"] == "session.created"
        opened = await server.expect_log(r"connection 1 from ")
        assert re.search(
            rf"connection 1 from 127\.0\.0\.1:\d+, key {MASKED}: session sess_\w+, "
            r"model gpt-realtime$",
            opened,
        ), opened
        assert re.search(r"connection 1 closed: code 1000$", await server.expect_log("closed"))

        wrong = await _session(server, "sk-wrong-key-999999999")
        assert wrong["error"]["code"] == "invalid_api_key"
        assert wrong["close_code"] == 3000
        refused = await server.expect_log(r"connection 2 ")
        assert re.search(rf", key {MASKED} refused: invalid_api_key, close 3000$", refused), refused

        missing = await _session(server, None)
        assert missing["error"]["code"] == "invalid_api_key"
        assert "didn't provide an API key" in missing["error"]["message"]
        refused = await server.expect_log(r"connection 3 ")
        assert refused.endswith("key none refused: invalid_api_key, close 3000")
    assert all(KEY not in line and "wrong-key" not in line for line in server.log)


async def test_quiet_logs_nothing_and_no_key_is_needed_by_default() -> None:
    async with served("--quiet") as server:
        assert (await _session(server, None))["type"] == "session.created"
        assert (await _session(server, "anything"))["type"] == "session.created"
    assert server.log == []


async def _audio_turn(served: Served, words: int) -> tuple[float, float]:
    """Ask for a spoken echo of ``words`` words: (seconds from response.create to
    response.done, seconds of audio received)."""
    async with connect(f"{served.base_url}/realtime?model=gpt-realtime") as ws:
        await ws.recv()  # session.created
        text = " ".join(["word"] * words)
        content = [{"type": "input_text", "text": text}]
        item = {"type": "message", "role": "user", "content": content}
        await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        started = time.monotonic()
        await ws.send(json.dumps({"type": "response.create"}))
        audio = 0
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == "response.output_audio.delta":
                audio += len(base64.b64decode(event["delta"]))
            if event["type"] == "response.done":
                return time.monotonic() - started, audio / PCM_BYTES_PER_SECOND


@pytest.mark.parametrize("options", [(), ("--realtime",)])
async def test_audio_is_paced_at_speaking_speed_by_default_and_with_realtime(
    options: tuple[str, ...],
) -> None:
    async with served("--quiet", *options) as server:
        elapsed, audio = await _audio_turn(server, 3)
    assert audio > 0.5
    # a lower bound only (the pacing waits): the last chunk may leave up to 200 ms early
    assert elapsed >= audio - 0.25


async def test_fast_streams_audio_as_fast_as_possible() -> None:
    async with served("--quiet", "--fast") as server:
        elapsed, audio = await _audio_turn(server, 40)
    assert audio > 8.0
    assert elapsed < audio / 2  # generous: unpaced, this takes a small fraction of a second
