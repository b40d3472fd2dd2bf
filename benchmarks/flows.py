"""Capture overhead of class flows: a foreach of ``n`` tasks, each storing a 1 KB value.

    python benchmarks/flows.py [--n 100] [--rounds 3]

Prints JSON: the wall time of the whole run, the versions it captured, and
``ms_per_artifact`` (wall time / captured versions) — the target is at most 4 ms per
captured artifact on the local backend (issue 14). The step bodies themselves cost
microseconds, so the figure is the engine's: scheduling, recording tasks, hashing and
registering each value, and loading what each task reads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from archivist import ArtifactCatalog, DuplicateArtifactWarning, Flow, step

TARGET_MS = 4.0


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
    """One run of :class:`ForeachBench` with ``n`` foreach tasks on a fresh local catalog.

    ``register_floor_ms`` is what registering one 1 KB value costs on the same catalog
    with a plain ``catalog.register`` in its own transaction: the part of the capture
    that is the catalog's (materialize, land and fsync the blob, write the rows), measured
    right after the flow so both see the same machine. ``engine_ms`` is the rest, and
    ``durable_write_ms`` the machine's floor for landing one small blob durably (see
    :func:`machine.durable_write_ms`), measured in the same folder.
    """
    from machine import durable_write_ms

    with tempfile.TemporaryDirectory(dir=workdir) as folder, \
            ArtifactCatalog(Path(folder) / "home") as catalog:
        ForeachBench().run(catalog=catalog, n=2)  # warm-up: imports, schema, first writes
        started = time.perf_counter()
        run = ForeachBench().run(catalog=catalog, n=n)
        elapsed = time.perf_counter() - started
        captured = len(run.record.produced)
        tasks = len(run.record.tasks)
        run.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DuplicateArtifactWarning)
            started = time.perf_counter()
            for i in range(n):
                with catalog.batch():
                    catalog.register("floor.value", data=f"{i:05d}" * 205)
            floor = 1000 * (time.perf_counter() - started) / n
        durable = durable_write_ms(Path(folder))
    per_artifact = 1000 * elapsed / captured
    return {"n": n, "tasks": tasks, "captured": captured, "seconds": round(elapsed, 4),
            "ms_per_artifact": round(per_artifact, 3), "register_floor_ms": round(floor, 3),
            "engine_ms": round(per_artifact - floor, 3),
            "durable_write_ms": round(durable, 3), "target_ms": TARGET_MS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = [bench_foreach_flow(args.n) for _ in range(args.rounds)]
    median = statistics.median(r["ms_per_artifact"] for r in rounds)
    floor = statistics.median(r["register_floor_ms"] for r in rounds)
    durable = statistics.median(r["durable_write_ms"] for r in rounds)
    print(json.dumps({"foreach_flow": {
        "rounds": rounds, "ms_per_artifact": median, "register_floor_ms": floor,
        "durable_write_ms": durable, "target_ms": TARGET_MS, "met": median <= TARGET_MS}},
        indent=2))


if __name__ == "__main__":
    main()
