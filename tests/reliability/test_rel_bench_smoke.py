"""The scale and soak benchmarks run end to end with tiny parameters (speed is not asserted:
the figures are the benchmarks' job; here they must run, measure and lose nothing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_scale_smoke() -> None:
    result = _load("bench_scale").run(
        [3],
        duration=1.0,
        stop_on_fail=False,
        idle_sessions=3,
        idle_repeat=1,
        client_cpu=None,
        blaster_cpu=None,  # never pin the test process
    )
    rows = result["rows"]
    assert {row["contender"] for row in rows} >= {"rxrealtime", "bare"}
    for row in rows:  # every session saw every event the blaster sent, and it every append
        assert row["sessions"] == 3 and row["lost"] == 0 and row["failures"] == []
        assert row["events"] > 0 and row["p99_ms"] == row["p99_ms"]
    assert result["idle_bytes"] and all(size > 0 for size in result["idle_bytes"].values())


def test_bench_soak_smoke() -> None:
    result = _load("bench_soak").run(0.5)
    assert result["dropped"] == 0 and result["replies"] == 3
    assert result["frames_out"] > 300 and result["samples"]
    assert result["chunks"] > 0 and result["summaries"] == 3
