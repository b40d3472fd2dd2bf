"""Fixtures of the transfer tests: a source catalog holding every kind of version, and
ways to compare two catalogs record by record."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from archivist import Artifact, ArtifactCatalog
from archivist.backends.base import ListFilter, NewRun
from archivist.ids import new_id
from archivist.model import RunRecord, TaskRecord
from archivist.store.blobs import Blobs


@dataclass(frozen=True)
class Populated:
    """A source catalog and the ids of what it holds."""

    catalog: ArtifactCatalog
    ids: dict[str, str]
    run_id: str


def populate(catalog: ArtifactCatalog, tmp: Path) -> Populated:
    """Files, a directory, a reference, a metadata-only version, lineage, tags, aliases,
    partitions, producer fields, a run with a task, and a deleted version."""
    tree = tmp / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha")
    (tree / "sub" / "b.txt").write_text("beta")
    outside = tmp / "outside.bin"
    outside.write_bytes(b"referenced, not copied")
    run_id = new_id()
    catalog.backend.create_run(NewRun(id=run_id, project=catalog.project, pipeline="train",
                                      started_at=time.time(), parameters={"lr": 0.1}))
    ids: dict[str, str] = {}
    ids["raw1"] = catalog.register("raw", data=b"first", tags={"stage": "dev", "n": 1},
                                   partitions={"day": "2024-01-01"})
    ids["raw2"] = catalog.register("raw", data=b"second", partitions={"day": "2024-01-02"},
                                   aliases=["current"])
    ids["gone"] = catalog.register("raw", data=b"third")
    catalog.delete(ids["gone"])
    ids["tree"] = catalog.register("tree", path=tree, parent_ids=[ids["raw1"]])
    ids["ref"] = catalog.register("external", uri=outside.as_uri())
    ids["meta"] = catalog.register("settings", metadata={"threshold": 0.5},
                                   description="metadata only")
    ids["model"] = catalog.register(
        "model", data={"weights": [1, 2, 3]}, parent_ids=[ids["raw2"], ids["tree"]],
        metadata={"framework": "none"}, tags={"team": "fraud", "f1": 0.91},
        aliases=["production"], description="the model", source_step="fit",
        source_run_id=run_id, source_pipeline="train", code_version="abc123")
    catalog.tag(ids["model"], stage="production")
    task = TaskRecord(id=new_id(), run_id=run_id, step="fit", status="succeeded",
                      consumed=[ids["raw2"], ids["tree"]], produced=[ids["model"]],
                      data={"model": ids["model"]})
    catalog.backend.save_task(task)
    catalog.backend.update_run(run_id, "succeeded", time.time(), None)
    return Populated(catalog=catalog, ids=ids, run_id=run_id)


@pytest.fixture
def source(make_catalog: Callable[..., ArtifactCatalog], tmp_path: Path) -> Populated:
    return populate(make_catalog(), tmp_path)


def live_records(catalog: ArtifactCatalog, project: str | None = None) -> list[Artifact]:
    """Every live version of a project by id, without the store-specific path."""
    found = catalog.backend.list_versions(ListFilter(project=project or catalog.project,
                                                     limit=10_000))
    return sorted((replace(a, storage_path=None) for a in found), key=lambda a: a.id)


def runs_of(catalog: ArtifactCatalog) -> list[RunRecord]:
    return sorted(catalog.runs(limit=1000), key=lambda r: r.id)


class CountingBlobs:
    """A ``Blobs`` wrapper that counts what is put into it (every other call passes)."""

    def __init__(self, inner: Blobs) -> None:
        self.inner = inner
        self.puts: list[str] = []
        self.exists_asked: list[str] = []

    def put_stream(self, fileobj: Any) -> tuple[str, int]:
        digest, size = self.inner.put_stream(fileobj)
        self.puts.append(digest)
        return digest, size

    def put_file(self, path: Any, *, digest: str | None = None) -> tuple[str, int]:
        got = self.inner.put_file(path, digest=digest)
        self.puts.append(got[0])
        return got

    def put_bytes(self, data: Any) -> tuple[str, int]:
        got = self.inner.put_bytes(data)
        self.puts.append(got[0])
        return got

    def exists(self, digest: str) -> bool:
        self.exists_asked.append(digest)
        return self.inner.exists(digest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def count_puts(catalog: ArtifactCatalog) -> CountingBlobs:
    """Wrap the catalog's blob store so each put is counted."""
    counting = CountingBlobs(catalog.blobs)
    catalog.blobs = counting  # type: ignore[assignment]  # a Blobs by delegation
    return counting
