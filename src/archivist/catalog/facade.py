"""``ArtifactCatalog``: the one object users hold.

A thin façade: it validates every input once (``names``, ``refs``), lands bytes through
``content`` and ``store``, and delegates rows to a backend. Every backend therefore sees
the same clean input and every error message is the same whichever backend is behind.

The lineage, run and transfer methods are written beside it (``lineage.py``,
``runs.py``, ``moving.py``) as small classes it is assembled from; what they need of it
is the ``CatalogCore`` protocol of ``core.py``.

It is a little over 400 lines on purpose: what stays here is the registration, reading,
tagging and byte methods every other group builds on, each a short validation and a
delegation, and they read best as one module.
"""

from __future__ import annotations

import builtins
import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Unpack, overload

from archivist import names, tracking
from archivist.backends import open_backend
from archivist.backends.base import Backend
from archivist.catalog.arguments import (
    Artifacts,
    Filters,
    Partitions,
    VersionFields,
    list_filter,
    login,
    page,
)
from archivist.catalog.content import Ingest
from archivist.catalog.dataframes import as_dataframe
from archivist.catalog.diffing import diff_versions
from archivist.catalog.lineage import LineageMethods
from archivist.catalog.moving import MovingMethods
from archivist.catalog.reading import Reader
from archivist.catalog.registration import Registrar, Registration, TaskSlot, tracked
from archivist.catalog.renaming import RenamingMethods
from archivist.catalog.runs import RunMethods
from archivist.catalog.timequery import list_matching
from archivist.config import resolve
from archivist.errors import (
    ArtifactNotFoundError,
    InvalidInputError,
)
from archivist.limits import MAX_LIST
from archivist.materializers.registry import MaterializerRegistry, default_registry
from archivist.model import (
    Artifact,
    GcReport,
    HistoryEntry,
    VerifyReport,
    bound,
)
from archivist.query.parser import parse_query
from archivist.refs import parse_ref
from archivist.store.blobs import Blobs
from archivist.store.hashcache import HashCache, NullHashCache
from archivist.timeutil import parse_duration


