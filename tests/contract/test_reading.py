"""Listing, search, latest-by-partition, and reading bytes back."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, ArtifactNotFoundError, InvalidQueryError


@pytest.fixture
def filled(catalog: ArtifactCatalog) -> ArtifactCatalog:
    raw = catalog.register("raw_transactions", "Dataset", tags={"team": "fraud"},
                           partitions={"report_date": "2023-10-25"})
    catalog.register("raw_transactions", "Dataset", tags={"team": "fraud"},
                     partitions={"report_date": "2023-10-26"})
    feats = catalog.register("fraud_features", "FeatureSet", parent_ids=[raw],
                             tags={"team": "fraud"}, source_step="featurize")
    catalog.register("fraud_detector_v2", "Model", parent_ids=[feats],
                     metadata={"accuracy": 0.93, "framework": "sklearn"},
                     tags={"stage": "production", "team": "fraud", "f1_score": 0.91},
                     aliases=["production"], description="gradient boosted detector")
    catalog.register("churn_model", "Model", metadata={"accuracy": 0.71},
                     tags={"stage": "dev", "team": "growth"})
    return catalog


def test_list_filters(filled: ArtifactCatalog) -> None:
    assert [a.name for a in filled.list(artifact_type="Model")] == [
        "churn_model", "fraud_detector_v2"]
    assert len(filled.list(artifact_type=["Model", "Dataset"])) == 4
    assert len(filled.list(name="raw_transactions")) == 2
    assert len(filled.list(name="raw_transactions", latest_only=True)) == 1
    assert [a.name for a in filled.list(tags={"stage": "production"})] == ["fraud_detector_v2"]
    assert [a.name for a in filled.list(tags={"f1_score": 0.91})] == ["fraud_detector_v2"]
    assert len(filled.list(partitions={"report_date": "2023-10-26"})) == 1
    assert len(filled.list(limit=2)) == 2
    assert len(filled.list(limit=2, offset=4)) == 1
    future = datetime.now(UTC) + timedelta(days=1)
    assert filled.list(since=future) == []
    assert len(filled.list(until=future)) == 5
    assert len(filled.list_artifacts("raw_transactions")) == 2
    newest_first = [a.created_at for a in filled.list()]
    assert newest_first == sorted(newest_first, reverse=True)


def test_get_latest_is_partition_aware(filled: ArtifactCatalog) -> None:
    art = filled.get_latest("raw_transactions", partitions={"report_date": "2023-10-25"})
    assert art is not None and art.version == 1
    assert filled.get_latest("raw_transactions").version == 2  # type: ignore[union-attr]
    assert filled.get_latest(source_step="featurize").name == "fraud_features"  # type: ignore[union-attr]
    assert filled.get_latest("raw_transactions", partitions={"report_date": "1999-01-01"}) is None


@pytest.mark.parametrize(("query", "expected"), [
    ("fraud", {"raw_transactions", "fraud_features", "fraud_detector_v2"}),  # tag text too
    ("detector", {"fraud_detector_v2"}),
    ("stage:production team:fraud", {"fraud_detector_v2"}),
    ("type:Model -stage:dev", {"fraud_detector_v2"}),
    ("type:Model,Dataset team:fraud", {"fraud_detector_v2", "raw_transactions"}),
    ("metadata.accuracy>=0.9", {"fraud_detector_v2"}),
    ("tags.f1_score>0.8", {"fraud_detector_v2"}),
    ("alias:production", {"fraud_detector_v2"}),
    ('"gradient boosted"', {"fraud_detector_v2"}),
    ("partition.report_date=2023-10-26", {"raw_transactions"}),
    ("name:fraud*", {"fraud_features", "fraud_detector_v2"}),
    ("downstream-of:raw_transactions:1", {"fraud_features", "fraud_detector_v2"}),
    ("upstream-of:fraud_detector_v2@production~1", {"fraud_features"}),
    ("type:Model alias:production downstream-of:raw_transactions:1", {"fraud_detector_v2"}),
    ("age<1d type:Model", {"churn_model", "fraud_detector_v2"}),
])
def test_search_forms(filled: ArtifactCatalog, query: str, expected: set[str]) -> None:
    assert {a.name for a in filled.search(query)} == expected


def test_search_sorts_and_rejects_bad_queries(filled: ArtifactCatalog) -> None:
    models = filled.search("type:Model sort:metadata.accuracy")
    assert [a.name for a in models] == ["churn_model", "fraud_detector_v2"]
    assert filled.search("type:Model sort:-metadata.accuracy")[0].name == "fraud_detector_v2"
    with pytest.raises(InvalidQueryError) as info:
        filled.search("type:Model (((")
    assert info.value.position > 0


def test_deleted_versions_leave_every_listing(filled: ArtifactCatalog) -> None:
    filled.delete("raw_transactions:2")
    assert filled.get("raw_transactions").version == 1
    assert len(filled.list(name="raw_transactions")) == 1
    assert {a.version for a in filled.search("raw")} == {1}
    with pytest.raises(ArtifactNotFoundError, match="live versions: 1"):
        filled.get("raw_transactions:2")


def test_load_open_download(catalog: ArtifactCatalog, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 64
    version_id = catalog.register("blob", data=payload)
    assert catalog.load(version_id) == payload
    with catalog.open(version_id) as handle:
        assert handle.read() == payload
    dest = catalog.download(version_id, tmp_path / "out" / "blob.bin")
    assert dest.read_bytes() == payload
    assert catalog.load(catalog.register("obj", data={"a": [1, 2]})) == {"a": [1, 2]}
    assert catalog.load(catalog.register("text", data="héllo")) == "héllo"


def test_download_directory_round_trip(catalog: ArtifactCatalog, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "nested").mkdir(parents=True)
    (tree / "x.csv").write_text("a,b\n1,2\n")
    (tree / "nested" / "y.json").write_text("{}")
    version_id = catalog.register("tree", path=tree)
    out = catalog.download(version_id, tmp_path / "copy")
    assert (out / "x.csv").read_text() == "a,b\n1,2\n"
    assert (out / "nested" / "y.json").read_text() == "{}"


def test_dataframe_round_trip_with_schema_and_stats(catalog: ArtifactCatalog) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"amount": [1.0, 2.5, None], "country": ["DE", "FR", "DE"]})
    art = catalog.get(catalog.register("transactions", data=frame))
    assert art.artifact_type == "Dataset"
    assert art.metadata["rows"] == 3
    assert [c["name"] for c in art.metadata["schema"]] == ["amount", "country"]
    assert art.metadata["stats"]["amount"]["nulls"] == 1
    assert len(art.metadata["preview"]) == 3
    back = catalog.load(art)
    assert back.equals(frame)


def test_open_is_a_binary_stream(catalog: ArtifactCatalog) -> None:
    version_id = catalog.register("b", data=b"abc")
    with catalog.open(version_id) as handle:
        assert isinstance(handle, io.IOBase)
        assert handle.read(1) == b"a"
