"""Editing a version's metadata after registration (MLRun's ``update_dataset_meta``,
MLflow's ``update_model_version``, W&B's ``artifact.save()``): only what is said about
the bytes changes, each change is in the history, search sees the new values."""

from __future__ import annotations

import pytest

from archivist import ArtifactCatalog, ArtifactNotFoundError, ConflictError, InvalidInputError
from archivist.names import MAX_METADATA_BYTES


def test_set_and_remove_keys_keep_bytes_and_record_each_change(
        catalog: ArtifactCatalog) -> None:
    first = catalog.register_artifact("fraud_detector", artifact_type="Model", data=b"weights",
                                      metadata={"f1": 0.8, "draft": True, "team": "risk"},
                                      tags={"stage": "staging"})
    updated = catalog.update_metadata(first, {"f1": 0.91, "reviewed": {"by": "ana"}},
                                      remove=["draft", "never-set"])
    assert updated.metadata == {"f1": 0.91, "reviewed": {"by": "ana"}, "team": "risk"}
    assert (updated.id, updated.version, updated.digest, updated.size, updated.tags) == (
        first.id, first.version, first.digest, first.size, first.tags)
    assert catalog.load(updated) == b"weights"
    assert catalog.get(first.id).metadata == updated.metadata
    changes = [(h.kind, h.key, h.old, h.new, h.version_id)
               for h in catalog.history("fraud_detector") if h.kind == "metadata"]
    assert sorted(changes) == sorted([
        ("metadata", "draft", True, None, first.id),
        ("metadata", "f1", 0.8, 0.91, first.id),
        ("metadata", "reviewed", None, {"by": "ana"}, first.id)])
    catalog.update_metadata(first, {"f1": 0.91})  # the same value: no new history entry
    assert len([h for h in catalog.history("fraud_detector") if h.kind == "metadata"]) == 3


def test_search_sees_the_new_values_and_not_the_old(catalog: ArtifactCatalog) -> None:
    model = catalog.register("fraud_detector", data=b"w", metadata={"f1": 0.8})
    other = catalog.register("churn", data=b"c", metadata={"f1": 0.95})
    assert [a.id for a in catalog.search("metadata.f1>0.9")] == [other]
    catalog.update_metadata(model, {"f1": 0.93, "note": "calibrated quarterly"})
    assert sorted(a.id for a in catalog.search("metadata.f1>0.9")) == sorted([model, other])
    assert [a.id for a in catalog.search("calibrated")] == [model]
    catalog.update_metadata(model, remove=["note"])
    assert catalog.search("calibrated") == []


def test_bad_updates_change_nothing(catalog: ArtifactCatalog) -> None:
    model = catalog.register("fraud_detector", data=b"w", metadata={"f1": 0.8})
    with pytest.raises(InvalidInputError, match="limit"):
        catalog.update_metadata(model, {"blob": "x" * MAX_METADATA_BYTES})
    with pytest.raises(InvalidInputError, match="JSON number"):
        catalog.update_metadata(model, {"f1": float("nan")})
    with pytest.raises(InvalidInputError, match="at most 128"):
        catalog.update_metadata(model, {"k" * 129: 1})
    assert catalog.get(model).metadata == {"f1": 0.8}
    assert [h for h in catalog.history("fraud_detector") if h.kind == "metadata"] == []
    catalog.delete(model)
    with pytest.raises(ConflictError, match="deleted"):
        catalog.update_metadata(model, {"f1": 0.9})
    with pytest.raises(ArtifactNotFoundError):
        catalog.update_metadata("missing:1", {"f1": 0.9})


def test_description_and_metadata_changes_share_the_history(catalog: ArtifactCatalog) -> None:
    model = catalog.register("fraud_detector", data=b"w")
    catalog.update_description(model, "gradient boosting")
    catalog.update_metadata(model, {"f1": 0.9})
    assert [(h.kind, h.key) for h in catalog.history("fraud_detector")] == [
        ("description", "description"), ("metadata", "f1")]
