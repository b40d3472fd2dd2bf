"""The server benchmark's own arithmetic: the same-run ratio to ``/health``, wrk's
output parsed, and the throughput chart drawn (``make bench`` is not run in CI)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "server.py"

WRK_OUTPUT = """\
Running 4s test @ http://127.0.0.1:1/health
  2 threads and 32 connections
  Latency Distribution
     50%   12.50ms
     75%   20.00ms
     90%  900.00us
     99%    1.20s
  4000 requests in 4.00s, 1.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   1000.50
"""


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("server_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(rps: float, p99: float) -> dict[str, Any]:
    return {"requests_per_s": rps, "latency_ms": {"p99": p99}, "non_2xx": 0,
            "connections": 32}


def test_wrk_output_is_parsed(bench: ModuleType) -> None:
    assert bench._wrk_rps(WRK_OUTPUT) == 1000.5
    assert bench._wrk_latency(WRK_OUTPUT) == {"p50": 12.5, "p75": 20.0, "p90": 0.9,
                                              "p99": 1200.0}
    assert bench._wrk_errors(WRK_OUTPUT) == 3


def test_the_median_run_and_the_ratio_to_health_are_reported(bench: ModuleType) -> None:
    middle = bench._median_run([_run(300, 40), _run(100, 90), _run(200, 50)])
    assert middle["requests_per_s"] == 200
    assert middle["rounds_requests_per_s"] == [300, 100, 200]
    rows = bench.summary({"get_by_alias": {**middle, "ratio_to_health": 0.55}})
    ratio = next(r for r in rows if "/health" in r["figure"])
    assert ratio["value"] == 0.55 and ratio["met"] is False


def test_the_sweep_chart_is_a_png(bench: ModuleType, tmp_path: Path) -> None:
    rows = [{"connections": c, "alias_rps": 100.0 * c, "alias_p99_ms": 5.0 * c,
             "health_rps": 300.0 * c, "health_p99_ms": 2.0 * c} for c in (1, 4, 16)]
    chart = tmp_path / "sweep.png"
    bench.plot_sweep(rows, chart, "test")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.stat().st_size > 10_000
