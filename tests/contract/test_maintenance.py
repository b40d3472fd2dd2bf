"""verify and gc."""

from __future__ import annotations

import os
import time
from pathlib import Path

from archivist import ArtifactCatalog


def test_verify_reports_a_healthy_store(catalog: ArtifactCatalog, tmp_path: Path) -> None:
    catalog.register("a", data=b"a")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("f")
    catalog.register("d", path=tmp_path / "d")
    report = catalog.verify()
    assert report.ok and report.checked >= 3
    assert report.corrupt == report.missing == report.unreferenced == []


def test_verify_finds_corruption(catalog: ArtifactCatalog) -> None:
    art = catalog.get(catalog.register("a", data=b"original bytes"))
    path = Path(art.storage_path or "")
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered bytes")
    report = catalog.verify()
    assert not report.ok and report.corrupt == [art.digest]


def test_gc_frees_only_unreferenced_old_blobs(catalog: ArtifactCatalog) -> None:
    keep = catalog.get(catalog.register("keep", data=b"keep"))
    drop = catalog.get(catalog.register("drop", data=b"drop"))
    catalog.delete(drop)
    dry = catalog.gc()
    assert dry.dry_run and dry.freed == []
    assert dry.kept[drop.digest or ""] == "younger than the grace period"
    old = time.time() - 3 * 86400
    os.utime(drop.storage_path or "", (old, old))
    os.utime(keep.storage_path or "", (old, old))
    dry = catalog.gc()
    assert dry.freed == [drop.digest] and dry.kept[keep.digest or ""].startswith("referenced")
    report = catalog.gc(dry_run=False)
    assert report.freed == [drop.digest] and report.freed_bytes == 4
    assert list(catalog.blobs.iter_digests()) == [keep.digest]
    assert catalog.verify().ok
    assert catalog.load(keep) == b"keep"
