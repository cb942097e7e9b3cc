"""Shared fixtures: real sessions against the embedded server over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import pytest
from reactivex import Observable
from reactivex import operators as rx_ops

import rxrealtime as rr
from rxrealtime import events as ev
from rxrealtime import operators as ops
from rxrealtime.server import serve

T = TypeVar("T")

Open = Callable[..., Awaitable[rr.RealtimeSession]]


@pytest.fixture
async def open_session() -> AsyncIterator[Open]:
    """``await open_session(**serve_options, reconnect=None, recorder=None)``: a server and a
    session connected to it, both closed at the end of the test; the session's ``error``
    events are collected on ``session.problems`` (tests assert it stays empty)."""
    async with AsyncExitStack() as stack:

        async def open_(
            *, reconnect: rr.ReconnectPolicy | None = None, recorder: Any = None, **options: Any
        ) -> rr.RealtimeSession:
            options.setdefault("realtime_audio", False)
            server = await stack.enter_async_context(serve(**options))
            session = await stack.enter_async_context(
                rr.connect(
                    base_url=server.base_url,
                    api_key="test-key",
                    reconnect=reconnect,
                    recorder=recorder,
                )
            )
            problems: list[ev.ServerEvent] = []
            session.events.pipe(ops.errors()).subscribe(problems.append)
            session.problems = problems  # type: ignore[attr-defined]
            return session

        yield open_


def nth(source: Observable[T], n: int = 1) -> asyncio.Future[T]:
    """A future for the n-th value of ``source``, subscribed now (no event can slip by)."""
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    def resolve(value: T) -> None:
        if not future.done():
            future.set_result(value)

    source.pipe(rx_ops.skip(n - 1), rx_ops.take(1)).subscribe(resolve)
    return future


def collect(source: Observable[T]) -> list[T]:
    values: list[T] = []
    source.subscribe(values.append)
    return values
