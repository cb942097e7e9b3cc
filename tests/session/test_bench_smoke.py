"""The session benchmark runs end to end (tiny N; nothing is asserted about speed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_session.py"


def test_bench_session_smoke() -> None:
    spec = importlib.util.spec_from_file_location("bench_session", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.run(60, 1, appends=20, inline=True)  # checks every value arrived
    assert {"bare", "rxrealtime", "rxrealtime+ops"} <= set(result["receive"])
    assert set(result["send"]) == {"bare", "rxrealtime"}
    for summary in (*result["receive"].values(), *result["send"].values()):
        assert summary["seconds"] > 0 and summary["ratio"] > 0
    assert len(module.event_mix(60)) == 60
