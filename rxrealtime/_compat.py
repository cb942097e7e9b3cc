"""Every shortcut rxrealtime takes into reactivex or asyncio internals, in one place.

Each name here relies on something its library does not promise; ``tests/test_compat.py``
pins each behaviour relied on, so an upgrade that changes one fails one clear test instead of
silently corrupting delivery. Nothing else in rxrealtime imports a private module of reactivex
or asyncio, reads a private attribute of their objects, or subclasses their classes through
protected hooks, except through this module.

What is relied on, and why:

``running_loop()``
    ``asyncio.events._get_running_loop``: the running loop or ``None``, without raising. The
    thread-hop and iterator hot paths ask "am I on the loop's thread?" once per value;
    :func:`asyncio.get_running_loop` would raise (and be caught) on every call from another
    thread.
``direct_on_next(observer)``
    reactivex wraps every subscriber in an ``AutoDetachObserver`` whose ``on_next`` only
    re-checks ``is_stopped`` before calling the user's callback, kept in ``_on_next``. A session
    guard already stops delivery on dispose and at the end, so it calls ``_on_next`` directly
    (one Python call less per event and subscriber: the session's hot path).
``subscribe_function(observable)``
    ``Observable._subscribe_core``: the subscribe function of an Observable, so a piped
    Observable can be re-wrapped as a :class:`~rxrealtime.session.SessionObservable` that
    defaults its scheduler.
``SequenceContainsNoElementsError``
    defined in ``reactivex.internal.exceptions``; it is what reactivex's own ``first()``/
    ``last()`` raise on an empty sequence, so :func:`rxrealtime.scheduling.first` raises the
    same class.
``PeriodicScheduler``
    ``reactivex.scheduler.periodicscheduler.PeriodicScheduler`` (not exported by
    ``reactivex.scheduler``): the base class that turns ``schedule_relative`` into
    ``schedule_periodic`` for :class:`~rxrealtime.scheduling.LoopScheduler`.
``Observer``
    ``reactivex.Observer`` subclassed through its protected hooks: the sinks override
    ``_on_next_core``/``_on_error_core``/``_on_completed_core`` and read or set
    ``is_stopped`` (``on_next`` calls ``_on_next_core`` unless stopped; ``on_error`` and
    ``on_completed`` stop, then call their hook once; ``dispose`` stops).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from reactivex import Observable, Observer, abc
from reactivex.internal.exceptions import SequenceContainsNoElementsError
from reactivex.observer.autodetachobserver import AutoDetachObserver
from reactivex.scheduler.periodicscheduler import PeriodicScheduler

__all__ = [
    "Observer",
    "PeriodicScheduler",
    "SequenceContainsNoElementsError",
    "direct_on_next",
    "running_loop",
    "subscribe_function",
]

_T = TypeVar("_T")

running_loop: Callable[[], asyncio.AbstractEventLoop | None] = asyncio.events._get_running_loop
"""The running event loop of this thread, or ``None`` (never raises)."""


def direct_on_next(observer: abc.ObserverBase[_T]) -> Callable[[_T], None]:
    """The callable that delivers a value to ``observer``, skipping reactivex's
    ``AutoDetachObserver`` re-check of ``is_stopped`` (the caller must stop delivering on
    dispose and at the end itself). Any other observer's bound ``on_next``."""
    if type(observer) is AutoDetachObserver:
        target: Callable[[_T], None] = observer._on_next
        return target
    return observer.on_next


def subscribe_function(
    observable: Observable[_T],
) -> Callable[[abc.ObserverBase[_T], abc.SchedulerBase | None], abc.DisposableBase]:
    """The function ``observable`` runs for each subscription (observer, scheduler)."""
    return observable._subscribe_core
