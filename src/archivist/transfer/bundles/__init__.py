"""Bundles: moving versions between catalogs as files (SPEC §2 ``export``/``import_bundle``).

::

    report = export_bundle(catalog, "type:Model alias:production", "models.tar")
    report = import_bundle(other_catalog, "models.tar")   # again: everything skipped

A bundle carries, losslessly, the chosen live versions (ids, version numbers, digests,
metadata, tags, aliases, partitions, descriptions, producer fields, lineage edges — also
to parents outside the bundle), the runs they name in ``source_run_id``, and every blob
they need (a directory's manifest and files included). The layout and its validation are
in :mod:`archivist.transfer.bundles.format`; folders and tar files in
:mod:`archivist.transfer.bundles.files`; the import itself is the shared
:class:`archivist.transfer.copier.Copier`, so an import follows
exactly the rules of ``push`` (see that module for conflicts, idempotence and ordering).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from archivist.errors import IntegrityError, InvalidInputError
from archivist.model import NewVersion, RunRecord
from archivist.store.hashing import READ_SIZE, hash_bytes, verifying_reader
from archivist.store.manifest import MAX_MANIFEST_BYTES as MAX_DIRECTORY_MANIFEST
from archivist.store.manifest import Manifest
from archivist.transfer.bundles.files import BundleFiles, BundleWriter, open_files
from archivist.transfer.bundles.format import (
    FORMAT,
    MANIFEST,
    MAX_MANIFEST_BYTES,
    RUNS,
    VERSIONS,
    blob_member,
    canonical,
    check_manifest,
    record_from_dict,
    record_to_dict,
)
from archivist.transfer.bundles.runs import run_from_dict
from archivist.transfer.copier import Copier, CopyReport, Progress, ProgressReader, no_progress
from archivist.transfer.source import CatalogSource, CatalogView, Selection, select
from archivist.version import __version__

#: The longest line of a record file: a version's metadata, description and tags are at
#: most ~3 MiB together; a run with many tasks is the long case.
MAX_LINE = 64 * 1024 * 1024


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_bundle` wrote."""

    dest: str
    versions: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    blobs: int = 0
    bytes: int = 0
    #: ``(child id, parent id)`` edges to versions left out of the bundle (recorded all the
    #: same; an import keeps each one whose parent the target has)
    external_parents: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"dest": self.dest, "versions": self.versions, "runs": self.runs,
                "blobs": self.blobs, "bytes": self.bytes,
                "external_parents": [list(e) for e in self.external_parents]}


