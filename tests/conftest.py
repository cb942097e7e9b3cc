"""Suite-wide settings: asyncio debug mode for every loop; reproducible property tests on CI."""

import os

from hypothesis import settings

# asyncio reads this when each loop is created, so every test loop runs in debug mode
# (slow-callback warnings, never-awaited coroutines, unclosed transports).
os.environ["PYTHONASYNCIODEBUG"] = "1"

# CI runs property tests derandomized (the same examples on every run), so a landing never
# depends on what a random search happened to find; locally they explore new examples.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
