"""Suite-wide settings: asyncio debug mode for every loop; reproducible property tests on CI."""

import os
import signal

from hypothesis import settings

# asyncio reads this when each loop is created, so every test loop runs in debug mode
# (slow-callback warnings, never-awaited coroutines, unclosed transports).
os.environ["PYTHONASYNCIODEBUG"] = "1"

# A suite started in the background of a script (``pytest &``: POSIX shells then ignore SIGINT
# for it) passes that on to every command it starts, and the tests that press Ctrl-C on one
# would wait for nothing. The suite restores Python's own handler; a child it starts then gets
# the default disposition back when it executes its program.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# CI runs property tests derandomized (the same examples on every run), so a landing never
# depends on what a random search happened to find; locally they explore new examples.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
