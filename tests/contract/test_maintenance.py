"""verify and gc."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from archivist import Artifact, ArtifactCatalog, DuplicateArtifactWarning


def test_verify_reports_a_healthy_store(catalog: ArtifactCatalog, tmp_path: Path) -> None:
    catalog.register("a", data=b"a")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("f")
    catalog.register("d", path=tmp_path / "d")
    report = catalog.verify()
    assert report.ok and report.checked >= 3
    assert report.corrupt == report.missing == report.unreferenced == []


def test_verify_finds_corruption(catalog: ArtifactCatalog,
                                 overwrite_blob: Callable[[Artifact, bytes], None]) -> None:
    art = catalog.get(catalog.register("a", data=b"original bytes"))
    overwrite_blob(art, b"tampered bytes")
    report = catalog.verify()
    assert not report.ok and report.corrupt == [art.digest]


def test_gc_frees_only_unreferenced_old_blobs(catalog: ArtifactCatalog) -> None:
    keep = catalog.get(catalog.register("keep", data=b"keep"))
    drop = catalog.get(catalog.register("drop", data=b"drop"))
    catalog.delete(drop)
    dry = catalog.gc()
    assert dry.dry_run and dry.freed == []
    assert dry.kept[drop.digest or ""] == "younger than the grace period"
    # Both blobs are now older than a zero grace period (object stores cannot back-date).
    dry = catalog.gc(grace="0s")
    assert dry.freed == [drop.digest] and dry.kept[keep.digest or ""].startswith("referenced")
    report = catalog.gc(dry_run=False, grace="0s")
    assert report.freed == [drop.digest] and report.freed_bytes == 4
    assert list(catalog.blobs.iter_digests()) == [keep.digest]
    assert catalog.verify().ok
    assert catalog.load(keep) == b"keep"


def test_verify_counts_each_needed_blob_once(catalog: ArtifactCatalog) -> None:
    """What verify checked is what a live version needs, each blob once: a blob two
    versions share counts once, a deleted version's blob (gc's to free) not at all."""
    catalog.register("a", data=b"shared")
    with pytest.warns(DuplicateArtifactWarning):
        catalog.register("b", data=b"shared")
    catalog.register("c", data=b"own")
    gone = catalog.register("d", data=b"deleted")
    catalog.delete(gone)
    assert catalog.verify().checked == 2
    catalog.gc(dry_run=False, grace="0s")
    report = catalog.verify()
    assert report.ok and report.checked == 2 == len(list(catalog.blobs.iter_digests()))
