"""MLflow tracking-server workload: concurrent metadata-only model-version registration.

Runs in MLflow's own venv (benchmarks/.peers/mlflow), driven by benchmarks/server.py, against
an ``mlflow server`` that benchmarks/server.py started on the same kind of database as the
archivist server (PostgreSQL). ``--clients`` processes each open an ``MlflowClient`` on the
server's URL and call ``create_model_version`` (a dummy source, 4 tags and a description:
the same payload as archivist's side) round-robin over ``--models`` registered models, for
``--seconds`` from a shared start (once every client has warmed up).
Prints one JSON object on stdout.

    python mlflow_server_register.py --tracking-uri http://127.0.0.1:5000 [--clients 8]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from typing import Any

STAGES = ("production", "staging", "development")


def _client_loop(uri: str, models: int, seconds: float, index: int, ready: Any, go: Any,
                 out: Any) -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for i in range(5):  # warm the connection pool, untimed
        client.create_model_version(f"bench_model_{(index + i) % models}", "s3://bench-models/m",
                                    tags={"warmup": "1"})
    ready.put(index)
    go.wait()
    start_at = time.time()
    done = 0
    stop = start_at + seconds
    while time.time() < stop:
        client.create_model_version(
            f"bench_model_{(index + done) % models}", "s3://bench-models/model",
            tags={"stage": STAGES[done % 3], "team": "fraud", "owner": f"user{index}",
                  "f1_score": str(0.8 + (done % 10) / 100)},
            description="benchmark version")
        done += 1
    out.put((index, done, time.time() - start_at))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    setup = MlflowClient(tracking_uri=args.tracking_uri, registry_uri=args.tracking_uri)
    for m in range(args.models):
        name = f"bench_model_{m}"
        try:
            setup.create_registered_model(name)
        except Exception as exc:  # an existing model from an earlier round is fine
            if "already exists" not in str(exc).lower() and "RESOURCE_ALREADY" not in str(exc):
                raise
    ctx = multiprocessing.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_client_loop,
                         args=(args.tracking_uri, args.models, args.seconds, i, ready, go, out))
             for i in range(args.clients)]
    for p in procs:
        p.start()
    for _ in procs:  # every client imported mlflow and warmed up: start together
        ready.get(timeout=300)
    go.set()
    results = [out.get(timeout=args.seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    total = sum(done for _, done, _ in results)
    wall = max(elapsed for _, _, elapsed in results)
    print(json.dumps({"clients": args.clients, "versions": total, "seconds": round(wall, 3),
                      "versions_per_s": round(total / wall, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