def export_bundle(catalog: CatalogView, refs_or_query: Selection,
                  dest: str | os.PathLike[str], *, ancestors: bool = False,
                  progress: Progress = no_progress) -> ExportReport:
    """Write the versions ``refs_or_query`` names (see :func:`catalog_source.select`)
    with their runs and blobs to a new bundle at ``dest`` (a ``.tar`` file when the name
    ends in ``.tar``, else a folder).

    Args:
        ancestors: also carry every live version the chosen ones derive from.
        progress: called with (bytes written, bytes in all) as the blobs stream.

    Raises:
        InvalidInputError: ``dest`` exists (an empty folder is fine).
        InvalidQueryError, ArtifactNotFoundError, ConflictError: see ``select``.
        IntegrityError: a blob of a chosen version is missing or corrupt; no bundle is left.
        StorageError: the destination failed; no bundle is left.
    """
    source = CatalogSource(catalog, select(catalog, refs_or_query), ancestors=ancestors)
    records = source.versions()
    runs = source.runs()
    digests = sorted({d for r in records for d in r.blob_digests})
    sizes = {d: catalog.blobs.size(d) for d in digests}
    versions_data = b"".join(canonical(record_to_dict(r)) + b"\n" for r in records)
    runs_data = b"".join(canonical(run.to_dict()) + b"\n" for run in runs)
    manifest = {
        "format": FORMAT, "archivist": __version__, "project": catalog.project,
        "created_at": datetime.now(UTC).isoformat(),
        "files": {"versions": _file_entry(VERSIONS, versions_data, len(records)),
                  "runs": _file_entry(RUNS, runs_data, len(runs))},
        "blobs": [{"digest": d, "size": sizes[d]} for d in digests],
    }
    with BundleWriter(Path(dest)) as writer:
        writer.add_bytes(VERSIONS, versions_data)
        writer.add_bytes(RUNS, runs_data)
        done, total = 0, sum(sizes.values())
        for digest in digests:
            with catalog.blobs.open(digest) as reader:
                writer.add(blob_member(digest), ProgressReader(reader, progress, done, total),
                           sizes[digest])
            done += sizes[digest]
        writer.add_bytes(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    chosen = {r.id for r in records}
    return ExportReport(
        dest=str(writer.dest), versions=[r.id for r in records], runs=[r.id for r in runs],
        blobs=len(digests), bytes=sum(sizes.values()),
        external_parents=[(r.id, p) for r in records for p in r.parent_ids if p not in chosen])


def import_bundle(catalog: CatalogView, src: str | os.PathLike[str], *,
                  project: str | None = None, as_new_versions: bool = False,
                  rename: Mapping[str, str] | None = None,
                  progress: Progress = no_progress) -> CopyReport:
    """Import a bundle into ``catalog``: lossless and idempotent (see :mod:`copying`).

    Versions keep their ids and numbers and land in ``project`` (default: the catalog's);
    a version whose id is already there is skipped; an edge to a parent in neither the
    bundle nor the catalog is dropped and reported in ``missing_parents``.
    ``as_new_versions`` and ``rename`` are those of :func:`archivist.transfer.push.push`.

    Raises:
        InvalidInputError: a malformed bundle (unknown format, a bad record, a member path
            that is absolute or escapes, a symlink, a directory manifest with such paths);
            nothing is written.
        IntegrityError: a blob or record file does not match its digest, or is missing;
            nothing is written.
        ConflictError: an id or number is taken by another version (without
            ``as_new_versions``); nothing is written. The message names the remedies.
    """
    with Bundle(Path(src)) as bundle:
        return Copier(catalog.backend, catalog.blobs, user=catalog.user).copy(
            bundle, project=catalog.project if project is None else project,
            as_new_versions=as_new_versions, rename=rename, progress=progress)


class Bundle:
    """A bundle opened for reading; a ``copying.Source``. Everything it returns has been
    validated; blobs are verified as they are read.

    Obtain it with ``with Bundle(path) as bundle: …``.

    Raises:
        InvalidInputError, IntegrityError: see :func:`import_bundle`.
    """

    def __init__(self, src: Path) -> None:
        self.origin = str(src.resolve())
        self.files: BundleFiles = open_files(src)
        try:
            self.manifest = check_manifest(self._json(MANIFEST))
            self.sizes: dict[str, int] = self.manifest["blobs"]
            self._versions = self._read_versions()
            self._runs = self._read_runs()
        except BaseException:
            self.files.close()
            raise

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.files.close()

    def _json(self, name: str) -> Any:
        with self.files.open(name) as f:
            data = f.read(MAX_MANIFEST_BYTES + 1)
        if len(data) > MAX_MANIFEST_BYTES:
            raise InvalidInputError(f"{self.files.where(name)} is over "
                                    f"{MAX_MANIFEST_BYTES} bytes")
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"{self.files.where(name)} is not JSON: {exc}") from None

    def _lines(self, role: str) -> list[tuple[str, Any]]:
        entry = self.manifest["files"].get(role)
        if entry is None:
            return []
        name = entry["path"]
        out = []
        size = 0
        with verifying_reader(self.files.open(name), entry["digest"], self.files.where(name),
                              entry["size"]) as reader:
            for number, line in enumerate(iter(lambda: reader.readline(MAX_LINE + 1), b""),
                                          start=1):
                if len(line) > MAX_LINE:
                    raise InvalidInputError(f"{self.files.where(name)} line {number} is over "
                                            f"{MAX_LINE} bytes")
                size += len(line)
                try:
                    out.append((f"{name} line {number}", json.loads(line)))
                except (ValueError, UnicodeDecodeError) as exc:
                    raise InvalidInputError(f"{self.files.where(name)} line {number} is not "
                                            f"JSON: {exc}") from None
        if size != entry["size"] or len(out) != entry["records"]:
            raise IntegrityError(f"{self.files.where(name)} holds {len(out)} records in {size} "
                                 f"bytes; the manifest says {entry['records']} in "
                                 f"{entry['size']}")
        return out

    def _read_versions(self) -> list[NewVersion]:
        records = [record_from_dict(raw, where) for where, raw in self._lines("versions")]
        for record in records:
            for digest in record.blob_digests:
                if digest not in self.sizes:
                    raise IntegrityError(f"{record.name}:{record.version} needs blob {digest}, "
                                         "which the bundle does not list", digest=digest)
        return records

    def _read_runs(self) -> list[RunRecord]:
        return [run_from_dict(raw, where) for where, raw in self._lines("runs")]

    # -- copying.Source --------------------------------------------------------------------
    def versions(self) -> list[NewVersion]:
        return list(self._versions)

    def runs(self) -> list[RunRecord]:
        return list(self._runs)

    def check_blobs(self, digests: Sequence[str]) -> None:
        """Rehash every blob about to be sent, and check every directory manifest of the
        bundle (paths, canonical form, and that its files are the version's blobs)."""
        for digest in digests:
            size = 0
            with self.open_blob(digest) as reader:
                while chunk := reader.read(READ_SIZE):
                    size += len(chunk)
            if size != self.sizes[digest]:
                raise IntegrityError(f"blob {digest} in the bundle has {size} bytes; the "
                                     f"manifest says {self.sizes[digest]}", digest=digest)
        for record in self._versions:
            if record.kind == "directory":
                self._check_directory(record)

    def _check_directory(self, record: NewVersion) -> None:
        assert record.digest is not None
        if self.sizes[record.digest] > MAX_DIRECTORY_MANIFEST:
            raise InvalidInputError(f"{record.name}:{record.version}: its directory manifest "
                                    f"is over {MAX_DIRECTORY_MANIFEST} bytes")
        with self.open_blob(record.digest) as reader:
            data = reader.read()
        manifest = Manifest.from_bytes(data)  # InvalidInputError for traversal and the like
        files = tuple(dict.fromkeys(e.digest for e in manifest.entries))
        if hash_bytes(data) != record.digest or record.blob_digests != (record.digest, *files):
            raise IntegrityError(f"{record.name}:{record.version}: its blob list does not "
                                 "match its directory manifest", digest=record.digest)

    def blob_size(self, digest: str) -> int:
        if digest not in self.sizes:
            raise IntegrityError(f"the bundle does not hold blob {digest}", digest=digest)
        return self.sizes[digest]

    def open_blob(self, digest: str) -> BinaryIO:
        if digest not in self.sizes:
            raise IntegrityError(f"the bundle does not hold blob {digest}", digest=digest)
        name = blob_member(digest)
        return verifying_reader(self.files.open(name), digest, self.files.where(name),
                                self.sizes[digest])


def _file_entry(path: str, data: bytes, records: int) -> dict[str, Any]:
    return {"path": path, "digest": hash_bytes(data), "size": len(data), "records": records}
