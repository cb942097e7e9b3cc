"""``NotebookDisplay``: a live view of a session that updates one notebook output in place."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import attrs
from reactivex import abc

from rxrealtime import events as ev
from rxrealtime._compat import Observer
from rxrealtime.scheduling import LoopScheduler

__all__ = ["DisplayState", "NotebookDisplay", "TextView", "default_render"]

_log = logging.getLogger("rxrealtime.sinks")


class DisplayHandle(Protocol):
    """What ``display(obj, display_id=True)`` returns (IPython's ``DisplayHandle``)."""

    def update(self, obj: Any, /) -> Any: ...


DisplayFunction = Callable[..., Any]
"""``IPython.display.display``'s shape: ``display(obj, display_id=True) -> DisplayHandle``."""


@attrs.frozen
class DisplayState:
    """What a :class:`NotebookDisplay` knows, handed to its ``render`` function."""

    text: str = ""
    """The model's words so far (output text and audio transcripts), one line per response."""
    events: int = 0
    """Events seen."""
    last_type: str | None = None
    """The ``type`` of the latest event."""
    responses: int = 0
    """``response.done`` events seen."""
    finished: bool = False
    """The stream has ended (completed or failed)."""
    error: str | None = None
    """How the stream failed, if it did."""


@attrs.frozen(repr=False)
class TextView:
    """Plain text shown as is in a notebook (a bare ``str`` would be shown with quotes)."""

    text: str

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text)


def default_render(state: DisplayState) -> TextView:
    """The text so far, then a status line (events seen, last event, end of stream)."""
    if state.error is not None:
        status = f"failed: {state.error}"
    elif state.finished:
        status = "finished"
    else:
        status = f"last: {state.last_type}" if state.last_type else "waiting for events…"
    footer = f"[{state.events} events, {state.responses} responses; {status}]"
    return TextView(f"{state.text}\n{footer}" if state.text else footer)


def _ipython_display() -> tuple[DisplayFunction | None, str]:
    """IPython's ``display`` when running under IPython, else ``None`` and why not."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None, "IPython is not installed (pip install 'rxrealtime[notebook]')"
    if get_ipython() is None:
        return None, "not running under IPython (no notebook kernel)"
    return display, ""


class NotebookDisplay(Observer[ev.ServerEvent]):
    """Show the session live in ONE notebook output, updated in place and throttled.

    At construction the sink displays ``render(DisplayState())`` in the current cell (with
    ``display(..., display_id=True)``), so the output belongs to the cell that created it even
    when events arrive later. Each event updates the state; the output is re-rendered with the
    handle's ``update`` at most once per ``interval`` seconds: the first change renders at once,
    later changes within the interval are coalesced into one trailing update scheduled on
    ``scheduler``. The stream ending (or ``dispose()``) cancels the timer and renders the final
    state at once.

    ``scheduler`` defaults to the running event loop's
    :class:`~rxrealtime.scheduling.LoopScheduler` (the kernel's loop, in a notebook), resolved
    at the first event; with no scheduler and no running loop there is no trailing timer (a
    coalesced change shows with the next event or at the end). Pass a ``TestScheduler`` to
    test with virtual time.

    ``render`` maps a :class:`DisplayState` to anything IPython can display (default
    :func:`default_render`: plain text plus a status line). ``display`` replaces
    ``IPython.display.display`` (for tests or other front ends). IPython is imported lazily;
    when it is not installed, or the code is not running under IPython (a plain ``python``
    process), the sink is a no-op: it logs one ERROR on ``rxrealtime.sinks`` saying why,
    still tracks :attr:`state`, and :attr:`unavailable` holds the reason.

    Threads: ``on_next`` and the timer run on the event loop's thread (or the scheduler's);
    rendering is done there (IPython's display calls are cheap message sends).
    """

    def __init__(
        self,
        *,
        render: Callable[[DisplayState], object] = default_render,
        interval: float = 0.1,
        scheduler: abc.SchedulerBase | None = None,
        display: DisplayFunction | None = None,
    ) -> None:
        super().__init__()
        if interval < 0:
            raise ValueError(f"interval must be >= 0, not {interval}")
        self.state = DisplayState()
        self.unavailable: str | None = None
        self.renders = 0
        """How many times the output was drawn (the initial display included)."""
        self._render = render
        self._interval = interval
        self._scheduler = scheduler
        self._last: float | None = None
        self._timer: abc.DisposableBase | None = None
        self._dirty = False
        self._handle: DisplayHandle | None = None
        self._context: contextvars.Context | None = None
        reason = ""
        if display is None:
            display, reason = _ipython_display()
        handle = None if display is None else display(self._render(self.state), display_id=True)
        if not callable(getattr(handle, "update", None)):
            self.unavailable = (
                f"NotebookDisplay shows nothing: {reason or 'display() returned no handle'}"
            )
            _log.error(self.unavailable)
            return
        self._handle = handle
        # ipykernel routes an output update to the cell whose context sends it; the events
        # arrive from the session's receive task (the cell that connected), so every update is
        # sent from the context of the cell that created this display.
        self._context = contextvars.copy_context()
        self.renders += 1

    def dispose(self) -> None:
        """Cancel the pending update and show the latest state; idempotent."""
        if not self.is_stopped:
            super().dispose()
            self._flush()

    def _on_next_core(self, value: ev.ServerEvent) -> None:
        state = self.state
        text = state.text
        responses = state.responses
        if isinstance(value, ev.ResponseOutputTextDelta | ev.ResponseOutputAudioTranscriptDelta):
            delta = getattr(value, "delta", None)
            if isinstance(delta, str):
                text += delta
        elif isinstance(value, ev.ResponseDone):
            responses += 1
            if text and not text.endswith("\n"):
                text += "\n"
        self.state = attrs.evolve(
            state, text=text, events=state.events + 1, last_type=value.type, responses=responses
        )
        self._changed()

    def _on_completed_core(self) -> None:
        self.state = attrs.evolve(self.state, finished=True)
        self._flush()

    def _on_error_core(self, error: Exception) -> None:
        self.state = attrs.evolve(
            self.state, finished=True, error=f"{type(error).__name__}: {error}"
        )
        self._flush()

    def _now(self) -> float:
        if self._scheduler is None:
            try:
                self._scheduler = LoopScheduler.current()
            except RuntimeError:
                return time.monotonic()
        return self._scheduler.now.timestamp()

    def _changed(self) -> None:
        self._dirty = True
        if self._timer is not None:
            return  # a trailing update is already due; it will show this change
        now = self._now()
        wait = 0.0 if self._last is None else self._last + self._interval - now
        if wait <= 0:
            self._draw(now)
        elif self._scheduler is not None:
            self._timer = self._scheduler.schedule_relative(wait, self._on_timer)

    def _on_timer(self, _scheduler: abc.SchedulerBase, _state: Any = None) -> None:
        self._timer = None
        if self._dirty:
            self._draw(self._now())

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.dispose()
            self._timer = None
        self._draw(self._now())

    def _draw(self, now: float) -> None:
        self._dirty = False
        self._last = now
        if self._handle is not None and self._context is not None:
            self._context.run(self._handle.update, self._render(self.state))
            self.renders += 1
