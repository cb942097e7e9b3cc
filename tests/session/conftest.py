"""Fixtures for the session tests: one embedded server per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from session_helpers import server_mod


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    async with server_mod.serve(port=0, realtime_audio=False) as running:
        yield running
