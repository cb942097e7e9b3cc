"""Ctrl-C ends a command with status 130 whichever thread of the process the system delivers
it to (``chat`` edits lines on a thread of its own; audio devices run threads too).

asyncio runs its Ctrl-C handler in Python on the main thread; a signal taken by another thread
used to leave the main thread asleep in ``select()`` until something else woke the loop, which
could be never. The commands' runner (``rxrealtime.cli.main._run``) now gives the loop a
wake-up socket for signals."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap

import pytest
from cli_helpers import ROOT, TIMEOUT, cli_env, without_slow_step_reports

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "tgkill"),
    reason="needs Linux's tgkill to choose the thread a signal goes to",
)

# A command whose loop has nothing to do until Ctrl-C: it starts a thread that blocks, and a
# second one that, once the loop has gone to sleep (a moment later: if the loop were still
# awake, the test would pass without proving anything, never fail), has the system deliver
# SIGINT to the blocked thread, not to the main one.
COMMAND = textwrap.dedent(
    """
    import asyncio, ctypes, os, signal, sys, threading, time

    from rxrealtime.cli.main import _run

    def blocked(started: threading.Event, native: list[int]) -> None:
        native.append(threading.get_native_id())
        started.set()
        threading.Event().wait()

    def interrupt(started: threading.Event, native: list[int]) -> None:
        started.wait()
        time.sleep(0.5)  # the main thread is asleep in select() by now
        ctypes.CDLL(None).tgkill(os.getpid(), native[0], signal.SIGINT)

    async def idle_until_interrupted() -> None:
        started, native = threading.Event(), []
        threading.Thread(target=blocked, args=(started, native), daemon=True).start()
        threading.Thread(target=interrupt, args=(started, native), daemon=True).start()
        await asyncio.get_running_loop().create_future()  # nothing else will wake the loop

    sys.exit(_run("idle", idle_until_interrupted()))
    """
)


def test_ctrl_c_taken_by_another_thread_ends_the_command_with_status_130() -> None:
    done = subprocess.run(
        [sys.executable, "-c", COMMAND],
        capture_output=True,
        text=True,
        env=cli_env(None),
        cwd=ROOT,
        timeout=TIMEOUT,  # without the wake-up socket: a hang, then TimeoutExpired here
    )
    assert done.returncode == 130, done.stderr
    assert without_slow_step_reports(done.stderr) == "rxrealtime idle: interrupted\n"
