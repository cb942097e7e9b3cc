"""Suite-wide settings: asyncio debug mode for every event loop the tests create."""

import os

# asyncio reads this when each loop is created, so every test loop runs in debug mode
# (slow-callback warnings, never-awaited coroutines, unclosed transports).
os.environ["PYTHONASYNCIODEBUG"] = "1"
