"""The bridge between asyncio and Rx: a loop-bound scheduler, back-pressure, thread hops,
and awaiting Observables from async code.

Threads
    Everything a session emits is delivered on its event loop's thread. :class:`LoopScheduler`
    runs scheduled work (``delay``, ``debounce``, ``buffer_with_time``, ``timeout``, …) on that
    same thread: ``call_soon``/``call_later`` when scheduled from the loop thread, their
    ``*_threadsafe`` forms from any other thread. Sessions subscribe with it, so operators
    applied with ``session.events.pipe(...)`` need no ``scheduler=`` argument; for other
    Observables pass ``scheduler=LoopScheduler.current()``.

Overflow policies (``Overflow``), shared by :func:`observe_on_thread`, :func:`to_async_iterable`
and the session's own iterators; each buffer holds at most ``maxsize`` values:

``"block"``
    Back-pressure, never blocking the event loop: when the buffer is full the value is still
    accepted and the buffer *holds* a :class:`Backpressure` gate; producers that honour the gate
    (every rxrealtime session's receive loop does, before reading its next frame) suspend with
    ``await`` until the consumer drains below ``maxsize``, so the socket (then TCP) pushes back
    on the server. A producer that ignores the gate can overfill the buffer up to
    ``2 * maxsize``; past that the buffer fails as with ``"error"``. Producing from a thread
    with no event loop really blocks that thread until there is room. A session's ``close()``
    stops honouring the gate (a stuck sink cannot hold it), and an ended thread hop stops
    holding it (see :mod:`rxrealtime.scheduling.threads`).
``"drop_oldest"`` / ``"drop_newest"``
    The oldest queued value (resp. the new one) is discarded and counted in ``dropped``; a
    thread hop also logs its drops (the first and every 1000th).
``"error"``
    The buffer fails: the consumer receives :class:`~rxrealtime.errors.BufferOverflowError`
    after the values already queued, and ``on_next`` raises it to the producer (a session logs
    it and detaches that subscriber).

Modules
    :mod:`~rxrealtime.scheduling.loop` (the scheduler and the gate),
    :mod:`~rxrealtime.scheduling.threads` (thread hops), :mod:`~rxrealtime.scheduling.iteration`
    (async iteration), :mod:`~rxrealtime.scheduling.awaiting` (awaiting); every name is
    importable from ``rxrealtime.scheduling``.

Awaiting
    :func:`first`, :func:`last`, :func:`to_list` and :func:`to_async_iterable` subscribe on the
    running loop and never block it, never call ``asyncio.run``: they work in Jupyter's loop.
    Cancelling the awaiting task disposes the subscription.
"""

from __future__ import annotations

from rxrealtime.scheduling.awaiting import SequenceContainsNoElementsError, first, last, to_list
from rxrealtime.scheduling.iteration import (
    LoopQueueObserver,
    ObservableIterator,
    to_async_iterable,
)
from rxrealtime.scheduling.loop import Backpressure, LoopScheduler
from rxrealtime.scheduling.overflow import Overflow
from rxrealtime.scheduling.threads import HopStatistics, ThreadObserver, observe_on_thread

__all__ = [
    "Backpressure",
    "HopStatistics",
    "LoopQueueObserver",
    "LoopScheduler",
    "ObservableIterator",
    "Overflow",
    "SequenceContainsNoElementsError",
    "ThreadObserver",
    "first",
    "last",
    "observe_on_thread",
    "to_async_iterable",
    "to_list",
]
