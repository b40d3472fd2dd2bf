"""Capture overhead of function pipelines (issue 4), plus the class-flow figure.

    python benchmarks/pipelines.py [--steps 20] [--sleep-ms 50] [--rounds 3] [--skip-flow]

Prints JSON with three figures, all on a fresh local catalog (SQLite + blob folder):

* ``capture``: a pipeline of ``--steps`` function steps, each taking the previous step's
  1 KB value and returning a new 1 KB value; wall time of the run divided by the versions
  it captured (the step bodies cost microseconds, so this is the recording: task rows,
  materializing and hashing each value, registering it with its parent). Targets (issue
  14): at most 3 ms per captured artifact, and at most 1.1x ``register_floor_ms``, a
  plain ``register`` of the same
  values in the same catalog (no pipeline), ``engine_ms`` the difference, and
  ``durable_write_ms`` the machine's floor for one small blob: a 1 KB file written,
  fsync'd, linked into a folder and the folder fsync'd (what the blob store must do
  before any row refers to the bytes), measured in the same folder right after.
* ``cached_rerun``: the same pipeline with ``cache=True`` steps that each sleep
  ``--sleep-ms``; first run against the re-run answered from the cache. Target: the
  re-run at least 30x faster.
* ``foreach_flow``: the class-flow figure of ``benchmarks/flows.py`` (a foreach of 100
  tasks), when that module is present. Target: at most 4 ms per captured artifact.

``benchmarks/run.py`` (``make bench``) calls :func:`run_all` and reports these figures with
the others.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from machine import durable_write_ms

from archivist import ArtifactCatalog, pipeline, step

CAPTURE_TARGET_MS = 3.0
#: capture per artifact at most this many times a plain ``register`` (issue 14)
CAPTURE_RATIO_TARGET = 1.1
SPEEDUP_TARGET = 30.0
FLOW_TARGET_MS = 4.0
VALUE_BYTES = 1024


def make_steps(n: int, *, sleep_s: float = 0.0, cache: bool = False
               ) -> list[Callable[[str], str]]:
    """``n`` distinct steps; step ``k`` turns a 1 KB string into another 1 KB string."""
    def make(k: int) -> Callable[[str], str]:
        def body(previous: str) -> str:
            if sleep_s:
                time.sleep(sleep_s)
            return previous[4:] + f"{k:04d}"
        return step(name=f"s{k:02d}", cache=cache)(body)
    return [make(k) for k in range(n)]


def _run(catalog: ArtifactCatalog, steps: list[Callable[[str], str]], seed: str) -> float:
    started = time.perf_counter()
    with pipeline("bench", catalog=catalog):
        value = seed
        for s in steps:
            value = s(value)
    return time.perf_counter() - started


def bench_capture(n: int = 20, workdir: Path | None = None) -> dict[str, Any]:
    """Wall time per captured artifact of an ``n``-step pipeline of 1 KB values."""
    steps = make_steps(n)
    with tempfile.TemporaryDirectory(dir=workdir) as folder, \
            ArtifactCatalog(Path(folder) / "home") as catalog:
        _run(catalog, steps, "w" * VALUE_BYTES)  # warm-up: schema, imports, first writes
        elapsed = _run(catalog, steps, "x" * VALUE_BYTES)
        run = catalog.runs(limit=1)[0]
        captured = len(run.produced)
        bare = time.perf_counter()
        value = "y" * VALUE_BYTES
        for s in steps:
            value = s(value)  # outside a run: plain calls
        bare_s = time.perf_counter() - bare
        floor = _register_floor(catalog, n)
        durable = durable_write_ms(Path(folder), n)
    ms = 1000 * elapsed / captured
    return {"steps": n, "captured": captured, "seconds": round(elapsed, 4),
            "plain_calls_seconds": round(bare_s, 6), "ms_per_artifact": round(ms, 3),
            "register_floor_ms": round(floor, 3), "engine_ms": round(ms - floor, 3),
            "durable_write_ms": round(durable, 3), "target_ms": CAPTURE_TARGET_MS}


def _register_floor(catalog: ArtifactCatalog, n: int) -> float:
    """ms per plain ``register(data=1 KB, parent_ids=[previous])`` in the same catalog: what
    storing the values costs without any pipeline (blob fsyncs, rows), for comparison."""
    parent: str | None = None
    started = time.perf_counter()
    for k in range(n):
        parent = catalog.register(f"floor{k:02d}", data=f"{k:04d}" * (VALUE_BYTES // 4),
                                  parent_ids=[parent] if parent else None)
    return 1000 * (time.perf_counter() - started) / n


def bench_cached_rerun(n: int = 20, sleep_ms: float = 50.0,
                       workdir: Path | None = None) -> dict[str, Any]:
    """First run of ``n`` sleeping cached steps against the re-run from the cache."""
    steps = make_steps(n, sleep_s=sleep_ms / 1000, cache=True)
    with tempfile.TemporaryDirectory(dir=workdir) as folder, \
            ArtifactCatalog(Path(folder) / "home") as catalog:
        _run(catalog, make_steps(2, cache=True), "w" * VALUE_BYTES)  # warm-up
        first = _run(catalog, steps, "z" * VALUE_BYTES)
        again = _run(catalog, steps, "z" * VALUE_BYTES)
        cached = sum(t.cached for t in catalog.runs(limit=1)[0].tasks)
    return {"steps": n, "sleep_ms": sleep_ms, "first_seconds": round(first, 4),
            "rerun_seconds": round(again, 4), "cached_tasks": cached,
            "speedup": round(first / again, 1), "target_speedup": SPEEDUP_TARGET}


def bench_flow(workdir: Path | None = None) -> dict[str, Any] | None:
    """The foreach-100 flow figure of ``benchmarks/flows.py`` (``None`` without it)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import flows
    except ImportError:
        return None
    result: dict[str, Any] = flows.bench_foreach_flow(100, workdir)
    return result


