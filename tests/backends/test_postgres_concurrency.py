"""Concurrent writers in several processes on one PostgreSQL database + S3 bucket.

The SQLite versions are tests/reliability/test_concurrency.py (C1, C6, C8); these run
the same workers against PostgreSQL, where writers are not serialized by one file lock
but by row locks (backends/sql/locks.py).
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from archivist import ArtifactCatalog
from tests.reliability.support import run_workers


@pytest.fixture(scope="module")
def spawn_ctx() -> Any:
    return multiprocessing.get_context("spawn")  # fresh interpreters, as real workers are


@pytest.fixture
def shared(postgres_url: str, s3_blobs_url: str) -> Any:
    """A catalog on a fresh database and bucket, migrated before the workers start."""
    with ArtifactCatalog(postgres_url, blobs=s3_blobs_url) as catalog:
        yield catalog


@pytest.mark.slow
def test_versions_are_gap_free_across_processes(spawn_ctx: Any, shared: ArtifactCatalog,
                                                postgres_url: str, s3_blobs_url: str) -> None:
    """4 processes x 25 registrations of one name -> versions 1..100, each once."""
    procs, each = 4, 25
    barrier = spawn_ctx.Barrier(procs)
    results = run_workers(spawn_ctx, "register_many_unique",
                          [(postgres_url, barrier, each, "shared", s3_blobs_url)] * procs)
    errors = [e for r in results for e in r["errors"]]
    found = shared.versions("shared")
    returned = [i for r in results for i in r["ids"]]
    by_id = {a.id: a.version for a in found}
    assert errors == [], errors[:5]
    assert [a.version for a in found] == list(range(1, procs * each + 1))
    assert sorted(returned) == sorted(by_id)  # every acknowledged id landed, once
    for result in results:  # each process saw its own versions in increasing order
        numbers = [by_id[i] for i in result["ids"]]
        assert numbers == sorted(numbers)
    assert shared.get("shared:latest").version == procs * each
    assert shared.verify().ok


@pytest.mark.slow
def test_alias_moves_form_one_history_chain(spawn_ctx: Any, shared: ArtifactCatalog,
                                            postgres_url: str, s3_blobs_url: str) -> None:
    """4 processes x 25 moves of one alias: 100 history entries, each one's ``old`` the
    previous one's ``new``, and one alias row at the end."""
    procs, each = 4, 25
    ids = [shared.register("model", data=f"model {i}".encode()) for i in range(2 * procs)]
    barrier = spawn_ctx.Barrier(procs)
    results = run_workers(spawn_ctx, "move_alias",
                          [(postgres_url, barrier, ids[2 * p:2 * p + 2], each, "production",
                            s3_blobs_url) for p in range(procs)])
    errors = [e for r in results for e in r["errors"]]
    entries = [h for h in shared.history("model") if h.kind == "alias"]
    assert errors == [], errors[:5]
    assert len(entries) == procs * each
    assert entries[0].old is None
    assert [i for i in range(1, len(entries)) if entries[i].old != entries[i - 1].new] == []
    assert shared.get("model@production").id == entries[-1].new


@pytest.mark.slow
def test_tag_changes_of_one_version_form_one_history_chain(
        spawn_ctx: Any, shared: ArtifactCatalog, postgres_url: str, s3_blobs_url: str) -> None:
    """4 processes x 25 changes of one tag of one version: none fails, 100 history
    entries whose ``old`` is always the previous ``new``, and the tag holds the last."""
    procs, each = 4, 25
    version_id = shared.register("model", data=b"tagged", tags={"stage": "start"})
    barrier = spawn_ctx.Barrier(procs)
    results = run_workers(spawn_ctx, "retag",
                          [(postgres_url, barrier, version_id, each, "stage", s3_blobs_url)]
                          * procs)
    errors = [e for r in results for e in r["errors"]]
    entries = [h for h in shared.history("model") if h.kind == "tag"]
    assert errors == [], errors[:5]
    assert len(entries) == procs * each
    assert entries[0].old == "start"
    assert [i for i in range(1, len(entries)) if entries[i].old != entries[i - 1].new] == []
    assert shared.get(version_id).tags["stage"] == entries[-1].new
    assert [a.id for a in shared.search(f"stage:{entries[-1].new}")] == [version_id]


@pytest.mark.slow
def test_first_open_migrates_once(spawn_ctx: Any, postgres_cluster: Any,
                                  s3_blobs_url: str) -> None:
    """4 processes open the same empty database at once (as servers starting together
    do): the advisory lock lets one migrate; all register."""
    procs = 4
    urls = [postgres_cluster.url(postgres_cluster.create_database()) for _ in range(3)]
    barrier = spawn_ctx.Barrier(procs)
    results = run_workers(spawn_ctx, "first_open_register",
                          [(urls, barrier, index, s3_blobs_url) for index in range(procs)])
    failures = [r for per_process in results for r in per_process if r["error"]]
    assert failures == [], failures[:2]
    for url in urls:
        with ArtifactCatalog(url, blobs=s3_blobs_url) as catalog:
            assert sorted(a.version for a in catalog.versions("first")) == [1, 2, 3, 4]
        postgres_cluster.drop_database(url.rsplit("/", 1)[1])
