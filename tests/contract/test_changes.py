"""Tags, aliases, history, deletion."""

from __future__ import annotations

import pytest

from archivist import ArtifactCatalog, ArtifactNotFoundError, ConflictError, InvalidNameError


def test_tag_untag_and_history(catalog: ArtifactCatalog) -> None:
    version_id = catalog.register("model", tags={"stage": "staging"})
    catalog.tag(version_id, stage="production", f1_score=0.91)
    catalog.untag(version_id, "f1_score", "absent")
    assert catalog.get(version_id).tags == {"stage": "production"}
    assert [a.name for a in catalog.search("stage:production")] == ["model"]
    entries = [(h.kind, h.key, h.old, h.new) for h in catalog.history("model")]
    assert entries == [("tag", "stage", "staging", "production"),
                       ("tag", "f1_score", None, 0.91),
                       ("tag", "f1_score", 0.91, None)]
    assert all(h.user for h in catalog.history("model"))


def test_setting_a_tag_to_its_value_records_no_change(catalog: ArtifactCatalog) -> None:
    """A repeated tag request (a client retrying a lost answer) changes nothing more."""
    version_id = catalog.register("model", tags={"stage": "dev", "n": 1})
    catalog.tag(version_id, stage="dev", n=1)
    catalog.tag(version_id, n=True)  # another JSON scalar: a change
    assert catalog.get(version_id).tags == {"stage": "dev", "n": True}
    assert [(h.key, h.old, h.new) for h in catalog.history("model")] == [("n", 1, True)]


def test_alias_moves_and_is_recorded(catalog: ArtifactCatalog) -> None:
    v1 = catalog.register("model")
    v2 = catalog.register("model")
    catalog.set_alias(v1, "champion")
    catalog.set_alias(v2, "champion")
    assert catalog.get("model@champion").id == v2
    assert catalog.get(v1).aliases == []
    assert catalog.get(v2).aliases == ["champion"]
    catalog.remove_alias("model", "champion")
    with pytest.raises(ArtifactNotFoundError, match="aliases that exist: none"):
        catalog.get("model@champion")
    assert [(h.old, h.new) for h in catalog.history("model") if h.kind == "alias"] == [
        (None, v1), (v1, v2), (v2, None)]
    with pytest.raises(ArtifactNotFoundError):
        catalog.remove_alias("model", "champion")


@pytest.mark.parametrize("alias", ["latest", "3", "bad alias", "", "a..b"])
def test_bad_aliases_are_rejected(catalog: ArtifactCatalog, alias: str) -> None:
    version_id = catalog.register("model")
    with pytest.raises(InvalidNameError):
        catalog.set_alias(version_id, alias)


def test_delete_is_a_tombstone(catalog: ArtifactCatalog) -> None:
    parent = catalog.register("raw", data=b"raw bytes")
    child = catalog.register("features", parent_ids=[parent], aliases=["prod"])
    catalog.delete(child)
    assert catalog.list(name="features") == []
    with pytest.raises(ArtifactNotFoundError, match="every version is deleted"):
        catalog.get("features")
    assert catalog.get(child).deleted, "by id a deleted version is still found"
    assert catalog.get_lineage(parent)["children"] == [child]
    with pytest.raises(ConflictError):
        catalog.set_alias(child, "prod")
    with pytest.raises(ConflictError):
        catalog.tag(child, a=1)
    assert catalog.register("features") == catalog.get("features:2").id, "numbers not reused"
    assert [h.kind for h in catalog.history("features")] == ["alias", "alias", "delete"]


def test_history_of_one_version_and_the_newest_few(catalog: ArtifactCatalog) -> None:
    """What a page showing one version, or the latest changes, asks the store for (the
    backend, as the server's web UI calls it): no more rows than it shows."""
    v1 = catalog.register("model", tags={"stage": "dev"})
    v2 = catalog.register("model")
    for n in range(5):
        catalog.tag(v1, round=n)
    catalog.tag(v2, stage="production")
    catalog.set_alias(v2, "production")
    backend, project = catalog.backend, catalog.project
    mine = backend.history(project, "model", version_id=v2)
    assert [(h.kind, h.key, h.new) for h in mine] == [
        ("tag", "stage", "production"), ("alias", "production", v2)]
    newest = backend.history(project, "model", limit=3)
    assert [(h.key, h.new) for h in newest] == [("round", 4), ("stage", "production"),
                                                 ("production", v2)]
    assert [h.new for h in backend.history(project, "model", version_id=v1, limit=2)] == [3, 4]
    assert backend.history(project, "model") == [*backend.history(project, "model", limit=100)]