def run_all(rounds: int = 3, *, steps: int = 20, sleep_ms: float = 50.0,
            flow: bool = True, workdir: Path | None = None) -> dict[str, Any]:
    """Every figure, medians over ``rounds``, each with its target and ``met``."""
    capture = [bench_capture(steps, workdir) for _ in range(rounds)]
    cached = [bench_cached_rerun(steps, sleep_ms, workdir) for _ in range(rounds)]
    ms = statistics.median(r["ms_per_artifact"] for r in capture)
    speedup = statistics.median(r["speedup"] for r in cached)
    to_register = statistics.median(r["ms_per_artifact"] / r["register_floor_ms"]
                                    for r in capture)
    out: dict[str, Any] = {
        "capture": {"rounds": capture, "ms_per_artifact": ms,
                    "register_floor_ms": statistics.median(
                        r["register_floor_ms"] for r in capture),
                    "ratio_to_register": round(to_register, 3),
                    "durable_write_ms": statistics.median(
                        r["durable_write_ms"] for r in capture),
                    "target_ms": CAPTURE_TARGET_MS, "target_ratio": CAPTURE_RATIO_TARGET,
                    "met": ms <= CAPTURE_TARGET_MS,
                    "ratio_met": to_register <= CAPTURE_RATIO_TARGET},
        "cached_rerun": {"rounds": cached, "speedup": speedup,
                         "target_speedup": SPEEDUP_TARGET, "met": speedup >= SPEEDUP_TARGET},
    }
    if flow:
        flows = [f for f in (bench_flow(workdir) for _ in range(rounds)) if f is not None]
        if flows:
            fms = statistics.median(f["ms_per_artifact"] for f in flows)
            out["foreach_flow"] = {
                "rounds": flows, "ms_per_artifact": fms,
                "register_floor_ms": statistics.median(f["register_floor_ms"] for f in flows),
                "durable_write_ms": statistics.median(f["durable_write_ms"] for f in flows),
                "target_ms": FLOW_TARGET_MS, "met": fms <= FLOW_TARGET_MS}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sleep-ms", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-flow", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run_all(args.rounds, steps=args.steps, sleep_ms=args.sleep_ms,
                             flow=not args.skip_flow), indent=2))


if __name__ == "__main__":
    main()
