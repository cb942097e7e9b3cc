"""NotebookDisplay: one output updated in place, throttled on the scheduler's clock."""

from __future__ import annotations

import itertools
import logging
import sys
from typing import Any

import pytest
import reactivex
from reactivex.testing import ReactiveTest, TestScheduler
from sinks_helpers import response_done, session_created, text_delta

from rxrealtime.sinks import DisplayState, NotebookDisplay, TextView, default_render

on_next, on_completed, on_error = (
    ReactiveTest.on_next,
    ReactiveTest.on_completed,
    ReactiveTest.on_error,
)


class FakeOutput:
    """Stands in for ``IPython.display.display``: one output, with each draw time-stamped."""

    def __init__(self, scheduler: TestScheduler | None = None) -> None:
        self.scheduler = scheduler
        self.draws: list[tuple[float | None, Any]] = []
        self.displays = 0

    def __call__(self, obj: Any, *, display_id: bool = False) -> FakeOutput:
        assert display_id is True
        self.displays += 1
        self.update(obj)
        return self

    def update(self, obj: Any) -> None:
        self.draws.append((self.scheduler.clock if self.scheduler else None, obj))


def test_updates_are_throttled_with_a_trailing_update_and_a_final_one() -> None:
    scheduler = TestScheduler()
    output = FakeOutput(scheduler)
    source = scheduler.create_hot_observable(
        on_next(1.00, text_delta("a")),
        on_next(1.01, text_delta("b")),
        on_next(1.02, text_delta("c")),
        on_next(1.05, text_delta("d")),
        on_next(1.30, response_done()),
        on_next(1.35, session_created()),
        on_completed(1.38),
    )
    sink = NotebookDisplay(render=lambda s: s, scheduler=scheduler, display=output)
    source.subscribe(sink)
    scheduler.start()
    assert output.displays == 1  # one output, updated in place
    times = [t for t, _ in output.draws]
    states: list[DisplayState] = [s for _, s in output.draws]
    assert times == pytest.approx([0.0, 1.00, 1.10, 1.30, 1.38])
    assert [(s.text, s.events, s.finished) for s in states] == [
        ("", 0, False),  # shown at construction
        ("a", 1, False),  # the first change is shown at once
        ("abcd", 4, False),  # b, c, d coalesced into one trailing update
        ("abcd\n", 5, False),  # an interval has passed: shown at once
        ("abcd\n", 6, True),  # the end cancels the pending update and shows the final state
    ]
    assert sink.renders == 5


def test_interval_gaps_between_draws_never_shorter_than_the_interval() -> None:
    scheduler = TestScheduler()
    output = FakeOutput(scheduler)
    messages = [on_next(1.0 + i * 0.013, text_delta("x")) for i in range(100)]
    source = scheduler.create_hot_observable([*messages, on_completed(3.0)])
    source.subscribe(
        NotebookDisplay(
            render=lambda s: s.events, interval=0.1, scheduler=scheduler, display=output
        )
    )
    scheduler.start()
    times = [t for t, _ in output.draws][1:-1]
    assert all(b - a >= 0.1 - 1e-6 for a, b in itertools.pairwise(times))
    assert 13 <= len(times) <= 15  # 1.3 s of events at one draw per 0.1 s
    assert output.draws[-1] == (pytest.approx(3.0), 100)


def test_error_is_shown_and_dispose_flushes() -> None:
    scheduler = TestScheduler()
    output = FakeOutput(scheduler)
    source = scheduler.create_hot_observable(
        on_next(1.0, text_delta("a")),
        on_next(1.01, text_delta("b")),
        on_error(1.02, OSError("gone")),
    )
    source.subscribe(NotebookDisplay(scheduler=scheduler, display=output))
    scheduler.start()
    final = output.draws[-1][1]
    assert isinstance(final, TextView)
    assert repr(final) == "ab\n[2 events, 0 responses; failed: OSError: gone]"

    output = FakeOutput(scheduler)
    sink = NotebookDisplay(render=lambda s: s.text, scheduler=scheduler, display=output)
    sink.on_next(text_delta("x"))
    sink.on_next(text_delta("y"))  # within the interval: pending
    assert output.draws[-1][1] == "x"
    sink.dispose()
    assert output.draws[-1][1] == "xy"
    sink.on_next(text_delta("z"))  # after dispose: ignored
    assert output.draws[-1][1] == "xy"


def test_default_render() -> None:
    assert repr(default_render(DisplayState())) == "[0 events, 0 responses; waiting for events…]"
    state = DisplayState(text="Hi", events=3, last_type="response.done", responses=1)
    assert repr(default_render(state)) == "Hi\n[3 events, 1 responses; last: response.done]"
    assert repr(default_render(DisplayState(finished=True))) == "[0 events, 0 responses; finished]"


def test_without_a_scheduler_or_loop_changes_are_drawn_at_most_once_per_interval() -> None:
    output = FakeOutput()
    sink = NotebookDisplay(render=lambda s: s.events, interval=3600, display=output)
    reactivex.from_iterable([text_delta("a"), text_delta("b"), text_delta("c")]).subscribe(sink)
    assert [obj for _, obj in output.draws] == [0, 1, 3]  # initial, first change, final


def test_without_ipython_it_is_a_no_op_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "IPython", None)
    with caplog.at_level(logging.ERROR, logger="rxrealtime.sinks"):
        sink = NotebookDisplay()
    assert sink.unavailable is not None
    assert "pip install 'rxrealtime[notebook]'" in sink.unavailable
    assert sink.unavailable in caplog.text
    reactivex.from_iterable([text_delta("a"), response_done()]).subscribe(sink)
    assert sink.state.text == "a\n"
    assert sink.state.finished
    assert sink.renders == 0


def test_outside_an_ipython_kernel_nothing_is_printed(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="rxrealtime.sinks"):
        sink = NotebookDisplay()
    assert sink.unavailable is not None
    assert "not running under IPython" in sink.unavailable
    reactivex.of(text_delta("a")).subscribe(sink)
    assert capsys.readouterr().out == ""
