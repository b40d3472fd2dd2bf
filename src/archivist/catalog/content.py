"""Turning what the user hands ``register`` (data, a path, a URI) into stored content.

One entry point, :meth:`Ingest.content`, yields a :class:`Content` describing the bytes
that landed in the blob store; it keeps whatever it needs to land them again (the source
path, or the materialized temp file) until the registration is over, so the catalog can
re-land a blob that a concurrent ``gc`` removed before the version committed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archivist.errors import ArchivistError, InvalidInputError, PickleWarning, StorageError
from archivist.materializers.datafiles import describe_file
from archivist.materializers.registry import (
    IN_MEMORY_LIMIT,
    InMemoryMaterializer,
    MaterializerRegistry,
    Written,
)
from archivist.store.blobs import Blobs
from archivist.store.hashcache import HashCache, now_ns
from archivist.store.manifest import Manifest, build_manifest
from archivist.store.references import check_uri, describe_reference


@dataclass(frozen=True)
class Content:
    """What a registration stores: the kind, digest, size and the blobs it needs."""

    kind: str = "none"
    digest: str | None = None
    size: int | None = None
    format: str | None = None
    reference_uri: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    default_type: str = "File"
    blob_digests: tuple[str, ...] = ()
    #: where each blob can be read again, to re-land it if it went missing before commit
    sources: Mapping[str, Path] = field(default_factory=dict)
    #: blobs whose bytes are held in memory instead (small in-memory materialized values)
    payloads: dict[str, bytes] = field(default_factory=dict)


class Ingest:
    """Lands user content in the blob store."""

    def __init__(self, blobs: Blobs, hashcache: HashCache, registry: MaterializerRegistry,
                 scratch: Path, *, local_references: bool = True) -> None:
        self.blobs = blobs
        self.hashcache = hashcache
        self.registry = registry
        self.scratch = scratch
        self.local_references = local_references

    @contextlib.contextmanager
    def content(self, *, data: Any = None, path: Any = None,
                uri: str | None = None) -> Iterator[Content]:
        given = [name for name, value in (("data", data), ("path", path), ("uri", uri))
                 if value is not None]
        if len(given) > 1:
            raise InvalidInputError(f"give at most one of data=, path= or uri= (got "
                                    f"{', '.join(given)})")
        if path is not None:
            yield self._from_path(path)
        elif uri is not None:
            yield self._from_uri(uri)
        elif data is not None:
            with self._from_data(data) as content:
                yield content
        else:
            yield Content()

    def _from_path(self, path: Any) -> Content:
        if not isinstance(path, str | os.PathLike):
            raise InvalidInputError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        if not os.fspath(path) or "\x00" in os.fspath(path):
            raise InvalidInputError("path is empty or contains a NUL character")
        source = Path(path)
        try:
            info = source.lstat()
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read {source}: "
                                    f"{getattr(exc, 'strerror', None) or exc}") from None
        if stat.S_ISLNK(info.st_mode):
            source = source.resolve()
            info = source.stat()
        if stat.S_ISDIR(info.st_mode):
            manifest, digests = build_manifest(source, self.blobs, self.hashcache)
            manifest_digest = digests[0]
            return Content(kind="directory", digest=manifest_digest,
                           size=sum(e.size for e in manifest.entries), format="directory",
                           metadata={"files": len(manifest.entries)},
                           default_type="Directory", blob_digests=tuple(digests),
                           sources=_TreeFiles(source, manifest))
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(f"{source} is not a regular file or directory")
        cached = self.hashcache.get(info, str(source))
        started = now_ns()
        digest, size = self.blobs.put_file(source, digest=cached)
        if cached is None:
            self.hashcache.put_many([(str(source), info, digest)], hashed_at_ns=started)
        described = describe_file(self._landed(digest, source), source.name)
        return Content(kind="file", digest=digest, size=size, format="file",
                       metadata={"filename": source.name, **described}, default_type="File",
                       blob_digests=(digest,), sources={digest: source})

    def _landed(self, digest: str, source: Path) -> Path:
        """The stored copy when the store is a local folder (what is described is then
        exactly what was hashed), else the user's file."""
        try:
            local = self.blobs.local_path(digest)
        except ArchivistError:  # gone already (a racing gc): the source will be re-landed
            local = None
        return Path(local) if local is not None else source

    @contextlib.contextmanager
    def _from_data(self, data: Any) -> Iterator[Content]:
        if isinstance(data, Written):  # written once already: store that file
            digest, size = self.blobs.put_file(data.path, digest=data.digest)
            yield Content(kind="file", digest=digest, size=size, format=data.format,
                          metadata=dict(data.metadata), default_type=data.artifact_type,
                          blob_digests=(digest,), sources={digest: data.path})
            return
        materializer = self.registry.for_object(data)
        if materializer.needs_consent:
            _warn_caller(
                f"no materializer stores {type(data).__module__}.{type(data).__qualname__} "
                f"portably, so it is stored as {materializer.name!r}: loading it will need "
                "allow_pickle=True, and unpickling runs code from the file. Register a "
                "materializer for the type, or store a portable form (a dict, a DataFrame, "
                "an array) — see 'Materializers' in the storage docs", PickleWarning)
        if isinstance(materializer, InMemoryMaterializer):
            payload, extra = materializer.encode(data)
            if len(payload) <= IN_MEMORY_LIMIT:  # no scratch file: land the bytes as they are
                digest, size = self.blobs.put_bytes(payload)
                yield Content(kind="file", digest=digest, size=size, format=materializer.name,
                              metadata=dict(extra), default_type=materializer.artifact_type,
                              blob_digests=(digest,), payloads={digest: payload})
                return
        self.scratch.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="materialize-", dir=self.scratch))
        try:
            target = workdir / "object"
            try:
                extra = materializer.save(data, target)
            except ArchivistError:
                raise
            except OSError as exc:
                raise StorageError(f"could not write the {materializer.name} file: {exc}") from exc
            digest, size = self.blobs.put_file(target)
            yield Content(kind="file", digest=digest, size=size, format=materializer.name,
                          metadata=dict(extra), default_type=materializer.artifact_type,
                          blob_digests=(digest,), sources={digest: target})
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _from_uri(self, uri: str) -> Content:
        clean = check_uri(uri, allow_file=self.local_references)
        # Only local targets are read at registration: asking an object store for an
        # ETag would use ambient credentials (and, for s3 without any, probe the cloud
        # metadata endpoint). Remote references are recorded as given.
        local = clean.startswith("file:")
        described = describe_reference(clean, fetch=local and self.local_references)
        return Content(kind="reference", digest=described.get("digest"),
                       size=described.get("size"), format="reference", reference_uri=clean,
                       metadata={k: v for k, v in described.items()
                                 if k in ("etag",) and v is not None},
                       default_type="File")

    def reland(self, content: Content) -> None:
        """Put back any blob of ``content`` that is missing (a racing gc removed it)."""
        for digest in self.blobs.missing(content.blob_digests):
            payload = content.payloads.get(digest)
            if payload is not None:
                self.blobs.put_bytes(payload)
                continue
            source = content.sources.get(digest)
            if source is None:
                raise StorageError(f"blob {digest} vanished before the registration "
                                   "committed and cannot be rewritten; retry")
            self.blobs.put_file(source)


class _TreeFiles(Mapping[str, Path]):
    """A directory's file digests -> a file with those bytes, as :attr:`Content.sources`;
    each path is made only if a blob has to be landed again (rarely: not 10,000 ``Path``
    objects per registered tree)."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self._root = root
        self._paths = {e.digest: e.path for e in manifest.entries}

    def __getitem__(self, digest: str) -> Path:
        return self._root / self._paths[digest]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def _warn_caller(message: str, category: type[Warning]) -> None:
    """Warn at the first frame outside archivist (and contextlib): the user's line that
    registered, however deep the catalog's own calls go."""
    level, frame = 2, sys._getframe(1)  # 1 would be this function, 2 its caller
    while frame is not None and (frame.f_globals.get("__name__", "").partition(".")[0]
                                 in ("archivist", "contextlib")):
        level, frame = level + 1, frame.f_back  # type: ignore[assignment]
    warnings.warn(message, category, stacklevel=level)
