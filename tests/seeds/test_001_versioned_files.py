"""The versioned-files page (seed 001), each example done with archivist on every backend:
a client on a ``file://`` storage URI, ``register_artifact(name, path, artifact_type,
metadata)`` numbering versions, ``get_artifact(name, version=1 | "latest")``, the
mini-challenge's model, and the pitfalls' ``list_artifacts`` / not-found errors."""

from __future__ import annotations

import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from archivist import ArtifactCatalog, ArtifactNotFoundError, InvalidInputError

CUSTOM_METADATA = {
    "processing_script": "data_preprocessing_v1.py",
    "raw_data_source": "chapter3_raw_dataset_v1.0",
    "transformation_steps": ["handle_missing", "normalize_features"],
    "schema_version": "1.0",
    "created_by": "data_engineer_alpha",
}


def processed(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"feature_1": rng.random(100), "feature_2": rng.integers(0, 10, 100),
                         "target": rng.choice([0, 1], 100)})


def test_a_client_on_a_file_storage_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    meta_storage_path = "./metamlflow_storage"
    os.makedirs(meta_storage_path, exist_ok=True)
    client = ArtifactCatalog(f"file://{meta_storage_path}")
    try:
        version = client.register_artifact("x", data=b"bytes")
        assert client.home == Path("metamlflow_storage")
        assert Path(version.storage_path or "").is_relative_to(tmp_path / meta_storage_path)
    finally:
        client.close()
    absolute = ArtifactCatalog(f"file://{tmp_path / 'metamlflow_storage'}")
    try:
        assert [a.name for a in absolute.list()] == ["x"], "the same catalog"
    finally:
        absolute.close()
    with pytest.raises(InvalidInputError, match="file:///"):
        ArtifactCatalog("file://fileserver/share/catalog")


def test_register_a_file_then_a_new_version_of_it(catalog: ArtifactCatalog,
                                                 tmp_path: Path) -> None:
    # Step 1: a processed dataset as CSV
    processed_data_path = tmp_path / "processed_data_v1.csv"
    processed(0).to_csv(processed_data_path, index=False)
    # Step 2: register it with its metadata
    first = catalog.register_artifact(name="ecommerce_processed_features",
                                      path=processed_data_path, artifact_type="dataset",
                                      metadata=CUSTOM_METADATA)
    assert (first.name, first.version, first.artifact_type) == (
        "ecommerce_processed_features", 1, "dataset")
    assert {k: first.metadata[k] for k in CUSTOM_METADATA} == CUSTOM_METADATA
    assert first.artifact_id == first.id and first.storage_path is not None
    # Step 3: a new version: a new column, updated metadata
    v2_df = processed(0)
    v2_df["new_feature"] = v2_df["feature_1"] * 2 + v2_df["feature_2"]
    processed_data_path_v2 = tmp_path / "processed_data_v2.csv"
    v2_df.to_csv(processed_data_path_v2, index=False)
    custom_metadata_v2 = {**CUSTOM_METADATA, "processing_script": "data_preprocessing_v2.py",
                          "transformation_steps": [*CUSTOM_METADATA["transformation_steps"],
                                                   "add_new_feature"],
                          "schema_version": "1.1"}
    second = catalog.register_artifact(name="ecommerce_processed_features",
                                       path=processed_data_path_v2, artifact_type="dataset",
                                       metadata=custom_metadata_v2)
    assert second.version == 2, "same name, new version"
    assert second.metadata["schema_version"] == "1.1" and second.metadata["columns"] == 4
    # Step 4: a given version, and the latest
    retrieved_v1 = catalog.get_artifact(name="ecommerce_processed_features", version=1)
    assert (retrieved_v1.artifact_id, retrieved_v1.metadata) == (first.id, first.metadata)
    retrieved_latest = catalog.get_artifact(name="ecommerce_processed_features",
                                            version="latest")
    assert retrieved_latest.artifact_id == second.id
    out = catalog.download(retrieved_v1, tmp_path / "back.csv")
    assert out.read_bytes() == processed_data_path.read_bytes()
    # Clean up dummy files: the catalog keeps its own copy
    os.remove(processed_data_path)
    os.remove(processed_data_path_v2)
    assert catalog.download(second, tmp_path / "v2.csv").stat().st_size > 0


def test_mini_challenge_track_a_trained_model(catalog: ArtifactCatalog, tmp_path: Path) -> None:
    df = processed(1)
    df["new_feature"] = df["feature_1"] * 2 + df["feature_2"]
    X = df[["feature_1", "feature_2", "new_feature"]]
    y = df["target"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=42)
    model = LogisticRegression(random_state=42)
    model.fit(X_train, y_train)
    accuracy = accuracy_score(y_test, model.predict(X_test))
    model_path = tmp_path / "logistic_model_v1.joblib"
    joblib.dump(model, model_path)
    model_metadata = {
        "model_type": "LogisticRegression",
        "training_data_artifact_name": "ecommerce_processed_features",
        "training_data_version": 2,
        "accuracy_score": accuracy,
        "hyperparameters": {"solver": "lbfgs", "C": 1.0},
    }
    model_artifact = catalog.register_artifact(name="my_first_logistic_model", path=model_path,
                                               artifact_type="model", metadata=model_metadata)
    assert model_artifact.version == 1
    assert {k: model_artifact.metadata[k] for k in model_metadata} == model_metadata
    os.remove(model_path)
    back = joblib.load(catalog.download(model_artifact, tmp_path / "again.joblib"))
    assert (back.predict(X_test) == model.predict(X_test)).all()
    found = catalog.search("metadata.training_data_version=2 type:model")
    assert [a.id for a in found] == [model_artifact.id]


def test_pitfalls_listing_versions_and_names_that_do_not_exist(
        catalog: ArtifactCatalog) -> None:
    ids = [catalog.register("ecommerce_processed_features", data=f"v{n}".encode())
           for n in (1, 2)]
    listed = catalog.list_artifacts(name="ecommerce_processed_features")
    assert [(a.version, a.id) for a in listed] == [(2, ids[1]), (1, ids[0])]
    with pytest.raises(ArtifactNotFoundError, match="ecommerce_processed_features"):
        catalog.get_artifact(name="Ecommerce_processed_feature", version=1)
    with pytest.raises(ArtifactNotFoundError):
        catalog.get_artifact(name="ecommerce_processed_features", version=3)
    # "use an update metadata function if available": fix the metadata, keep the bytes
    fixed = catalog.update_metadata(ids[0], {"schema_version": "1.0"})
    assert fixed.metadata["schema_version"] == "1.0"
    assert catalog.load(ids[0]) == b"v1"
