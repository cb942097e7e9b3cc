"""A consumer-group worker process for ``test_redis_group.py``.

``python group_worker.py URL PREFIX GROUP NAME LOG COUNT CLAIM_IDLE DIE_AFTER``: reads the
group with ``rxrealtime.sources.redis_group`` (``count=COUNT``, ``claim_idle=CLAIM_IDLE``) and
appends ``ENTRY SESSION EVENT_ID`` to LOG (flushed) for every event its subscriber handles. With
DIE_AFTER > 0 it kills itself (SIGKILL: no cleanup, no acknowledgement) inside the subscriber,
right after logging its DIE_AFTER-th event. It prints
``ready`` once subscribed and runs until terminated.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import TextIO

from rxrealtime.sources import SessionEvent, redis_group


async def main(argv: list[str], log: TextIO) -> None:
    url, prefix, group, name, _log_path, count, claim_idle, die = argv[:8]
    die_after = int(die) or None
    handled = 0

    def on_next(item: object) -> None:
        nonlocal handled
        if not isinstance(item, SessionEvent):
            return
        log.write(f"{item.entry_id} {item.session_id} {item.event.event_id}\n")
        log.flush()
        handled += 1
        if die_after is not None and handled >= die_after:
            os.kill(os.getpid(), signal.SIGKILL)

    failed = asyncio.get_running_loop().create_future()
    source = redis_group(
        url, group, name, prefix=prefix, count=int(count), claim_idle=float(claim_idle)
    )
    source.subscribe(on_next, failed.set_exception)
    print("ready", flush=True)
    await failed


if __name__ == "__main__":
    with open(sys.argv[5], "a", encoding="utf-8") as log_file:
        asyncio.run(main(sys.argv[1:], log_file))
