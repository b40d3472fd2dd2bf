"""MLflow model-registry workload (peer side of R1, R3, R4 and the R8 context).

Runs in MLflow's own venv (benchmarks/.peers/mlflow), driven by benchmarks/peers.py:
``MlflowClient`` on a SQLite backend store (tracking and registry URI the same file) with a
local ``file://`` artifact root, no server. Prints one JSON object on stdout (MLflow's own
output goes to stderr). Measures, in one fresh temp dir:

* schema creation (Alembic migrations on first use) and ``import mlflow``;
* register, metadata only: ``create_model_version`` with a dummy source, 4 tags and a
  description, one call per version, round-robin over ``--models`` registered models
  (``--versions`` in all, timed per call, reported per chunk of ``--versions / --chunks``);
* tag search over all versions: ``search_model_versions("tags.stage = 'production'")``
  (a third of the versions match), the same with ``max_results=100``, and a name filter;
* ``get_model_version_by_alias``, ``get_model_version``, ``set_registered_model_alias``.

    python benchmarks/peer_workloads/mlflow_registry.py [--versions 1000] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import print_json, settle, summarize, summarize_ms, timeit_many

STAGES = ("production", "staging", "development")
TEAMS = ("fraud", "search", "ads", "risk", "vision")


def _versions_of(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    t0 = time.perf_counter()
    import mlflow
    from mlflow import MlflowClient

    import_s = time.perf_counter() - t0

    db_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    artifact_root = (workdir / "artifacts").as_uri()
    t0 = time.perf_counter()
    client = MlflowClient(tracking_uri=db_uri, registry_uri=db_uri)
    # First use of the store runs the migrations; an experiment pins the local artifact root.
    client.create_experiment("bench", artifact_location=artifact_root)
    schema_s = time.perf_counter() - t0

    names = [f"{TEAMS[i % len(TEAMS)]}_model_{i}" for i in range(args.models)]
    for i, name in enumerate(names):
        client.create_registered_model(
            name, tags={"team": TEAMS[i % len(TEAMS)]}, description=f"model {name}"
        )

    counter = {"i": 0}

    def register(name: str) -> None:
        i = counter["i"]
        counter["i"] += 1
        client.create_model_version(
            name=name,
            source=f"{artifact_root}/models/{name}/{i}",
            tags={
                "stage": STAGES[i % len(STAGES)],
                "team": TEAMS[i % len(TEAMS)],
                "owner": f"user{i % 17}",
                "dataset": f"ds-{i % 50}",
            },
            description=f"version {i} of {name}: trained on ds-{i % 50}",
        )

    # Warm-up on its own registered model (no "stage" tag is matched by the searches below).
    client.create_registered_model("warmup_model")
    for _ in range(args.warmup):
        client.create_model_version(name="warmup_model", source=f"{artifact_root}/warmup")

    # Register: one timed call per version, round-robin over the names, in chunks.
    settle()
    samples: list[int] = []
    chunk_rates: list[float] = []
    per_chunk = max(1, args.versions // args.chunks)
    deadline = time.perf_counter() + args.budget_s
    done = 0
    while done < args.versions and time.perf_counter() < deadline:
        chunk_start = time.perf_counter()
        n = min(per_chunk, args.versions - done)
        for k in range(n):
            name = names[(done + k) % len(names)]
            c0 = time.perf_counter_ns()
            register(name)
            samples.append(time.perf_counter_ns() - c0)
        chunk_rates.append(n / (time.perf_counter() - chunk_start))
        done += n
    total_s = sum(samples) / 1e9
    register_stats: dict[str, Any] = {
        "versions": done,
        "models": len(names),
        "tags_per_version": 4,
        "versions_per_s": round(done / total_s, 1),
        "chunk_versions_per_s": summarize(chunk_rates, digits=1),
        **summarize_ms(samples),
    }

    # Aliases: one per model, then the lookups.
    for name in names:
        client.set_registered_model_alias(name, "champion", "1")

    n_lat = args.latency_n
    target = names[0]
    searches = {
        "tag": lambda: client.search_model_versions("tags.stage = 'production'"),
        "tag_max100": lambda: client.search_model_versions(
            "tags.stage = 'production'", max_results=100
        ),
        "name": lambda: client.search_model_versions(f"name = '{target}'"),
    }
    rows = {
        "tag": len(searches["tag"]()),
        "tag_max100": len(searches["tag_max100"]()),
        "name": len(searches["name"]()),
    }
    search_stats: dict[str, Any] = {}
    for key, fn in searches.items():
        stats: dict[str, Any] = timeit_many(fn, args.search_n, warmup=3, budget_s=args.budget_s)
        stats["rows"] = rows[key]
        search_stats[key] = stats

    get_alias = timeit_many(
        lambda: client.get_model_version_by_alias(target, "champion"), n_lat, warmup=5
    )
    get_version = timeit_many(lambda: client.get_model_version(target, "7"), n_lat, warmup=5)
    flip = {"v": 1}

    def set_alias() -> None:
        flip["v"] = 3 - flip["v"]  # alternate versions 1 and 2
        client.set_registered_model_alias(target, "champion", str(flip["v"]))

    set_alias_stats = timeit_many(set_alias, n_lat, warmup=5)

    total_versions = len(client.search_model_versions("name != 'warmup_model'"))
    return {
        "peer": "mlflow",
        "versions": {
            "mlflow": mlflow.__version__,
            "sqlalchemy": _versions_of("sqlalchemy"),
            "alembic": _versions_of("alembic"),
            "python": sys.version.split()[0],
        },
        "backend": "sqlite + file:// artifact root, MlflowClient in-process (no server)",
        "import_s": round(import_s, 3),
        "schema_create_s": round(schema_s, 3),
        "register": register_stats,
        "search_model_versions": {"versions_in_table": total_versions, **search_stats},
        "get_model_version_by_alias": get_alias,
        "get_model_version": get_version,
        "set_registered_model_alias": set_alias_stats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MLflow registry peer workload")
    parser.add_argument("--versions", type=int, default=1000, help="versions to register")
    parser.add_argument("--models", type=int, default=10, help="registered models")
    parser.add_argument("--chunks", type=int, default=5, help="chunks the register is cut in")
    parser.add_argument("--warmup", type=int, default=20, help="untimed registrations first")
    parser.add_argument("--search-n", type=int, default=60, help="timed calls per search")
    parser.add_argument("--latency-n", type=int, default=300, help="timed get/set alias calls")
    parser.add_argument("--budget-s", type=float, default=60.0, help="time cap per phase")
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.versions, args.search_n, args.latency_n, args.warmup = 100, 10, 30, 5
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)

    started = time.time()
    real_stdout = sys.stdout
    with (
        tempfile.TemporaryDirectory(prefix="peer-mlflow-", dir=args.workdir) as tmp,
        contextlib.redirect_stdout(sys.stderr),
    ):
        result = run(args, Path(tmp).resolve())
    result["wall_s"] = round(time.time() - started, 2)
    print_json(result, real_stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
