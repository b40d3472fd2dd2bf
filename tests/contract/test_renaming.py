"""Renaming a name and editing a version's description (MLflow's
``rename_registered_model`` and ``update_model_version``)."""

from __future__ import annotations

import pytest

from archivist import (
    ArtifactCatalog,
    ArtifactNotFoundError,
    ConflictError,
    InvalidInputError,
    InvalidNameError,
)


def test_rename_keeps_versions_aliases_tags_and_lineage(catalog: ArtifactCatalog) -> None:
    raw = catalog.register("raw", data=b"raw bytes")
    v1 = catalog.register("fraud", data=b"one", parent_ids=[raw], tags={"team": "risk"},
                          aliases=["production"])
    v2 = catalog.register("fraud", data=b"two", parent_ids=[v1])
    gone = catalog.register("fraud", data=b"three")
    catalog.delete(gone)
    catalog.rename("fraud", "churn_model")

    assert [(a.id, a.version) for a in catalog.versions("churn_model")] == [(v1, 1), (v2, 2)]
    first = catalog.get("churn_model@production")
    assert (first.id, first.name, first.tags) == (v1, "churn_model", {"team": "risk"})
    assert first.uri == f"archivist://{catalog.project}/churn_model:1"
    assert first.parent_ids == [raw]
    assert catalog.get(gone).name == "churn_model", "deleted versions are renamed too"
    assert catalog.get_lineage(v1)["children"] == [v2]
    assert catalog.register("churn_model") == catalog.get("churn_model:4").id, \
        "numbering goes on (3 is the deleted one)"
    assert catalog.list(name="fraud") == []


def test_old_name_is_not_found_and_says_where_it_went(catalog: ArtifactCatalog) -> None:
    catalog.register("fraud")
    catalog.rename("fraud", "churn_model")
    catalog.rename("churn_model", "churn")
    for ref in ("fraud", "fraud:1", "churn_model"):
        with pytest.raises(ArtifactNotFoundError, match="renamed to 'churn'"):
            catalog.get(ref)
    catalog.register("fraud")  # the old name is free: a new artifact
    assert [a.version for a in catalog.versions("fraud")] == [1]
    assert [a.version for a in catalog.versions("churn")] == [1]


def test_rename_is_in_the_history_and_in_search(catalog: ArtifactCatalog) -> None:
    version_id = catalog.register("fraud_detector", tags={"a": "b"})
    catalog.rename("fraud_detector", "churn_model")
    entries = [(h.kind, h.key, h.old, h.new, h.version_id)
               for h in catalog.history("churn_model")]
    assert entries[-1] == ("rename", "fraud_detector", "fraud_detector", "churn_model", None)
    assert [a.id for a in catalog.search("churn")] == [version_id]
    assert catalog.search("detector") == []
    assert [a.id for a in catalog.search("name:churn_model a:b")] == [version_id]


def test_rename_refuses_a_taken_invalid_or_missing_name(catalog: ArtifactCatalog) -> None:
    catalog.register("fraud")
    catalog.register("churn")
    with pytest.raises(ConflictError, match="'churn' already exists"):
        catalog.rename("fraud", "CHURN")
    with pytest.raises(InvalidNameError):
        catalog.rename("fraud", "bad name")
    with pytest.raises(InvalidNameError):
        catalog.rename("fraud:1", "other")
    with pytest.raises(ArtifactNotFoundError):
        catalog.rename("absent", "other")
    with pytest.raises(ArtifactNotFoundError):
        catalog.rename("FRAUD", "other")  # the old name by its exact spelling
    assert [a.name for a in catalog.list()] == ["churn", "fraud"]


def test_a_case_only_rename_changes_the_spelling(catalog: ArtifactCatalog) -> None:
    version_id = catalog.register("fraud")
    catalog.rename("fraud", "Fraud")
    assert catalog.get("Fraud").id == version_id
    with pytest.raises(ConflictError, match="'Fraud'"):
        catalog.register("fraud")
    before = catalog.history("Fraud")
    catalog.rename("Fraud", "Fraud")  # the same spelling: nothing changes
    assert catalog.history("Fraud") == before


def test_update_description(catalog: ArtifactCatalog) -> None:
    v1 = catalog.register("model", description="first try")
    v2 = catalog.register("model")
    catalog.update_description("model:1", "gradient boosting on May data")
    assert catalog.get(v1).description == "gradient boosting on May data"
    assert catalog.get(v2).description is None
    assert [a.id for a in catalog.search("boosting")] == [v1]
    assert catalog.search("first") == []
    catalog.update_description(v1, "gradient boosting on May data")  # unchanged: no entry
    catalog.update_description(v1, None)
    assert catalog.get(v1).description is None
    entries = [(h.kind, h.old, h.new, h.version_id) for h in catalog.history("model")]
    assert entries == [("description", "first try", "gradient boosting on May data", v1),
                       ("description", "gradient boosting on May data", None, v1)]


def test_update_description_refuses_bad_input(catalog: ArtifactCatalog) -> None:
    version_id = catalog.register("model")
    with pytest.raises(InvalidInputError):
        catalog.update_description(version_id, "bell \x07")
    with pytest.raises(InvalidInputError):
        catalog.update_description(version_id, 3)  # type: ignore[arg-type]
    with pytest.raises(ArtifactNotFoundError):
        catalog.update_description("absent:1", "text")
    catalog.delete(version_id)
    with pytest.raises(ConflictError, match="deleted"):
        catalog.update_description(version_id, "text")
