"""``verify`` and ``gc``: checking the store against the rows, and freeing bytes.

gc is mark-and-sweep with two safety nets, because writers land a blob *before* the row
that refers to it commits (git's prune grace and restic's lock lessons, reliability.md
takeaway 10): a blob younger than the grace period is kept whatever refers to it, and so
is one an in-flight registration has leased. A registration also re-checks its blobs
after commit and re-lands any that a concurrent gc removed.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import Protocol

from archivist.backends.base import ListFilter
from archivist.errors import ArchivistError, StorageError
from archivist.model import Artifact, GcReport, VerifyReport
from archivist.store.blobs import Blobs
from archivist.store.references import check_reference

STALE_TEMP = 3600.0


class Rows(Protocol):
    """What verify and gc read of the metadata store: a ``Backend`` is one; the server
    passes a view of one project's rows."""

    def blob_references(self) -> dict[str, bool]: ...

    def leased_digests(self, now: float) -> set[str]: ...

    def projects(self) -> list[str]: ...

    def list_versions(self, filters: ListFilter) -> list[Artifact]: ...


def verify(backend: Rows, blobs: Blobs) -> VerifyReport:
    """Rehash every referenced blob and check every version's blobs exist."""
    refs = backend.blob_references()
    corrupt: list[str] = []
    missing: list[str] = []
    suspicious: list[str] = []
    for digest, live in sorted(refs.items()):
        state = blobs.check(digest)
        if not live or state == "ok":
            continue
        {"corrupt": corrupt, "missing": missing, "suspicious": suspicious}[state].append(digest)
    # Blobs nothing refers to are listed, not rehashed: their bytes serve no version and
    # are gc's to free.
    unreferenced = [digest for digest in blobs.iter_digests() if digest not in refs]
    checked = len(refs)
    now = time.time()
    stale = [path for path, mtime in blobs.temp_files() if now - mtime > STALE_TEMP]
    return VerifyReport(checked=checked, corrupt=corrupt, missing=missing,
                        suspicious=suspicious, changed_references=_changed(backend),
                        unreferenced=sorted(unreferenced), stale_temp=sorted(stale))


def _changed(backend: Rows) -> list[str]:
    changed = []
    for project in backend.projects():
        offset = 0
        while True:
            page = backend.list_versions(ListFilter(project=project, kind="reference",
                                                    limit=1000, offset=offset))
            for art in page:
                try:
                    if not check_reference(art.reference_uri or "", art.digest, art.size,
                                           art.metadata.get("etag")):
                        changed.append(art.id)
                except ArchivistError:
                    changed.append(art.id)
            if len(page) < 1000:
                break
            offset += len(page)
    return changed


def gc(backend: Rows, blobs: Blobs, *, dry_run: bool, grace: float,
       scratch: Path | None = None) -> GcReport:
    """Free (or, dry, list) blobs no live version refers to, older than ``grace``, and
    temp files / materialization folders a killed writer left behind."""
    now = time.time()
    refs = backend.blob_references()
    leased = backend.leased_digests(now)
    freed: list[str] = []
    kept: dict[str, str] = {}
    freed_bytes = 0
    for digest in blobs.iter_digests():
        if refs.get(digest):
            kept[digest] = "referenced by a live version"
        elif digest in leased:
            kept[digest] = "held by a registration in flight"
        elif now - blobs.mtime(digest) < grace:
            kept[digest] = "younger than the grace period"
        else:
            freed.append(digest)
    temps = [path for path, mtime in blobs.temp_files() if now - mtime >= max(grace, 60.0)]
    leftovers = _scratch_leftovers(scratch, now - max(grace, 60.0))
    if not dry_run:
        for digest in freed:
            # Re-check the lease just before each removal: a registration may have
            # started using this blob since the sweep began.
            if digest in backend.leased_digests(time.time()):
                kept[digest] = "held by a registration in flight"
                continue
            freed_bytes += _size(blobs, digest)
            blobs.delete(digest)
        freed = [d for d in freed if d not in kept]
        for path in temps:
            blobs.remove_temp(path)
        for folder in leftovers:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        freed_bytes = sum(_size(blobs, d) for d in freed)
    return GcReport(dry_run=dry_run, freed=sorted(freed), freed_bytes=freed_bytes,
                    kept=kept, temp_removed=sorted(temps + [str(f) for f in leftovers]))


def _scratch_leftovers(scratch: Path | None, older_than: float) -> list[Path]:
    """``materialize-*`` folders (objects being serialized) no writer touched lately."""
    if scratch is None or not scratch.is_dir():
        return []
    found = []
    for folder in scratch.glob("materialize-*"):
        with contextlib.suppress(OSError):
            if folder.lstat().st_mtime < older_than:
                found.append(folder)
    return sorted(found)


def _size(blobs: Blobs, digest: str) -> int:
    try:
        return blobs.size(digest)
    except StorageError:
        return 0
