"""``fleet`` and ``monitor``: the library calls and the commands, on a real Redis."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import pytest
from redis_helpers import RedisServer, wait_for

from rxrealtime import operators as ops
from rxrealtime.cli.fleet import FleetOptions, fleet_worker, run_fleet
from rxrealtime.cli.main import main
from rxrealtime.cli.monitor import FleetMonitor, run_monitor
from rxrealtime.sources import redis_group


async def test_a_fleet_watched_by_a_monitor(redis_server: RedisServer, prefix: str) -> None:
    prices = ops.Prices(input_text=4, output_text=16, input_audio=32, output_audio=64)
    monitor = FleetMonitor(prices)
    watching = monitor.attach(redis_group(redis_server.url, "watch", "m1", prefix=prefix))
    try:
        options = FleetOptions(
            sessions=3, workers=1, redis=redis_server.url, prefix=prefix, turns=2, realtime=False
        )
        result = await fleet_worker(options, 3)
        assert (result.completed, result.failed, result.dropped) == (3, 0, 0)
        await wait_for(lambda: monitor.snapshot().ended == 3)
    finally:
        watching.dispose()
    snapshot = monitor.snapshot()
    assert snapshot.active == 0 and snapshot.failed == 0 and snapshot.errors == 0
    assert snapshot.responses == 6  # two spoken answers per session, through server VAD
    assert snapshot.first_audio_p50 is not None and snapshot.first_audio_p95 is not None
    assert snapshot.first_delta_p50 is not None
    assert snapshot.tokens > 0 and snapshot.cost is not None and snapshot.cost > 0
    assert snapshot.events == result.published - 3 - 3  # minus the end and session.update


@pytest.mark.timeout(600)  # two spawned worker processes: generous on a loaded machine
def test_run_fleet_spreads_sessions_over_worker_processes(
    redis_server: RedisServer, prefix: str
) -> None:
    options = FleetOptions(
        sessions=4, workers=2, redis=redis_server.url, prefix=prefix, turns=1, realtime=False
    )
    result = run_fleet(options)
    assert (result.sessions, result.completed, result.failed) == (4, 4, 0)
    assert result.published > 0 and result.dropped == 0

    async def watch() -> str:
        out = io.StringIO()
        # it stops once Redis says the group got (and acknowledged) every entry: the fleet is
        # over, so that is every session, however slow this process is; duration is a bound
        last = await run_monitor(
            redis_server.url, prefix=prefix, interval=0.2, until_idle=0.5, duration=300, out=out
        )
        assert last.ended == 4 and last.active == 0
        return out.getvalue()

    view = asyncio.run(watch())
    assert "ended      4" in view and "1st audio" in view


@pytest.fixture
def library_log_level() -> Iterator[None]:
    """The command line quiets the ``rxrealtime`` logger (to ERROR) for the process; put it
    back, so later tests see the library's warnings."""
    logger = logging.getLogger("rxrealtime")
    level = logger.level
    try:
        yield
    finally:
        logger.setLevel(level)


@pytest.mark.usefixtures("library_log_level")
def test_the_monitor_command(
    redis_server: RedisServer, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["monitor", "--redis", redis_server.url, "--prefix", prefix, "--interval", "0.1",
         "--duration", "0.3", "--prices", "input_text=4,output_text=16"]
    )  # fmt: skip
    assert status == 0
    out = capsys.readouterr().out
    assert "sessions  active      0" in out and "cost 0.0000" in out


@pytest.mark.usefixtures("library_log_level")
def test_bad_prices_are_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["monitor", "--prices", "input_text=4,bogus=1"])
    assert exit_info.value.code == 2
    assert "bad --prices" in capsys.readouterr().err
