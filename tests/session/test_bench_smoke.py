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
    result = module.run(60, 1, inline=True)
    assert set(result) == {"bare", "rxrealtime", "ratio"}
    assert result["bare"] > 0 and result["rxrealtime"] > 0
    assert len(module.event_mix(60)) == 60
