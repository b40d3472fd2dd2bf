"""Capture overhead of class flows: a foreach of ``n`` tasks, each storing a 1 KB value.

    python benchmarks/flows.py [--n 100] [--rounds 3]

Prints JSON: the wall time of the whole run, the versions it captured, and
``ms_per_artifact`` (wall time / captured versions) — the target is at most 5 ms per
captured artifact on the local backend (issue 4). The step bodies themselves cost
microseconds, so the figure is the engine's: scheduling, recording tasks, hashing and
registering each value, and loading what each task reads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from archivist import ArtifactCatalog, Flow, step

TARGET_MS = 5.0


class ForeachBench(Flow):
    """start -> one task per item (1 KB value each) -> join -> end."""

    n: int = 100

    @step
    def start(self) -> None:
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self) -> None:
        self.value = f"{self.input:04d}" * 256  # 1 KB of text, different per task
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.sizes = [len(i.value) for i in inputs]
        self.next(self.end)

    @step
    def end(self) -> None:
        self.total = sum(self.sizes)


def bench_foreach_flow(n: int = 100, workdir: Path | None = None) -> dict[str, Any]:
    """One run of :class:`ForeachBench` with ``n`` foreach tasks on a fresh local catalog."""
    with tempfile.TemporaryDirectory(dir=workdir) as folder, \
            ArtifactCatalog(Path(folder) / "home") as catalog:
        ForeachBench().run(catalog=catalog, n=2)  # warm-up: imports, schema, first writes
        started = time.perf_counter()
        run = ForeachBench().run(catalog=catalog, n=n)
        elapsed = time.perf_counter() - started
        captured = len(run.record.produced)
        tasks = len(run.record.tasks)
        run.close()
    return {"n": n, "tasks": tasks, "captured": captured, "seconds": round(elapsed, 4),
            "ms_per_artifact": round(1000 * elapsed / captured, 3),
            "target_ms": TARGET_MS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = [bench_foreach_flow(args.n) for _ in range(args.rounds)]
    median = statistics.median(r["ms_per_artifact"] for r in rounds)
    print(json.dumps({"foreach_flow": {"rounds": rounds, "ms_per_artifact": median,
                                       "target_ms": TARGET_MS, "met": median <= TARGET_MS}},
                     indent=2))


if __name__ == "__main__":
    main()
