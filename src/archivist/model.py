"""Records the catalog hands back: small frozen values, no I/O.

``Artifact`` reads both as attributes and as a mapping, so code written against
dict-returning catalogs keeps working::

    art = catalog.get("fraud@production")
    art.version, art["version"], art.get("tags", {}), dict(art)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

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
        return replace(self, **changes)

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

    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.missing or self.suspicious)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "corrupt": self.corrupt,
                "missing": self.missing, "suspicious": self.suspicious,
                "changed_references": self.changed_references,
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
