"""End-to-end demo on the embedded default catalog: raw data -> features -> model.

Run with `make demo`. A pipeline records itself (every output registered, linked to its
inputs, the run kept); the better model is promoted with an alias; then the catalog
answers "what is in production, what was it trained on, are those still the same bytes?".
It uses a fresh catalog in ./.archivist-demo (removed first), so it can be run again and
again, and `make serve` then shows it in the web UI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from archivist import ArtifactCatalog, pipeline, step

HOME = Path(".archivist-demo")


def raw_rows() -> Any:
    """Five card payments: a pandas DataFrame (stored as Parquet with schema, preview and
    statistics) when the pandas extra is installed, else plain columns."""
    columns = {"amount": [12.5, 990.0, 15.25, 4200.0, 8.75],
               "country": ["DE", "FR", "DE", "US", "FR"],
               "is_fraud": [False, True, False, True, False]}
    try:
        import pandas as pd
    except ImportError:
        return columns
    return pd.DataFrame(columns)


@step(name="raw_transactions", artifact_type="Dataset", partition_by=["report_date"])
def ingest(report_date: str) -> Any:
    return raw_rows()


@step(name="fraud_features", artifact_type="FeatureSet", cache=True)
def featurize(raw: Any) -> dict[str, Any]:
    return {"columns": ["amount_log", "country_onehot"], "rows": len(raw["amount"])}


@step(name="fraud_detector", artifact_type="Model")
def train(features: dict[str, Any], learning_rate: float) -> dict[str, Any]:
    accuracy = 0.88 if learning_rate > 0.05 else 0.93
    return {"weights": [0.1, 0.7, learning_rate], "accuracy": accuracy}


def main() -> None:
    shutil.rmtree(HOME, ignore_errors=True)
    catalog = ArtifactCatalog(HOME)
    print(f"catalog: {HOME.resolve()}\n")

    # 1. A pipeline run: raw data -> features -> two candidate models, all recorded.
    with pipeline("fraud_detection", catalog=catalog,
                  parameters={"report_date": "2023-10-26"}) as run:
        features = featurize(ingest("2023-10-26"))
        for learning_rate in (0.1, 0.01):
            train(features, learning_rate)
    record = catalog.get_run(run.id)
    print(f"pipeline run {record.pathspec}: {record.status}, {len(record.produced)} versions")

    # 2. The better model is promoted: an alias names the stage and moves on its own.
    best = max(catalog.versions("fraud_detector"),
               key=lambda a: catalog.load(a)["accuracy"])
    catalog.tag(best, team="fraud", accuracy=catalog.load(best)["accuracy"])
    catalog.set_alias(best, "production")

    prod = catalog.get("fraud_detector@production")
    print(f"in production: {prod.name}:{prod.version} (accuracy {prod.tags['accuracy']})")
    print("which production models are affected by this raw data?")
    for art in catalog.search("type:Model alias:production downstream-of:raw_transactions:1"):
        print(f"  {art.name}:{art.version}")

    graph = catalog.lineage_graph("fraud_detector@production", direction="up")
    print("\nwhat was it trained on (lineage)?")
    for line in graph.to_tree():
        print(f"  {line}")

    report = catalog.verify()
    print(f"\nare those still the same bytes? verify: ok={report.ok}, "
          f"{report.checked} blobs checked")
    catalog.close()

    _shell("runs", "ls")
    _shell("search", "alias:production")
    print("\nwhat next:")
    print("  make serve                     # browse this catalog at http://127.0.0.1:8765/")
    print(f"  {_command()} --home {HOME} lineage fraud_detector@production --format tree")
    print("  README.md 'Quick start'        # the same calls in your own code")


def _command() -> str:
    """How to call the CLI from here: the venv's script when it is not on PATH."""
    script = Path(sys.executable).parent / "archivist"
    if not script.exists() or shutil.which("archivist") == str(script):
        return "archivist"
    return os.path.relpath(script)


def _shell(*args: str) -> None:
    """Run the CLI on the demo catalog, the way a user would type it."""
    print(f"\n$ archivist {' '.join(args)}")
    sys.stdout.flush()
    subprocess.run([sys.executable, "-m", "archivist.cli", "--home", str(HOME), *args],
                   check=True)


if __name__ == "__main__":
    main()
