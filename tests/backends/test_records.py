"""Records read back from the store are built with ``Artifact.trusted`` (no constructor):
they must hold every field, and equal what the constructor makes of the same values."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from archivist import ArtifactCatalog
from archivist.model import Artifact


def test_records_read_back_are_whole_artifacts(tmp_path: Path) -> None:
    with ArtifactCatalog(tmp_path / "c") as catalog:
        parent = catalog.register("raw", "Dataset", data=b"x", tags={"stage": "dev"})
        catalog.register("model", "Model", parent_ids=[parent], aliases=["production"],
                         metadata={"accuracy": 0.9}, tags={"ok": True, "n": 3},
                         partitions={"region": "eu"}, description="d")
        found = [catalog.get("model@production"), *catalog.search("model"),
                 *catalog.list(), *catalog.versions("raw")]
    names = {f.name for f in fields(Artifact)}
    for record in found:
        assert set(vars(record)) - {"_catalog"} == names  # _catalog: bound by the facade
        assert record == Artifact(**{n: getattr(record, n) for n in names})