class ArtifactCatalog(LineageMethods, RunMethods, MovingMethods, RenamingMethods):
    """The artifact catalog.

    ``ArtifactCatalog()`` opens the local catalog in ``$ARCHIVIST_HOME`` or ``./.archivist``
    (created on first use: ``catalog.db`` and ``blobs/``). ``ArtifactCatalog("path/dir")``
    opens one elsewhere; ``ArtifactCatalog("postgresql://…", blobs="s3://bucket/prefix")``
    points the same API at a shared database and bucket, and
    ``ArtifactCatalog("https://catalog.example.com")`` at a catalog server (API key from
    ``ARCHIVIST_CATALOG_API_KEY``, or pass a ``RemoteCatalogBackend(url, api_key)``).

    Args:
        backend: a folder, a database URL, a server URL, or a ``Backend`` object
            (``RemoteCatalogBackend`` included); ``None`` resolves
            from the environment and config file (see :mod:`archivist.config`).
        project: the namespace every call uses unless given per call (``default``).
        blobs: fsspec URL or folder for the blob store (default: ``<home>/blobs``).
        user: recorded as the producer of changes (default: the login name).
        materializers: a registry to use instead of the built-in one.
    """

    def __init__(self, backend: str | os.PathLike[str] | Backend | None = None,
                 project: str | None = None, *, blobs: str | Blobs | None = None,
                 user: str | None = None, materializers: MaterializerRegistry | None = None,
                 busy_timeout: float = 10.0) -> None:
        target = resolve()
        chosen = project if project is not None else (target.project or "default")
        self.project = names.check_name(chosen, "project")
        opened = open_backend(backend, target, blobs=blobs, busy_timeout=busy_timeout,
                              project=self.project)
        self.backend: Backend = opened.backend
        self.blobs: Blobs = opened.blobs
        self.home: Path | None = opened.home
        self._maintenance = opened.maintenance
        self.user = user or login()
        self.materializers = materializers or default_registry()
        hashes = self.home / "hashcache.db" if self.home else opened.hash_cache
        cache = HashCache(hashes) if hashes is not None else NullHashCache()
        scratch = self.home / "tmp" if self.home else Path.home() / ".cache" / "archivist"
        self._ingest = Ingest(self.blobs, cache, self.materializers, scratch)
        self._reader = Reader(self.blobs, self.materializers, scratch, protected=self.home)
        self._registrar = Registrar(self.backend, self._ingest, self.user)
        #: folder ``log_*`` calls copy to (``set_environment``); ``None``: no copies
        self.artifact_path: str | None = None

    def __repr__(self) -> str:
        return f"ArtifactCatalog(project={self.project!r}, home={str(self.home)!r})"

    def __enter__(self) -> ArtifactCatalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.backend.close()
        self._ingest.hashcache.close()  # its WAL is folded back: nothing left to make

    # -- registration ------------------------------------------------------------------
    def register(self, name: str, artifact_type: str | None = None, *, data: Any = None,
                 path: str | os.PathLike[str] | None = None, uri: str | None = None,
                 metadata: Mapping[str, Any] | None = None,
                 tags: Mapping[str, Any] | None = None, aliases: Sequence[str] | None = None,
                 parent_ids: Sequence[str] | None = None,
                 partitions: Partitions | None = None, description: str | None = None,
                 source_step: str | None = None, source_run_id: str | None = None,
                 source_pipeline: str | None = None, project: str | None = None,
                 code_version: str | None = None) -> str:
        """Register a new version of ``name`` and return its id.

        Exactly one of ``data`` (an object, stored through its materializer), ``path``
        (a file or directory, copied into the store) or ``uri`` (an external reference,
        recorded, not copied) may be given; none makes a metadata-only version.

        Raises:
            InvalidNameError: a malformed name, alias, tag key or parent reference.
            InvalidInputError: metadata/tags/partitions that are not JSON or over a limit,
                an unreadable path, a URI outside the allowed schemes.
            ArtifactNotFoundError: a parent does not exist (nothing is written).
            ConflictError: the name exists with another case, or the catalog is busy.
            StorageError: the blob store or database failed (nothing is visible).
        """
        asked = Registration(
            name=name, artifact_type=artifact_type, data=data, path=path, uri=uri,
            metadata=metadata, tags=tags, aliases=aliases, parent_ids=parent_ids,
            partitions=partitions, description=description, source_step=source_step,
            source_run_id=source_run_id, source_pipeline=source_pipeline, project=project,
            code_version=code_version)
        tracker, asked = tracked(self, asked)  # inside a step: its run, step, partitions
        version_id = self._registrar.register(asked, self.project)
        if tracker is not None and not self._registrar.in_batch:
            tracker.logged(self, name, data if data is not None else path,
                           self._resolve(version_id))
        return version_id

    def register_step_output(self, asked: Registration) -> str:
        """Register what a pipeline step returned (see :class:`Registration`); an output
        equal to the newest version of its name answers that version's id. For the
        pipeline engine; use :meth:`register`."""
        return self._registrar.register(asked, self.project)

    def step_batch(self) -> contextlib.AbstractContextManager[TaskSlot | None]:
        """:meth:`batch` for the pipeline engine: a task put in the yielded slot is saved
        in the transaction of the batch's versions (``None`` inside an open batch)."""
        return self._registrar.task_batch()

    def register_artifact(self, name: str, path: str | os.PathLike[str] | None = None,
                          artifact_type: str | None = None,
                          metadata: Mapping[str, Any] | None = None, *, data: Any = None,
                          uri: str | None = None,
                          **fields: Unpack[VersionFields]) -> Artifact:
        """Like :meth:`register` (the same arguments; ``path``, ``artifact_type`` and
        ``metadata`` also by position), returning the :class:`Artifact` record.

        Raises:
            InvalidInputError: inside ``batch()``, where records exist only after the block.
        """
        if self._registrar.in_batch:
            raise InvalidInputError("register_artifact cannot return a record inside batch(); "
                                    "use register() and read the records after the batch")
        return self._resolve(self.register(name, artifact_type, data=data, path=path, uri=uri,
                                           metadata=metadata, **fields))

    @contextlib.contextmanager
    def batch(self) -> Iterator[ArtifactCatalog]:
        """Many registrations in one transaction: all land or none do.

        Inside the block ``register`` returns ids at once (they are assigned client-side)
        and later registrations may name earlier ones as parents; the versions become
        visible together when the block exits without an exception. A nested ``batch``
        joins the outer one.
        """
        with self._registrar.batch():
            yield self

    def register_many(self, items: Sequence[Mapping[str, Any]]) -> builtins.list[str]:
        """Register every item (each a mapping of ``register`` keyword arguments) in one
        transaction; returns the ids in order.

        Raises:
            the errors of :meth:`register`; on any error nothing is registered.
        """
        with self.batch():
            return [self.register(**dict(item)) for item in items]

    # -- reading -----------------------------------------------------------------------
    def get(self, ref: str | Artifact) -> Artifact:
        """The version ``ref`` names: an id, ``name``, ``name:3``, ``name:latest``,
        ``name@alias`` or ``archivist://project/name:3``.

        Raises:
            InvalidNameError: a malformed reference.
            ArtifactNotFoundError: nothing answers it; the message lists what exists.
        """
        found = self._resolve(ref)
        tracking.note_read(self, found)
        return found

    def _resolve(self, ref: str | Artifact) -> Artifact:
        """``get`` without telling a running pipeline step that the version was read."""
        if isinstance(ref, Artifact):
            ref = ref.id
        return self._located(self.backend.get_version(parse_ref(ref), self.project))

    def get_artifact(self, name: str, version: int | str = "latest") -> Artifact:
        """The given version (number, ``"latest"`` or ``"@alias"``) of ``name``."""
        if isinstance(version, int) and not isinstance(version, bool):
            return self.get(f"{name}:{version}")
        text = str(version)
        return self.get(f"{name}{text}" if text.startswith("@") else f"{name}:{text}")

    def list(self, artifact_type: str | Sequence[str] | None = None, limit: int = 100,
             offset: int = 0, *, name: str | None = None,
             tags: Mapping[str, Any] | None = None, partitions: Partitions | None = None,
             since: datetime | str | float | None = None,
             until: datetime | str | float | None = None, latest_only: bool = False,
             source_step: str | None = None, source_run_id: str | None = None,
             source_pipeline: str | None = None, project: str | None = None) -> Artifacts:
        """Every live version matching all filters (one record per version), newest first;
        ``list("Model", 10)`` is the ten newest models (the rest by keyword).

        Raises:
            InvalidInputError: a bad limit/offset or filter value.
        """
        return self._located(list_matching(
            self.backend, self._scope(project), partitions, artifact_type=artifact_type,
            name=name, tags=tags, since=since, until=until, limit=limit, offset=offset,
            latest_only=latest_only, source_step=source_step, source_run_id=source_run_id,
            source_pipeline=source_pipeline))

    def list_artifacts(self, name: str | None = None, *, limit: int = 100, offset: int = 0,
                       **filters: Unpack[Filters]) -> Artifacts:
        """Alias of :meth:`list` with ``name`` first (the other filters by keyword)."""
        return self.list(name=name, limit=limit, offset=offset, **filters)

    def versions(self, name: str, *, project: str | None = None) -> Artifacts:
        """All live versions of ``name``, oldest first."""
        name = names.check_name(name)
        out: Artifacts = []
        while True:
            found = self.backend.list_versions(list_filter(
                self._scope(project), name=name, limit=MAX_LIST, offset=len(out),
                oldest_first=True))
            out += self._located(found)
            if len(found) < MAX_LIST:
                return out

    def search(self, query: str, limit: int = 100, offset: int = 0, *,
               project: str | None = None) -> Artifacts:
        """Live versions matching a query of the search language (docs/query-language.md).

        Raises:
            InvalidQueryError: a malformed query, with the position of the bad token.
        """
        parsed = parse_query(query)
        limit, offset = page(limit, offset)
        scope = self._scope(project)
        return self._located(self.backend.search(parsed, scope, limit, offset))

    def get_latest(self, name: str | None = None,
                   **filters: Unpack[Filters]) -> Artifact | None:
        """The newest live version matching the filters of :meth:`list`
        (partition-aware); ``None`` if none does."""
        found = self.list(name=name, limit=1, **filters)
        if found:
            tracking.note_read(self, found[0])
        return found[0] if found else None

    def history(self, name: str, *, project: str | None = None) -> builtins.list[HistoryEntry]:
        """Every tag, alias, description, rename and delete change of ``name``, oldest
        first."""
        name = names.check_name(name)
        return self.backend.history(self._scope(project), name)

    # -- tags, aliases, delete ---------------------------------------------------------
    def tag(self, ref: str | Artifact, /, **tags: Any) -> None:
        """Set tags (JSON scalars) on a version; each change goes to the history.

        Raises:
            ArtifactNotFoundError, ConflictError (deleted version), InvalidInputError.
        """
        clean = names.check_tags(tags)
        self.backend.update_tags(self._resolve(ref).id, clean, (), self.user)

    def untag(self, ref: str | Artifact, /, *keys: str) -> None:
        """Remove tags from a version (absent keys are ignored)."""
        clean = [names.check_name(key, "tag key") for key in keys]
        self.backend.update_tags(self._resolve(ref).id, {}, clean, self.user)

    def set_alias(self, ref: str | Artifact, alias: str) -> None:
        """Point ``alias`` at this version of its name (moving it if set elsewhere).

        Raises:
            InvalidNameError: ``latest``, an all-digit or malformed alias.
            ConflictError: the version is deleted.
        """
        alias = names.check_alias(alias)
        self.backend.set_alias(self._resolve(ref).id, alias, self.user)

    def remove_alias(self, name: str, alias: str, *, project: str | None = None) -> None:
        """Remove ``alias`` from ``name``.

        Raises:
            ArtifactNotFoundError: the alias is not set.
        """
        name, alias = names.check_name(name), names.check_alias(alias)
        self.backend.remove_alias(self._scope(project), name, alias, self.user)

    def delete(self, ref: str | Artifact) -> None:
        """Tombstone a version: hidden from list/search/latest, kept (as deleted) in
        lineage; its bytes are freed by :meth:`gc` once nothing live refers to them."""
        self.backend.delete_version(self._resolve(ref).id, self.user)

    def _by_id(self, version_id: str) -> Artifact:
        """By id, deleted versions included (lineage shows them)."""
        found = self.backend.get_versions_by_id([version_id])
        if not found:
            raise ArtifactNotFoundError(f"no version with id {version_id!r}")
        return self._located(found[0])

    # -- bytes -------------------------------------------------------------------------
    def load(self, ref: str | Artifact, allow_pickle: bool = False) -> Any:
        """The Python object back, through the materializer recorded at registration.

        The bytes are hashed and compared with the digest *before* anything is
        deserialized; pickled objects load only with ``allow_pickle=True``.

        Raises:
            PickleNotAllowedError: the object is a pickle and consent was not given.
            IntegrityError: the bytes are missing or do not match the digest.
        """
        return self._reader.load(self.get(ref), allow_pickle=allow_pickle)

    def _load_record(self, artifact: Artifact, *, allow_pickle: bool = False) -> Any:
        """:meth:`load` of a record this catalog's backend has just returned, without
        resolving it again (the pipeline cache reads its outputs' records in one query);
        not a read of the running step."""
        return self._reader.load(artifact, allow_pickle=allow_pickle)

    def as_df(self, ref: str | Artifact) -> Any:
        """A dataset version as a pandas DataFrame: a stored DataFrame or Arrow table, or a
        CSV, TSV, Parquet or Arrow file (MLRun's ``as_df``); see :mod:`.dataframes`."""
        return as_dataframe(self, self.get(ref))

    def open(self, ref: str | Artifact) -> IO[bytes]:
        """A binary stream of a file version's bytes, verified against its digest
        (``IntegrityError`` at the latest when the end is read)."""
        return self._reader.open(self.get(ref))

    def download(self, ref: str | Artifact, dest: str | os.PathLike[str],
                 progress: Any = None) -> Path:
        """Write a version's bytes to ``dest`` (a file, or a new folder for a directory).

        Nothing appears at ``dest`` unless every byte matched its digest; ``dest`` must not
        be (or pass through) a symlink, nor lie inside the blob store.
        """
        if not isinstance(dest, str | os.PathLike) or not os.fspath(dest):
            raise InvalidInputError(f"dest must be a non-empty path, got {dest!r:.40}")
        return self._reader.download(self.get(ref), Path(dest), progress=progress)

    def diff(self, ref_a: str | Artifact, ref_b: str | Artifact) -> dict[str, Any]:
        """What changed from version A to version B: metadata, tags, digest, files of a
        directory, schema and column statistics of a dataset."""
        a, b = self.get(ref_a), self.get(ref_b)
        return diff_versions(a, b, self._reader)

    # -- maintenance -------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Rehash every blob a version refers to, list the rest, re-check references."""
        return self._maintenance.verify()

    def gc(self, dry_run: bool = True, grace: str | float = "1d") -> GcReport:
        """Free blobs no live version refers to (dry run by default).

        Never removes a blob younger than ``grace`` (``"1d"``, ``"2h"``, seconds) nor one
        an in-flight registration holds.
        """
        return self._maintenance.gc(dry_run=dry_run, grace=parse_duration(grace),
                                    scratch=self._ingest.scratch)

    # -- helpers -----------------------------------------------------------------------
    @overload
    def _located(self, found: Artifact) -> Artifact: ...
    @overload
    def _located(self, found: Artifacts) -> Artifacts: ...

    def _located(self, found: Artifact | Artifacts) -> Artifact | Artifacts:
        """Fill ``storage_path`` (where this catalog's blob store keeps the bytes), and
        bind the record to this catalog (``record.load()``, ``record.download()``)."""
        if isinstance(found, list):
            return [self._located(a) for a in found]
        if found.digest is None or found.kind not in ("file", "directory"):
            return bound(found, self)
        return bound(replace(found, storage_path=self.blobs.path(found.digest)), self)

    def _scope(self, project: str | None) -> str:
        # ``None`` means this catalog's project; an empty string is an invalid name, never
        # a silent fallback (KFP #9889: a dropped scope parameter skipped the check).
        return names.check_name(project, "project") if project is not None else self.project
