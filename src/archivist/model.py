"""Records the catalog hands back: small frozen values, no I/O.

``Artifact`` reads both as attributes and as a mapping, so code written against
dict-returning catalogs keeps working::

    art = catalog.get("fraud@production")
    art.version, art["version"], art.get("tags", {}), dict(art)

It is one module of over 400 lines on purpose: it is only frozen records, which every
layer imports, and one place to find them is worth more than short files.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from archivist.errors import InvalidInputError
from archivist.refs import version_uri

#: How a version's content is held.
KINDS = ("file", "directory", "reference", "none")


@dataclass(frozen=True, eq=True)
class Artifact(Mapping[str, Any]):
    """One immutable version of an artifact.

    Obtain it from :meth:`ArtifactCatalog.get`, ``list``, ``search`` or ``versions``.
    """

    id: str
    name: str
    version: int
    artifact_type: str
    project: str
    created_at: datetime
    digest: str | None = None
    size: int | None = None
    kind: str = "none"
    format: str | None = None
    reference_uri: str | None = None
    storage_path: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    partitions: dict[str, str] = field(default_factory=dict)
    parent_ids: list[str] = field(default_factory=list)
    description: str | None = None
    source_step: str | None = None
    source_run_id: str | None = None
    source_pipeline: str | None = None
    user: str | None = None
    code_version: str | None = None
    deleted: bool = False

    @classmethod
    def trusted(cls, **fields: Any) -> Artifact:
        """A record from every one of its fields, as the store read them back: no
        defaults, no checks, ~10 times cheaper than the constructor (search and list build
        hundreds at a time). Every field must be given."""
        record = object.__new__(cls)
        record.__dict__.update(fields)
        return record

    @property
    def artifact_id(self) -> str:
        return self.id

    @property
    def uri(self) -> str:
        """The ``archivist://project/name:version`` URI of this version."""
        return version_uri(self.project, self.name, self.version)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def with_(self, **changes: Any) -> Artifact:
        return bound(replace(self, **changes), self.__dict__.get("_catalog"))

    # -- bytes, through the catalog that returned the record ----------------------------
    def load(self, allow_pickle: bool = False) -> Any:
        """The Python object back (``catalog.load(record)``).

        Raises:
            InvalidInputError: the record did not come from a catalog (built by hand).
        """
        return self._bound("load").load(self, allow_pickle=allow_pickle)

    def open(self) -> Any:
        """A binary stream of a file version's bytes (``catalog.open(record)``)."""
        return self._bound("open").open(self)

    def as_df(self) -> Any:
        """A dataset version as a pandas DataFrame (``catalog.as_df(record)``)."""
        return self._bound("as_df").as_df(self)

    def download(self, dest: Any = None) -> Any:
        """Write the bytes to ``dest`` and return its path (``catalog.download``); by
        default to the current folder, under the file's recorded name (or the version's
        name)."""
        if dest is None:
            filename = self.metadata.get("filename")
            dest = filename if isinstance(filename, str) and filename else self.name
        return self._bound("download").download(self, dest)

    def _bound(self, action: str) -> Any:
        catalog = self.__dict__.get("_catalog")
        if catalog is None:
            raise InvalidInputError(f"{self.ref} was not read from a catalog, so it cannot "
                                    f"{action} itself; use catalog.{action}(record)")
        return catalog

    def __getstate__(self) -> dict[str, Any]:
        # the catalog holds connections: a record sent elsewhere travels without it
        return {k: v for k, v in self.__dict__.items() if k != "_catalog"}

    # -- mapping view -------------------------------------------------------------------
    def _keys(self) -> tuple[str, ...]:
        return _KEYS

    def __getitem__(self, key: str) -> Any:
        if key in _KEY_SET:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(_KEYS)

    def __len__(self) -> int:
        return len(_KEYS)

    def __hash__(self) -> int:
        return hash(self.id)

    def to_dict(self) -> dict[str, Any]:
        """The mapping form with JSON-ready values (``created_at`` as ISO 8601)."""
        out = dict(self)
        out["created_at"] = self.created_at.isoformat()
        return out


