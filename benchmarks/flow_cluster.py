"""A foreach of ``n`` tasks on a Dask cluster against local worker processes.

    python benchmarks/flow_cluster.py [--n 1000] [--workers 2] [--rounds 2] [--out FILE]

Both executors run :class:`flows.ForeachBench` (each task stores a 1 KB value) on the same
machine, with the same number of worker processes (``--workers``, one thread each), on a
local SQLite catalog folder (the cluster is a ``distributed.LocalCluster`` on 127.0.0.1,
so its workers reach the folder). Rounds are interleaved (local, dask, local, dask …);
each timed run follows an untimed warm-up of 10 tasks on the same pool or cluster, so the
figures leave out starting the workers and importing archivist in them (that is
reported separately as ``start_seconds``).

Prints JSON (and writes it to ``--out``): per executor, ``tasks_per_s`` (tasks the run
recorded / wall seconds) and ``ms_per_artifact`` (wall ms / versions captured), the
median of the rounds and each round, plus the machine (benchmarks/machine.py) and the
1-minute load average before and after. For the cluster, ``noop_roundtrip_ms`` and
``noop_tasks_per_s`` are Dask's own cost on the same cluster (a task doing nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from flows import ForeachBench
from machine import machine_info

from archivist import ArtifactCatalog


def timed(catalog: ArtifactCatalog, n: int, **how: Any) -> dict[str, Any]:
    started = time.perf_counter()
    run = ForeachBench().run(catalog=catalog, n=n, **how)
    elapsed = time.perf_counter() - started
    tasks, captured = len(run.record.tasks), len(run.record.produced)
    assert run.status == "succeeded" and tasks == n + 3, (run.status, tasks)
    run.close()
    return {"seconds": round(elapsed, 3), "tasks": tasks, "captured": captured,
            "tasks_per_s": round(tasks / elapsed, 1),
            "ms_per_artifact": round(1000 * elapsed / captured, 3)}


def local_round(folder: Path, n: int, workers: int) -> dict[str, Any]:
    with ArtifactCatalog(folder / "local") as catalog:
        started = time.perf_counter()
        ForeachBench().run(catalog=catalog, n=10, max_workers=workers)  # warm-up
        start = time.perf_counter() - started
        result = timed(catalog, n, max_workers=workers)
    return {**result, "start_seconds": round(start, 3)}


def dask_round(folder: Path, n: int, workers: int) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client, ArtifactCatalog(folder / "dask") as catalog:
        ForeachBench().run(catalog=catalog, n=10, executor=client)  # warm-up
        start = time.perf_counter() - started
        result = timed(catalog, n, executor=client)
        floor = dask_floor(client, n)
    return {**result, "start_seconds": round(start, 3), **floor}


def dask_floor(client: Any, n: int) -> dict[str, Any]:
    """What Dask itself costs on this cluster, with no archivist in the task: one no-op
    task submitted and its result read, one after the other (``noop_roundtrip_ms``), and
    ``n`` no-op tasks submitted at once and gathered (``noop_tasks_per_s``)."""
    started = time.perf_counter()
    for i in range(100):
        client.submit(abs, -i, pure=False).result()
    roundtrip = 1000 * (time.perf_counter() - started) / 100
    started = time.perf_counter()
    client.gather(client.map(abs, [-i for i in range(n)], pure=False))
    rate = n / (time.perf_counter() - started)
    return {"noop_roundtrip_ms": round(roundtrip, 2), "noop_tasks_per_s": round(rate, 1)}


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    medians = {key: statistics.median(r[key] for r in rounds)
               for key in ("tasks_per_s", "ms_per_artifact", "noop_roundtrip_ms",
                           "noop_tasks_per_s") if key in rounds[0]}
    return {**medians, "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="foreach tasks per run")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes, for both executors")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    local: list[dict[str, Any]] = []
    cluster: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="archivist-bench-dask-") as tmp:
        for index in range(args.rounds):
            folder = Path(tmp) / str(index)
            local.append(local_round(folder, args.n, args.workers))
            cluster.append(dask_round(folder, args.n, args.workers))
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "n": args.n, "workers": args.workers,
        "local_processes": summary(local), "dask_local_cluster": summary(cluster),
        "load_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "machine": machine_info(),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
