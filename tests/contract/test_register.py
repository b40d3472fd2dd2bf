"""Registration: versions, content kinds, parents, batches, conflicts, duplicates."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from archivist import (
    Artifact,
    ArtifactCatalog,
    ArtifactNotFoundError,
    ConflictError,
    DuplicateArtifactWarning,
    InvalidNameError,
)
from archivist.ids import new_id
from tests.helpers import snapshot

UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_register_returns_uuid7_and_numbers_versions(catalog: ArtifactCatalog) -> None:
    ids = [catalog.register("model", "Model", metadata={"i": i}) for i in range(3)]
    assert all(UUID7.fullmatch(i) for i in ids)
    assert ids == sorted(ids), "ids sort by creation time"
    assert [a.version for a in catalog.versions("model")] == [1, 2, 3]
    assert catalog.get("model").id == ids[-1]


def test_every_reference_form_resolves(catalog: ArtifactCatalog) -> None:
    first = catalog.register("fraud", "Model")
    second = catalog.register("fraud", "Model", aliases=["production"])
    assert catalog.get(first).version == 1
    assert catalog.get("fraud").id == second
    assert catalog.get("fraud:1").id == first
    assert catalog.get("fraud:latest").id == second
    assert catalog.get("fraud@production").id == second
    assert catalog.get("archivist://default/fraud:1").id == first
    assert catalog.get_artifact("fraud", 1).id == first
    assert catalog.get_artifact("fraud").id == second
    assert catalog.get_artifact("fraud", "@production").id == second


def test_record_reads_as_attributes_and_mapping(catalog: ArtifactCatalog) -> None:
    version_id = catalog.register(
        "features", "FeatureSet", data={"a": 1}, metadata={"rows": 3}, tags={"team": "fraud"},
        partitions={"report_date": "2023-10-26"}, description="daily features",
        source_step="featurize", source_run_id="run-1", source_pipeline="fraud")
    art = catalog.get(version_id)
    assert isinstance(art, Artifact)
    assert art["id"] == art.artifact_id == art.id == version_id
    assert art.get("tags", {}) == {"team": "fraud"}
    assert dict(art)["partitions"] == {"report_date": "2023-10-26"}
    assert art.uri == "archivist://default/features:1"
    assert art.digest is not None and art.digest.startswith("sha256:")
    assert (art.source_step, art.source_run_id, art.source_pipeline) == (
        "featurize", "run-1", "fraud")
    assert art.description == "daily features"
    assert art.storage_path
    assert set(art.to_dict()) == set(dict(art))
    assert not art.deleted


def test_data_path_and_uri_content(catalog: ArtifactCatalog, tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"weights" * 100)
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.txt").write_text("b")
    file_art = catalog.get(catalog.register("weights", path=tmp_path / "model.bin"))
    dir_art = catalog.get(catalog.register("tree", path=tree))
    ref_art = catalog.get(catalog.register("external", uri="s3://bucket/data.parquet"))
    assert (file_art.kind, file_art.artifact_type, file_art.size) == ("file", "File", 700)
    assert (dir_art.kind, dir_art.artifact_type, dir_art.size) == ("directory", "Directory", 2)
    assert (ref_art.kind, ref_art.reference_uri) == ("reference", "s3://bucket/data.parquet")
    assert catalog.load(file_art) == b"weights" * 100


def test_unknown_parent_writes_nothing(catalog: ArtifactCatalog) -> None:
    catalog.register("raw")
    before = snapshot(catalog)
    with pytest.raises(ArtifactNotFoundError):
        catalog.register("features", data=b"x", parent_ids=["raw:7"])
    with pytest.raises(ArtifactNotFoundError):
        catalog.register("features", parent_ids=["0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"])
    assert snapshot(catalog).rows == before.rows


def test_parents_accept_ids_refs_and_records(catalog: ArtifactCatalog) -> None:
    raw = catalog.register("raw")
    catalog.register("raw", aliases=["prod"])
    child = catalog.register("features", parent_ids=[raw, "raw@prod", catalog.get("raw:1")])
    parents = catalog.get(child).parent_ids
    assert parents == [raw, catalog.get("raw:2").id]


def test_names_are_unique_regardless_of_case(catalog: ArtifactCatalog) -> None:
    catalog.register("fraud")
    with pytest.raises(ConflictError, match="'fraud'"):
        catalog.register("Fraud")


def test_same_bytes_stored_once_with_a_warning(catalog: ArtifactCatalog) -> None:
    catalog.register("a", data=b"same bytes")
    with pytest.warns(DuplicateArtifactWarning, match="a:1"):
        catalog.register("b", data=b"same bytes")
    assert catalog.get("a").digest == catalog.get("b").digest
    assert len(list(catalog.blobs.iter_digests())) == 1


def test_batch_is_all_or_nothing(catalog: ArtifactCatalog) -> None:
    with catalog.batch():
        raw = catalog.register("raw", data=b"raw")
        catalog.register("features", data=b"f", parent_ids=[raw])
        assert catalog.list() == [], "nothing visible before the batch ends"
    assert [a.name for a in catalog.list()] == ["features", "raw"]
    before = snapshot(catalog)
    with pytest.raises(RuntimeError), catalog.batch():
        catalog.register("raw")
        raise RuntimeError("boom")
    with pytest.raises(InvalidNameError), catalog.batch():
        catalog.register("raw")
        catalog.register("../bad")
    assert snapshot(catalog).rows == before.rows


def test_register_many_and_register_artifact(catalog: ArtifactCatalog, tmp_path: Path) -> None:
    ids = catalog.register_many([{"name": "n", "metadata": {"i": i}} for i in range(5)])
    assert [catalog.get(i).version for i in ids] == [1, 2, 3, 4, 5]
    (tmp_path / "f.txt").write_text("hello")
    art = catalog.register_artifact("doc", tmp_path / "f.txt", metadata={"lang": "en"})
    assert art.version == 1 and art.metadata["lang"] == "en"


def test_projects_are_namespaces(make_catalog: object, catalog: ArtifactCatalog) -> None:
    catalog.register("model", project="team-a")
    catalog.register("model", project="team-b")
    catalog.register("model", project="team-b")
    assert catalog.list() == []
    assert len(catalog.list(project="team-b")) == 2
    assert catalog.get("archivist://team-a/model").version == 1
    with pytest.raises(ArtifactNotFoundError):
        catalog.get("model")


def test_no_lease_outlives_a_registration(catalog: ArtifactCatalog) -> None:
    """Leases end with the commit (one batch, one plain call) and with a failure."""
    with catalog.batch():
        first = catalog.register("leased", data=b"one")
        catalog.register("leased", data={"two": 2}, parent_ids=[first])
    catalog.register("leased", data="three")
    with pytest.raises(ArtifactNotFoundError):
        catalog.register("leased", data="four",
                         parent_ids=["01890000-0000-7000-8000-000000000000"])
    assert catalog.backend.leased_digests(time.time()) == set()
    assert [a.version for a in catalog.versions("leased")] == [1, 2, 3]


def test_versions_by_id_one_or_many_in_order_deleted_included(catalog: ArtifactCatalog) -> None:
    raw = catalog.register("raw", data=b"raw", tags={"team": "ads"})
    feats = catalog.register("feats", data=b"feats", parent_ids=[raw])
    catalog.delete(raw)
    (one,) = catalog.backend.get_versions_by_id([feats])
    assert (one.id, one.parent_ids, one.deleted) == (feats, [raw], False)
    (gone,) = catalog.backend.get_versions_by_id([raw])
    assert (gone.tags, gone.deleted) == ({"team": "ads"}, True)
    missing = new_id()
    assert catalog.backend.get_versions_by_id([missing]) == []
    assert [a.id for a in catalog.backend.get_versions_by_id(
        [feats, missing, raw, feats])] == [feats, raw, feats]