def bound(artifact: Artifact, catalog: object) -> Artifact:
    """``artifact``, its ``load``/``open``/``download`` going through ``catalog`` (the
    catalog object that read it; not a field: not compared, not sent)."""
    if catalog is not None:
        object.__setattr__(artifact, "_catalog", catalog)
    return artifact


_FIELD_NAMES = tuple(f.name for f in fields(Artifact))
_KEYS = (*_FIELD_NAMES[:1], "artifact_id", *_FIELD_NAMES[1:], "uri")
_KEY_SET = frozenset(_KEYS)


@dataclass(frozen=True)
class HistoryEntry:
    """One change of a tag or alias: who, when, old value, new value."""

    at: datetime
    kind: str  # "tag" | "alias"
    key: str
    old: Any
    new: Any
    version_id: str | None
    user: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": self.kind, "key": self.key, "old": self.old,
                "new": self.new, "version_id": self.version_id, "user": self.user}


@dataclass(frozen=True)
class VerifyReport:
    """What :meth:`ArtifactCatalog.verify` found.

    ``ok`` is true when no live version's bytes are corrupt or missing; leftovers
    (``unreferenced`` blobs, ``stale_temp`` files) are ``gc``'s work and do not clear it.
    """

    checked: int
    corrupt: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)
    changed_references: list[str] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)
    stale_temp: list[str] = field(default_factory=list)
    #: ids of external references not re-checked (a catalog server never reads them)
    unchecked_references: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.missing or self.suspicious)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "corrupt": self.corrupt,
                "missing": self.missing, "suspicious": self.suspicious,
                "changed_references": self.changed_references,
                "unchecked_references": self.unchecked_references,
                "unreferenced": self.unreferenced, "stale_temp": self.stale_temp}


@dataclass(frozen=True)
class GcReport:
    """What :meth:`ArtifactCatalog.gc` freed (or would free) and why it kept the rest."""

    dry_run: bool
    freed: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    kept: dict[str, str] = field(default_factory=dict)  # digest -> reason
    temp_removed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "freed": self.freed, "freed_bytes": self.freed_bytes,
                "kept": self.kept, "temp_removed": self.temp_removed}


def as_mapping(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value) if value else {}


#: Lifecycle of a run or task: ``running`` until it ends ``succeeded`` or ``failed``.
RUN_STATUSES = ("running", "succeeded", "failed")
#: What a run executed: a function ``pipeline``, a class ``flow``, or a lone ``step``.
RUN_KINDS = ("pipeline", "flow", "step")


def check_status(status: object) -> str | None:
    """``None`` or one of ``running``, ``succeeded``, ``failed``.

    Raises:
        InvalidInputError: another value.
    """
    if status is None:
        return None
    if not isinstance(status, str) or status not in RUN_STATUSES:
        raise InvalidInputError(f"run status must be one of {', '.join(RUN_STATUSES)}, "
                                f"got {status!r:.40}")
    return status


