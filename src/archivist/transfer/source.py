"""A catalog as the source of an export or a push: which versions, and their records.

``refs_or_query`` picks the versions (all live versions of the catalog's project when
``None``); with ``ancestors=True`` every live version they were derived from is added
(transitively), so the copy keeps its lineage. Tombstoned versions are never copied: a
deleted ancestor is left out and its edge reported as a missing parent by the copy (or
kept, when the target has it). Runs are those the versions name in ``source_run_id``
that exist in the catalog.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from archivist.backends.base import Backend
from archivist.errors import (
    ArtifactNotFoundError,
    ConflictError,
    IntegrityError,
    InvalidNameError,
)
from archivist.model import Artifact, NewVersion, RunRecord
from archivist.refs import check_run_ref
from archivist.store.blobs import Blobs
from archivist.store.manifest import MAX_MANIFEST_BYTES, Manifest


class CatalogView(Protocol):
    """What the transfer operations use of a catalog (:class:`ArtifactCatalog` is one):
    typed here so that this package never imports the catalog."""

    project: str
    user: str
    home: Path | None
    backend: Backend
    blobs: Blobs

    def get(self, ref: str | Artifact) -> Artifact: ...

    def list(self, *, limit: int = ..., offset: int = ...) -> Sequence[Artifact]: ...

    def search(self, query: str, limit: int = ..., offset: int = ...) -> Sequence[Artifact]: ...

    def get_run(self, ref: str | RunRecord) -> RunRecord: ...

    def download(self, ref: str | Artifact, dest: str | os.PathLike[str]) -> Path: ...

#: What ``export``/``push`` accept: a query string, refs, records, or ``None`` (all).
Selection = str | Artifact | Sequence[str | Artifact] | None
_PAGE = 1000


def select(catalog: CatalogView, refs_or_query: Selection) -> list[Artifact]:
    """The live versions ``refs_or_query`` names, oldest first, each once.

    A string is a query of the search language (``"type:Model stage:production"``); a
    list holds refs (``"raw:3"``, ``"model@prod"``, ids) or records; ``None`` or ``""``
    means every live version of the catalog's project.

    Raises:
        InvalidQueryError: a malformed query.
        ArtifactNotFoundError: a ref names nothing.
        ConflictError: a ref names a deleted version (bundles carry live versions).
    """
    found: list[Artifact] = []
    if refs_or_query is None or refs_or_query == "":
        while True:
            page = catalog.list(limit=_PAGE, offset=len(found))
            found += page
            if len(page) < _PAGE:
                break
    elif isinstance(refs_or_query, str):
        while True:
            page = catalog.search(refs_or_query, limit=_PAGE, offset=len(found))
            found += page
            if len(page) < _PAGE:
                break
    else:
        refs = [refs_or_query] if isinstance(refs_or_query, Artifact) else refs_or_query
        for ref in refs:
            art = catalog.get(ref.id if isinstance(ref, Artifact) else ref)
            if art.deleted:
                raise ConflictError(f"{art.name}:{art.version} is deleted; only live versions "
                                    "are exported or pushed", id=art.id)
            found.append(art)
    unique = {a.id: a for a in found}
    return sorted(unique.values(), key=lambda a: (a.name, a.version))


class CatalogSource:
    """The versions of a catalog chosen for a copy, as a ``copying.Source``.

    Obtain it with ``CatalogSource(catalog, select(catalog, query), ancestors=True)``.
    """

    def __init__(self, catalog: CatalogView, chosen: Sequence[Artifact], *,
                 ancestors: bool = False) -> None:
        self.catalog = catalog
        self.origin = location(catalog)
        picked = {a.id: a for a in chosen}
        if ancestors:
            self._add_ancestors(picked)
        self.artifacts = sorted(picked.values(), key=lambda a: (a.project, a.name, a.version))
        self._records = [version_record(a, self.blob_digests(a)) for a in self.artifacts]

    def _add_ancestors(self, picked: dict[str, Artifact]) -> None:
        frontier = [p for a in picked.values() for p in a.parent_ids if p not in picked]
        seen = set(frontier)
        while frontier:
            found = self.catalog.backend.get_versions_by_id(frontier[:_PAGE])
            frontier = frontier[_PAGE:]
            for art in found:
                if art.deleted:
                    continue
                picked[art.id] = art
                fresh = [p for p in art.parent_ids if p not in picked and p not in seen]
                seen.update(fresh)
                frontier += fresh

    def blob_digests(self, art: Artifact) -> tuple[str, ...]:
        """Every blob a version needs: its file, or a directory's manifest and files.

        Raises:
            IntegrityError: a directory's manifest is missing or corrupt.
        """
        if art.digest is None or art.kind not in ("file", "directory"):
            return ()
        if art.kind == "file":
            return (art.digest,)
        with self.catalog.blobs.open(art.digest) as reader:
            data = reader.read(MAX_MANIFEST_BYTES + 1)  # from_bytes refuses anything longer
        try:
            manifest = Manifest.from_bytes(data)
        except ValueError as exc:
            raise IntegrityError(f"the manifest of {art.name}:{art.version} is unreadable: "
                                 f"{exc}", digest=art.digest) from exc
        return (art.digest, *dict.fromkeys(e.digest for e in manifest.entries))

    # -- copying.Source --------------------------------------------------------------------
    def versions(self) -> list[NewVersion]:
        return list(self._records)

    def runs(self) -> list[RunRecord]:
        found: dict[str, RunRecord] = {}
        for art in self.artifacts:
            ref = art.source_run_id
            if ref is None or ref in found:
                continue
            try:
                run = self.catalog.backend.get_run(check_run_ref(ref), art.project)
            except (ArtifactNotFoundError, InvalidNameError):
                continue  # a free-form run label, not a run this catalog recorded
            found[ref] = run
        return sorted({r.id: r for r in found.values()}.values(),
                      key=lambda r: (r.pipeline, r.number))

    def check_blobs(self, digests: Sequence[str]) -> None:
        for digest in digests:
            if not self.catalog.blobs.exists(digest):
                raise IntegrityError(f"blob {digest} is missing from the source catalog; run "
                                     "verify() there; nothing was written", digest=digest)

    def open_blob(self, digest: str) -> BinaryIO:
        return self.catalog.blobs.open(digest)

    def blob_size(self, digest: str) -> int:
        return self.catalog.blobs.size(digest)


def location(catalog: CatalogView) -> str:
    """Where a catalog is, for people: its folder, else its server's or database's URL
    (without a password)."""
    if catalog.home is not None:
        return str(catalog.home.resolve())
    # SqlBackend and RemoteCatalogBackend have a url; the Backend protocol promises none
    url = getattr(catalog.backend, "url", None)
    if not isinstance(url, str):
        return repr(catalog.backend)
    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1@", url)


def version_record(art: Artifact, blob_digests: tuple[str, ...]) -> NewVersion:
    """The record that recreates ``art`` elsewhere: same id, number, tags and aliases."""
    return NewVersion(
        id=art.id, project=art.project, name=art.name, artifact_type=art.artifact_type,
        created_at=art.created_at.timestamp(), kind=art.kind, format=art.format,
        digest=art.digest, size=art.size, reference_uri=art.reference_uri,
        metadata=dict(art.metadata), tags=dict(art.tags), aliases=tuple(art.aliases),
        partitions=dict(art.partitions), parent_ids=tuple(art.parent_ids),
        blob_digests=blob_digests, description=art.description,
        source_step=art.source_step, source_run_id=art.source_run_id,
        source_pipeline=art.source_pipeline, user=art.user, code_version=art.code_version,
        version=art.version)
