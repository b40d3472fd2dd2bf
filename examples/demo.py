"""End-to-end demo on the embedded default catalog: raw data -> features -> model.

Run with `make demo`. It uses a fresh catalog in ./.archivist-demo (removed first), so it
can be run again and again.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

from archivist import ArtifactCatalog, DuplicateArtifactWarning

HOME = Path(".archivist-demo")


def main() -> None:
    shutil.rmtree(HOME, ignore_errors=True)
    catalog = ArtifactCatalog(HOME)
    print(f"catalog: {HOME.resolve()}\n")

    # 1. Raw data lands as a dataset (pandas -> Parquet, with schema, preview, statistics).
    try:
        import pandas as pd
        raw_data: object = pd.DataFrame({
            "amount": [12.5, 990.0, 15.25, 4200.0, 8.75],
            "country": ["DE", "FR", "DE", "US", "FR"],
            "is_fraud": [False, True, False, True, False],
        })
    except ImportError:  # pandas is an optional extra
        raw_data = {"amount": [12.5, 990.0, 15.25, 4200.0, 8.75]}
    raw = catalog.register("raw_transactions", "Dataset", data=raw_data,
                           partitions={"report_date": "2023-10-26"},
                           tags={"team": "fraud", "source": "payments-db"},
                           source_pipeline="fraud_detection", source_step="ingest")

    # 2. Features derived from it.
    features = catalog.register(
        "fraud_features", "FeatureSet",
        data={"columns": ["amount_log", "country_onehot"], "version": 2},
        parent_ids=[raw], tags={"team": "fraud"},
        source_pipeline="fraud_detection", source_step="featurize")

    # 3. Two model versions trained on the features; the better one is promoted.
    for accuracy in (0.88, 0.93):
        model = catalog.register(
            "fraud_detector_v2", "Model", data={"weights": [0.1, 0.7, accuracy]},
            metadata={"framework": "sklearn", "accuracy": accuracy},
            tags={"stage": "staging", "team": "fraud"}, parent_ids=[features],
            source_pipeline="fraud_detection", source_step="train_model")
    catalog.tag(model, stage="production", f1_score=0.91)
    catalog.set_alias(model, "production")

    # Registering identical bytes again stores nothing new and says so.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DuplicateArtifactWarning)
        catalog.register("fraud_features_copy", "FeatureSet",
                         data={"columns": ["amount_log", "country_onehot"], "version": 2})
    for warning in caught:
        print(f"note: {warning.message}\n")

    print("search 'fraud stage:production team:fraud':")
    for art in catalog.search("fraud stage:production team:fraud"):
        print(f"  {art.name}:{art.version}  {art.artifact_type}  {art.tags}")

    prod = catalog.get("fraud_detector_v2@production")
    print(f"\nin production: {prod.name}:{prod.version} (accuracy {prod.metadata['accuracy']})")
    print("which production models are affected by this raw data?")
    for art in catalog.search("type:Model alias:production downstream-of:raw_transactions:1"):
        print(f"  {art.name}:{art.version}")

    graph = catalog.lineage_graph("fraud_detector_v2@production", direction="up")
    print("\nlineage (tree):")
    for line in graph.to_tree():
        print(f"  {line}")
    print("\nlineage (Mermaid):")
    print(graph.to_mermaid())

    report = catalog.verify()
    print(f"\nverify: ok={report.ok}, {report.checked} blobs checked")
    catalog.close()


if __name__ == "__main__":
    main()