@dataclass(frozen=True)
class TaskRecord:
    """One execution of one step inside a run (a ``foreach`` step has several, by index).

    ``consumed``/``produced`` are the version ids the task read and wrote; ``data`` maps
    an attribute (flows) or output name (function steps) to the version id holding its
    value; ``cached`` says the outputs were reused from an earlier task with the same
    ``cache_key`` instead of running; ``details`` is free JSON for the engine (a flow's
    foreach position, the task it was resumed from, …).
    """

    id: str
    run_id: str
    step: str
    index: int = 0
    status: str = "running"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    cached: bool = False
    cache_key: str | None = None
    error: str | None = None
    consumed: list[str] = field(default_factory=list)
    produced: list[str] = field(default_factory=list)
    data: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (times as ISO 8601 strings or ``None``)."""
        return {"id": self.id, "run_id": self.run_id, "step": self.step, "index": self.index,
                "status": self.status, "started_at": _iso(self.started_at),
                "ended_at": _iso(self.ended_at), "cached": self.cached,
                "cache_key": self.cache_key, "error": self.error,
                "consumed": list(self.consumed), "produced": list(self.produced),
                "data": dict(self.data), "details": dict(self.details)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskRecord:
        """The record back from :meth:`to_dict`'s form."""
        return cls(id=data["id"], run_id=data["run_id"], step=data["step"],
                   index=int(data.get("index", 0)), status=data.get("status", "running"),
                   started_at=_from_iso(data.get("started_at")),
                   ended_at=_from_iso(data.get("ended_at")),
                   cached=bool(data.get("cached", False)), cache_key=data.get("cache_key"),
                   error=data.get("error"), consumed=list(data.get("consumed") or ()),
                   produced=list(data.get("produced") or ()),
                   data=dict(data.get("data") or {}), details=dict(data.get("details") or {}))


