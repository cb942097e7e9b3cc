"""Awaiting an Observable from async code: :func:`first`, :func:`last`, :func:`to_list`
(see :mod:`rxrealtime.scheduling`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal, TypeVar, cast

import reactivex

from rxrealtime._compat import SequenceContainsNoElementsError, running_loop
from rxrealtime.scheduling.loop import LoopScheduler

__all__ = ["SequenceContainsNoElementsError", "first", "last", "to_list"]

_T = TypeVar("_T")
_MISSING: Any = object()


def _collect(
    source: reactivex.Observable[_T], keep: Literal["first", "last", "all"]
) -> asyncio.Future[list[_T]]:
    """Subscribe to ``source`` now, on the running loop, and return a future of its values.

    The subscription is made before this returns, so a hot source (``session.events``) cannot
    deliver the awaited event in the gap between the call and the ``await``. The subscription is
    disposed when the future settles, and cancelling the future disposes it too (as a
    done-callback, so on the loop's next turns).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[_T]] = loop.create_future()
    values: list[_T] = []

    def settle(error: Exception | None) -> None:
        if done.done():
            return
        if error is None:
            done.set_result(values)
        else:
            done.set_exception(error)

    def push(value: _T) -> None:
        if done.done():
            return
        if keep == "last":
            values[:] = [value]
            return
        values.append(value)
        if keep == "first":
            done.set_result(values)

    def on_loop(fn: Callable[..., None], *args: Any) -> None:
        if running_loop() is loop:
            fn(*args)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    subscription = source.subscribe(
        lambda v: on_loop(push, v),
        lambda e: on_loop(settle, e),
        lambda: on_loop(settle, None),
        scheduler=LoopScheduler.for_loop(loop),
    )
    done.add_done_callback(lambda _: subscription.dispose())
    return done


def _pick_one(future: asyncio.Future[list[_T]], default: Any) -> asyncio.Future[_T]:
    """A future of the single value ``future`` collects (or ``default``); cancelling it
    cancels ``future`` and so disposes the subscription."""
    result: asyncio.Future[_T] = future.get_loop().create_future()

    def transfer(source: asyncio.Future[list[_T]]) -> None:
        if result.done():
            return
        if source.cancelled():
            result.cancel()
        elif (error := source.exception()) is not None:
            result.set_exception(error)
        else:
            try:
                result.set_result(_one(source.result(), default))
            except SequenceContainsNoElementsError as empty:
                result.set_exception(empty)

    future.add_done_callback(transfer)
    result.add_done_callback(lambda r: future.cancel() if r.cancelled() else None)
    return result


def _one(values: list[_T], default: Any) -> _T:
    if values:
        return values[0]
    if default is _MISSING:
        raise SequenceContainsNoElementsError()
    return cast(_T, default)


def first(source: reactivex.Observable[_T], *, default: Any = _MISSING) -> asyncio.Future[_T]:
    """A future of the first value of ``source``; ``default`` (or
    ``SequenceContainsNoElementsError``) when it completes empty.

    Subscribes at call time (call it *before* sending the request whose answer you await)
    and disposes the subscription once the value is there. Must be called on a running loop.
    """
    return _pick_one(_collect(source, "first"), default)


def last(source: reactivex.Observable[_T], *, default: Any = _MISSING) -> asyncio.Future[_T]:
    """A future of the last value of ``source`` once it completes (subscribes at call time;
    see :func:`first` for ``default``)."""
    return _pick_one(_collect(source, "last"), default)


def to_list(source: reactivex.Observable[_T]) -> asyncio.Future[list[_T]]:
    """A future of every value of ``source``, once it completes; fails with its error.
    Subscribes at call time."""
    return _collect(source, "all")
