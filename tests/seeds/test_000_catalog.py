"""The artifact catalog page (seed 000), each example done with archivist on every
backend: register / search / list / tag / get_lineage / delete, content-hash dedup, the
backend chosen by the environment (a server behind a path prefix, with its API key)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from archivist import (
    ArtifactCatalog,
    DuplicateArtifactWarning,
    RemoteCatalogBackend,
)
from archivist.cli import app
from archivist.errors import UnauthenticatedError
from tests.server.processes import server_process

PREFIX = "/api/v1/catalog"


def test_quick_start(catalog: ArtifactCatalog) -> None:
    # Register an artifact
    artifact_id = catalog.register(
        name="fraud_detector_v2",
        artifact_type="Model",
        source_step="train_model",
        source_run_id="run-abc-123",
        source_pipeline="fraud_detection",
        tags={"stage": "staging", "team": "fraud"},
    )
    # Search and discover
    models = catalog.search("fraud")
    recent = catalog.list(artifact_type="Model", limit=10)
    assert [m["id"] for m in models] == [artifact_id] == [r.id for r in recent]
    # Tag for promotion
    catalog.tag(artifact_id, stage="production")
    assert catalog.get(artifact_id)["tags"] == {"stage": "production", "team": "fraud"}
    # Trace lineage
    lineage = catalog.get_lineage(artifact_id)
    assert (lineage["parents"], lineage["children"]) == ([], [])
    found = catalog.get(artifact_id)
    assert (found.source_step, found.source_run_id, found.source_pipeline) == (
        "train_model", "run-abc-123", "fraud_detection")


def test_the_api_table_list_takes_type_and_limit_by_position(catalog: ArtifactCatalog) -> None:
    ids = [catalog.register(f"model_{n}", "Model") for n in range(12)]
    catalog.register("raw", "Dataset")
    # list(artifact_type, limit)
    assert [a.id for a in catalog.list("Model", 10)] == ids[::-1][:10]
    assert [a.id for a in catalog.list("Model", 10, 10)] == ids[1::-1]
    # get(artifact_id) -> dict; delete(artifact_id)
    assert catalog.get(ids[0])["name"] == "model_0"
    catalog.delete(ids[0])
    assert len(catalog.list("Model", 100)) == 11


def test_content_hash_deduplication(catalog: ArtifactCatalog) -> None:
    my_dataframe = pd.DataFrame({"amount": [1.5, 2.5], "fraud": [0, 1]})
    first = catalog.register(name="training_features", artifact_type="Dataset",
                             data=my_dataframe)  # content is hashed for dedup
    with pytest.warns(DuplicateArtifactWarning, match="training_features:1"):
        again = catalog.register(name="training_features", artifact_type="Dataset",
                                 data=my_dataframe)
    assert catalog.get(first)["digest"] == catalog.get(again)["digest"]
    # without data, duplicates are still allowed (and say nothing)
    catalog.register(name="training_features", artifact_type="Dataset")


def test_lineage_tracking(catalog: ArtifactCatalog) -> None:
    # 1. Register raw data
    raw_id = catalog.register(name="raw_transactions", artifact_type="Dataset")
    # 2. Register features (child of raw data)
    feat_id = catalog.register(name="fraud_features", artifact_type="FeatureSet",
                               parent_ids=[raw_id])
    # 3. Register model (child of features)
    model_id = catalog.register(name="fraud_detector", artifact_type="Model",
                                parent_ids=[feat_id])
    # 4. Query lineage
    lineage = catalog.get_lineage(model_id)
    assert lineage["parents"] == [feat_id]
    assert lineage["children"] == []
    assert catalog.get_lineage(feat_id)["children"] == [model_id]


def test_model_promotion(catalog: ArtifactCatalog) -> None:
    feats = catalog.register("fraud_features", "FeatureSet")
    for f1 in (0.81, 0.93, 0.88):
        catalog.register("fraud_detector", "Model", tags={"f1_score": f1}, parent_ids=[feats])
    # 1. Search for the best model
    models = catalog.search("fraud_detector")
    best = max(models, key=lambda m: m.get("tags", {}).get("f1_score", 0))
    assert best["tags"]["f1_score"] == 0.93
    # 2. Promote to production
    catalog.tag(best["id"], stage="production", promoted_by="ml-team")
    # 3. Verify lineage before deployment
    lineage = catalog.get_lineage(best["id"])
    assert f"Model trained on: {lineage['parents']}" == f"Model trained on: {[feats]}"
    # Best practice: tag everything, then search by tags
    catalog.tag(best["id"], team="fraud")
    assert [a.id for a in catalog.search("stage:production team:fraud")] == [best["id"]]


def test_local_development_needs_no_configuration(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("ARCHIVIST_HOME", "ARCHIVIST_CATALOG_ENDPOINT", "ARCHIVIST_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with ArtifactCatalog() as catalog:  # uses local SQLite automatically
        assert not isinstance(catalog.backend, RemoteCatalogBackend)
        catalog.register("fraud_detector_v2", "Model")
    assert (tmp_path / ".archivist" / "catalog.db").is_file()


def test_explicit_backends(tmp_path: Path) -> None:
    # Force local: a folder (or file:// URL) is the local SQLite catalog
    with ArtifactCatalog(str(tmp_path / "db")) as catalog:
        catalog.register("m", data=b"local")
        assert catalog.home == tmp_path / "db"
    with ArtifactCatalog(f"file://{tmp_path / 'db'}") as same:
        assert [a.name for a in same.list()] == ["m"]
    # Force remote: RemoteCatalogBackend("https://api.example.com")
    backend = RemoteCatalogBackend("https://api.example.com/api/v1/catalog", api_key="ak_x")
    with ArtifactCatalog(backend=backend) as remote:
        assert remote.backend is not None
        assert backend.transport.url("/api/v1/projects") == (
            "https://api.example.com/api/v1/catalog/api/v1/projects")


@pytest.fixture
def served_key(tmp_path: Path) -> tuple[Path, str]:
    """A catalog folder with one admin key for project ``default``."""
    home = tmp_path / "server-home"
    result = CliRunner().invoke(app, ["--home", str(home), "keys", "create", "--project",
                                      "default", "--scope", "admin", "--json"])
    assert result.exit_code == 0, result.stderr
    return home, str(json.loads(result.stdout)["key"])


def test_the_environment_chooses_a_server_behind_a_path_prefix_with_its_key(
        served_key: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, key = served_key
    with server_process(["--home", str(home), "--root-path", PREFIX],
                        tmp_path / "server.log") as server:
        # export ARCHIVIST_CATALOG_ENDPOINT=https://host/api/v1/catalog
        # export ARCHIVIST_CATALOG_API_KEY=your-api-key
        monkeypatch.setenv("ARCHIVIST_CATALOG_ENDPOINT", server.url + PREFIX)
        monkeypatch.setenv("ARCHIVIST_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv("ARCHIVIST_CATALOG_API_KEY", key)
        with ArtifactCatalog() as catalog:  # auto-selects the remote backend
            assert isinstance(catalog.backend, RemoteCatalogBackend)
            model = catalog.register("fraud_detector", "Model", data=b"weights",
                                     tags={"stage": "staging"})
            assert [a.id for a in catalog.search("stage:staging")] == [model]
            assert catalog.load(model) == b"weights"
        # RemoteCatalogBackend(url) reads the same key
        with ArtifactCatalog(backend=RemoteCatalogBackend(server.url + PREFIX)) as catalog:
            assert [a.id for a in catalog.list("Model", 10)] == [model]
        monkeypatch.delenv("ARCHIVIST_CATALOG_API_KEY")
        with ArtifactCatalog(backend=RemoteCatalogBackend(server.url + PREFIX)) as catalog, \
                pytest.raises(UnauthenticatedError, match="ARCHIVIST_CATALOG_API_KEY"):
            catalog.list()