@dataclass(frozen=True)
class RunRecord:
    """One execution of a pipeline, a flow or a single step.

    ``id`` is a UUIDv7; ``number`` counts the runs of ``(project, pipeline)`` from 1,
    gap-free, so ``pathspec`` (``"fraud_detection/3"``) names the run as well as the id.
    ``consumed``/``produced`` are the version ids of the whole run (every task's plus
    those linked to the run directly), ``tasks`` its steps in start order.
    """

    id: str
    project: str
    pipeline: str
    number: int
    started_at: datetime
    kind: str = "pipeline"
    status: str = "running"
    ended_at: datetime | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    user: str | None = None
    host: str | None = None
    code_version: str | None = None
    code_dirty: bool | None = None
    source_hash: str | None = None
    error: str | None = None
    consumed: list[str] = field(default_factory=list)
    produced: list[str] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def pathspec(self) -> str:
        """``"<pipeline>/<number>"``, e.g. ``"MyFlow/3"``."""
        return f"{self.pipeline}/{self.number}"

    @property
    def uid(self) -> str:
        """Alias of ``id`` (the ``{{run.uid}}`` of export templates)."""
        return self.id

    def task(self, step: str, index: int = 0) -> TaskRecord:
        """The task of ``step`` with ``index``.

        Raises:
            KeyError: the run has no such task (the message lists the steps it has).
        """
        for t in self.tasks:
            if t.step == step and t.index == index:
                return t
        steps = sorted({t.step for t in self.tasks})
        raise KeyError(f"run {self.pathspec} has no task {step}[{index}]; steps: {steps}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (times as ISO 8601 strings, tasks as their mappings)."""
        return {"id": self.id, "project": self.project, "pipeline": self.pipeline,
                "number": self.number, "pathspec": self.pathspec, "kind": self.kind,
                "status": self.status, "started_at": _iso(self.started_at),
                "ended_at": _iso(self.ended_at), "parameters": dict(self.parameters),
                "user": self.user, "host": self.host, "code_version": self.code_version,
                "code_dirty": self.code_dirty, "source_hash": self.source_hash,
                "error": self.error, "consumed": list(self.consumed),
                "produced": list(self.produced), "tasks": [t.to_dict() for t in self.tasks],
                "details": dict(self.details)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """The record back from :meth:`to_dict`'s form (``pathspec`` is derived)."""
        started = _from_iso(data["started_at"])
        if started is None:
            raise ValueError("a run record needs started_at")
        dirty = data.get("code_dirty")
        return cls(id=data["id"], project=data["project"], pipeline=data["pipeline"],
                   number=int(data["number"]), started_at=started,
                   kind=data.get("kind", "pipeline"), status=data.get("status", "running"),
                   ended_at=_from_iso(data.get("ended_at")),
                   parameters=dict(data.get("parameters") or {}), user=data.get("user"),
                   host=data.get("host"), code_version=data.get("code_version"),
                   code_dirty=None if dirty is None else bool(dirty),
                   source_hash=data.get("source_hash"), error=data.get("error"),
                   consumed=list(data.get("consumed") or ()),
                   produced=list(data.get("produced") or ()),
                   tasks=[TaskRecord.from_dict(t) for t in data.get("tasks") or ()],
                   details=dict(data.get("details") or {}))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _from_iso(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


# -- API keys of a catalog server (made and checked by archivist.keys) ----------------------
#: Scopes of an API key, each including the ones before it.
SCOPES = ("read", "write", "admin")
_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}


@dataclass(frozen=True)
class ApiKey:
    """An API key without its secret.

    Obtain one from :func:`create_key` (which also returns the secret, once) or
    :func:`list_keys`.
    """

    id: str
    project: str
    scope: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def allows(self, needed: str) -> bool:
        """Whether this key's scope includes ``needed`` (admin ⊃ write ⊃ read)."""
        return _RANK[self.scope] >= _RANK[check_scope(needed)]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "project": self.project, "scope": self.scope,
                "name": self.name, "created_at": self.created_at.isoformat(),
                "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat()}


def check_scope(scope: object) -> str:
    """Return ``scope`` if it is ``read``, ``write`` or ``admin``.

    Raises:
        InvalidInputError: for anything else.
    """
    if not isinstance(scope, str) or scope not in _RANK:
        raise InvalidInputError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r:.40}")
    return scope


# -- what is written and asked of a metadata store (archivist.backends.base) ------------
@dataclass(frozen=True)
class NewVersion:
    """A validated registration, ready to be written (the catalog builds it)."""

    id: str
    project: str
    name: str
    artifact_type: str
    created_at: float
    kind: str = "none"
    format: str | None = None
    digest: str | None = None
    size: int | None = None
    reference_uri: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    partitions: dict[str, str] = field(default_factory=dict)
    parent_ids: tuple[str, ...] = ()
    blob_digests: tuple[str, ...] = ()
    description: str | None = None
    source_step: str | None = None
    source_run_id: str | None = None
    source_pipeline: str | None = None
    user: str | None = None
    code_version: str | None = None
    #: version number to keep (bundle import); ``None`` lets the backend assign the next
    version: int | None = None


@dataclass(frozen=True)
class NewRun:
    """A run to create (the pipeline recorder or a bundle import builds it).

    Times are seconds since the epoch. ``number=None`` lets the backend assign the next
    number of ``(project, pipeline)``; a bundle import passes the original one.
    """

    id: str
    project: str
    pipeline: str
    started_at: float
    kind: str = "pipeline"
    status: str = "running"
    ended_at: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    user: str | None = None
    host: str | None = None
    code_version: str | None = None
    code_dirty: bool | None = None
    source_hash: str | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    number: int | None = None


@dataclass(frozen=True)
class ListFilter:
    """Filters of ``list_versions``; every field set must hold."""

    project: str
    artifact_type: Sequence[str] = ()
    name: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    partitions: dict[str, str] = field(default_factory=dict)
    #: key -> accepted spellings ``(value, granularity)``: one must hold (``value`` stored
    #: under the key and, unless ``None``, ``granularity`` under ``key.granularity``).
    #: What a time among ``list``'s partitions becomes: its instant or a bucket holding it
    #: (:func:`archivist.timepartitions.spellings`).
    partition_spellings: dict[str, tuple[tuple[str, str | None], ...]] = field(
        default_factory=dict)
    since: float | None = None
    until: float | None = None
    source_step: str | None = None
    source_run_id: str | None = None
    source_pipeline: str | None = None
    digest: str | None = None
    kind: str | None = None
    latest_only: bool = False
    include_deleted: bool = False
    oldest_first: bool = False
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class LineageRows:
    """Result of a lineage walk: ids within reach, per direction, and the edges seen."""

    parents: list[str]
    children: list[str]
    upstream: list[str]
    downstream: list[str]
    edges: list[tuple[str, str]]
