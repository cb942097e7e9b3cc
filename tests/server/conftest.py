"""Fixtures for the embedded server's tests: a fast server and an SDK client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest
from _server_support import Client

from rxrealtime.server import RealtimeServer, serve


@pytest.fixture
async def server() -> AsyncIterator[RealtimeServer]:
    async with serve(realtime_audio=False) as running:
        yield running


@pytest.fixture
async def client(server: RealtimeServer) -> AsyncIterator[Client]:
    sdk = openai.AsyncOpenAI(api_key="test", websocket_base_url=server.base_url)
    async with sdk.realtime.connect(model="gpt-realtime") as connection:
        wrapped = Client(connection)
        created = await wrapped.recv()
        assert created["type"] == "session.created"
        yield wrapped
    await sdk.close()
