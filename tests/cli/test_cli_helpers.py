"""The harness's own rule: asyncio debug mode's reports of a slow loop step (the machine's load,
not the program) are taken out of a command's stderr before tests compare it; nothing else is."""

from __future__ import annotations

from cli_helpers import without_slow_step_reports

REPORT = (
    "Executing <Task pending name='Task-1' coro=<run_chat() running at chat.py:185> "
    "wait_for=<Future pending cb=[Task.task_wakeup()]>> took 0.126 seconds\n"
)


def test_slow_step_reports_are_dropped_and_everything_else_is_kept() -> None:
    stderr = f"{REPORT}rxrealtime chat: interrupted\n{REPORT.replace('0.126', '2')}"
    assert without_slow_step_reports(stderr) == "rxrealtime chat: interrupted\n"


def test_lines_that_only_resemble_a_report_stay() -> None:
    stderr = (
        "error: Executing <x> took 3 seconds to fail\n"  # not at the start of the line
        "Executing <Handle f()> took seconds\n"  # no figure
        "Executing <Handle f()> took 3 seconds to fail\n"  # more after the figure
        "Traceback (most recent call last):\n"
    )
    assert without_slow_step_reports(stderr) == stderr
