"""Clock skew against gc's grace period (issue 16).

gc keeps a blob nothing refers to while it is younger than the grace period: a writer
lands its blob before the row that refers to it commits. The blob's age is "now" minus
its modification time, and the two come from the store's clock: S3 stamps
``LastModified`` with its own, and gc asks the store for the time (the ``Date`` of a
request); a local folder's mtimes and ``time.time()`` are the same machine's. So a
machine running gc with its clock hours ahead frees no young blob, and one hours behind
still frees an old one. Here gc's process clock is skewed (``time.time`` as
``archivist.maintenance`` sees it) while the store's stays true.

Leases (blobs held by a registration between landing and commit) carry the writer's
``time.time() + LEASE_SECONDS`` and are compared with gc's clock: a writer whose clock is
behind gc's by less than ``LEASE_SECONDS`` minus its registration's duration keeps its
lease (docs/reliability.md states the bound).
"""

from __future__ import annotations

import time
import types
from pathlib import Path
from typing import Any

import pytest

from archivist import ArtifactCatalog
from archivist.catalog.registration import LEASE_SECONDS
from tests.fixtures.s3 import backdate
from tests.reliability.support import age

HOURS = 3600.0


def _skew(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """This process's clock ``seconds`` off the true time, as gc and the object store
    client read it (were the S3 store's clock taken from it, it would be skewed too). A
    local folder's mtimes are stamped by this machine's kernel: its clock is the true
    one here, and gc must measure against it."""
    real = time.time
    skewed = types.SimpleNamespace(time=lambda: real() + seconds)
    monkeypatch.setattr("archivist.maintenance.time", skewed)
    monkeypatch.setattr("archivist.store.objectstore.time", skewed)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ArtifactCatalog, Any]:
    """A catalog, and how to age one of its blobs on the store's own clock."""
    if request.param == "local":
        catalog = ArtifactCatalog(str(tmp_path / "home"))

        def age_blob(digest: str, seconds: float) -> None:
            path = catalog.blobs.local_path(digest)
            assert path is not None
            age([path], seconds)
    else:
        blobs = request.getfixturevalue("s3_blobs_url")
        catalog = ArtifactCatalog(f"sqlite:///{tmp_path / 'catalog.db'}", blobs=blobs)
        bucket, _, prefix = blobs.removeprefix("s3://").partition("/")

        def age_blob(digest: str, seconds: float) -> None:
            hexd = digest.removeprefix("sha256:")
            backdate(bucket, seconds, key=f"{prefix}/sha256/{hexd[:2]}/{hexd[2:]}")
    request.addfinalizer(catalog.close)
    return catalog, age_blob


@pytest.mark.parametrize("skew", [2 * HOURS, 30 * 24 * HOURS])
def test_gc_with_its_clock_ahead_frees_no_young_blob(
        store: tuple[ArtifactCatalog, Any], monkeypatch: pytest.MonkeyPatch,
        skew: float) -> None:
    """A blob just landed by a writer that has not committed its row yet: gc's clock
    runs hours (or a month) ahead, the grace period is one hour — the blob stays."""
    catalog, _age_blob = store
    digest, _size = catalog.blobs.put_bytes(b"landed, row not committed yet")
    _skew(monkeypatch, skew)
    report = catalog.gc(dry_run=False, grace="1h")
    assert report.freed == []
    assert report.kept[digest] == "younger than the grace period"
    assert catalog.blobs.exists(digest)


def test_gc_with_its_clock_behind_still_frees_an_old_blob(
        store: tuple[ArtifactCatalog, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    catalog, age_blob = store
    old, _ = catalog.blobs.put_bytes(b"orphan from yesterday")
    young, _ = catalog.blobs.put_bytes(b"landed a minute ago")
    age_blob(old, 24 * HOURS)
    age_blob(young, 60)
    _skew(monkeypatch, -12 * HOURS)
    report = catalog.gc(dry_run=False, grace="1h")
    assert report.freed == [old]
    assert not catalog.blobs.exists(old)
    assert catalog.blobs.exists(young)


def test_a_writer_behind_gc_within_the_bound_keeps_its_lease(
        store: tuple[ArtifactCatalog, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The lease is written with the writer's clock: 50 minutes behind gc's, a lease
    of ``LEASE_SECONDS`` taken just now still holds the blob (grace 0, blob aged)."""
    catalog, age_blob = store
    digest, _ = catalog.blobs.put_bytes(b"leased by a writer whose clock is behind")
    age_blob(digest, 2 * HOURS)
    writer_now = time.time() - 50 * 60
    catalog.backend.lease_blobs("skewed-writer", [digest], writer_now + LEASE_SECONDS)
    report = catalog.gc(dry_run=False, grace=0)
    assert report.kept[digest] == "held by a registration in flight"
    assert catalog.blobs.exists(digest)
    catalog.backend.release_blobs("skewed-writer")
    assert catalog.gc(dry_run=False, grace=0).freed == [digest]
