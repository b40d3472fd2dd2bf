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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from archivist.errors import StorageError
from archivist.model import Artifact, GcReport, ListFilter, VerifyReport
from archivist.store.blobs import Blobs
from archivist.store.references import reference_changed

STALE_TEMP = 3600.0


class Rows(Protocol):
    """What verify and gc read of the metadata store: a ``Backend`` is one; the server
    passes a view of one project's rows."""

    def blob_references(self) -> dict[str, bool]: ...

    def leased_digests(self, now: float) -> set[str]: ...

    def projects(self) -> list[str]: ...

    def list_versions(self, filters: ListFilter) -> list[Artifact]: ...


#: Which digests of a whole blob store a caller may see (``None``: all of them).
Within = Callable[[Iterable[str]], list[str]] | None


def verify(backend: Rows, blobs: Blobs, *, within: Within = None,
           fetch_references: bool = True, temps: bool | None = None) -> VerifyReport:
    """Rehash every referenced blob and check every version's blobs exist.

    Args:
        within: for one project of a blob store shared by projects, the filter keeping
            the digests it may see: nothing outside it is listed, and the store's temp
            files (nobody's in particular) are left to the store's own verify, unless
            ``temps`` says to list them (a catalog server lists its own store's).
        fetch_references: re-check external references by reading their targets; a
            catalog server passes ``False`` (it never reads a reference with its own
            credentials) and the references are listed as ``unchecked_references``.
    """
    refs = backend.blob_references()
    corrupt: list[str] = []
    missing: list[str] = []
    suspicious: list[str] = []
    # Only blobs a live version needs are rehashed (and counted): a deleted version's
    # bytes wait for gc, and may already be gone.
    needed = sorted(digest for digest, live in refs.items() if live)
    for digest in needed:
        state = blobs.check(digest)
        if state != "ok":
            {"corrupt": corrupt, "missing": missing,
             "suspicious": suspicious}[state].append(digest)
    # Blobs nothing refers to are listed, not rehashed: their bytes serve no version and
    # are gc's to free.
    stored = blobs.iter_digests() if within is None else within(blobs.iter_digests())
    unreferenced = [digest for digest in stored if digest not in refs]
    checked = len(needed)
    sweep_temps = within is None if temps is None else temps
    now = blobs.clock() if sweep_temps else 0.0
    stale = ([path for path, mtime in blobs.temp_files() if now - mtime > STALE_TEMP]
             if sweep_temps else [])
    changed, unchecked = _references(backend, fetch=fetch_references)
    return VerifyReport(checked=checked, corrupt=corrupt, missing=missing,
                        suspicious=suspicious, changed_references=changed,
                        unchecked_references=unchecked,
                        unreferenced=sorted(unreferenced), stale_temp=sorted(stale))


def _references(backend: Rows, *, fetch: bool) -> tuple[list[str], list[str]]:
    """Ids of reference versions whose target changed, and of those not checked."""
    changed: list[str] = []
    unchecked: list[str] = []
    for project in backend.projects():
        offset = 0
        while True:
            page = backend.list_versions(ListFilter(project=project, kind="reference",
                                                    limit=1000, offset=offset))
            for art in page:
                if not fetch:
                    unchecked.append(art.id)
                elif reference_changed(art.reference_uri, art.digest, art.size,
                                       art.metadata.get("etag")):
                    changed.append(art.id)
            if len(page) < 1000:
                break
            offset += len(page)
    return changed, unchecked


def gc(backend: Rows, blobs: Blobs, *, dry_run: bool, grace: float,
       scratch: Path | None = None, within: Within = None,
       temps: bool | None = None) -> GcReport:
    """Free (or, dry, list) blobs no live version refers to, older than ``grace``, and
    temp files / materialization folders a killed writer left behind.

    ``within`` (one project of a blob store shared by projects) limits the sweep to the
    digests that project may see; ``backend`` must still hold every project's rows, so
    that a blob another project needs is kept. Temp files are then left alone, unless
    ``temps`` says to sweep them (a catalog server sweeps its own store's).

    Ages are measured on the store's clock (:meth:`Blobs.clock`), which stamped the
    times they are measured from: a gc on a machine whose clock runs ahead frees no
    young blob. Leases are written and read with the machines' own clocks
    (docs/reliability.md gives the bound).
    """
    now = time.time()
    store_now = blobs.clock()
    sweep_temps = within is None if temps is None else temps
    refs = backend.blob_references()
    leased = backend.leased_digests(now)
    freed: list[str] = []
    kept: dict[str, str] = {}
    freed_bytes = 0
    for digest in blobs.iter_digests() if within is None else within(blobs.iter_digests()):
        if refs.get(digest):
            kept[digest] = "referenced by a live version"
        elif digest in leased:
            kept[digest] = "held by a registration in flight"
        elif store_now - blobs.mtime(digest) < grace:
            kept[digest] = "younger than the grace period"
        else:
            freed.append(digest)
    stale = ([path for path, mtime in blobs.temp_files()
              if store_now - mtime >= max(grace, 60.0)] if sweep_temps else [])
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
        for path in stale:
            blobs.remove_temp(path)
        for folder in leftovers:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        freed_bytes = sum(_size(blobs, d) for d in freed)
    return GcReport(dry_run=dry_run, freed=sorted(freed), freed_bytes=freed_bytes,
                    kept=kept, temp_removed=sorted(stale + [str(f) for f in leftovers]))


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
