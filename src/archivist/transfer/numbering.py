"""Where each copied version lands in the target (part of
:class:`archivist.transfer.copier.Copier`): as itself, or as a new version.

By default a version keeps its id and its number, so ``raw:3`` means the same bytes in
every catalog that has it; a number the target gives to another version is a
``ConflictError`` whose message names the remedies (another name, another project, or
new versions). With ``as_new_versions`` a name that meets such a clash is *renumbered*:
every version of it the copy brings lands after the target's last number, in the
source's order, each with a new id and ``metadata["archivist_source"]`` saying where it
came from (``id``, ``name``, ``version``, ``project``, ``catalog``). The target's own
versions are never touched. A later copy finds those versions by the source id they
record and lands nothing new, so repeating it stays idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from archivist.backends.base import Backend
from archivist.errors import ConflictError
from archivist.ids import new_id
from archivist.model import Artifact, ListFilter, NewVersion

#: The metadata key (on versions) and details key (on runs) of a renumbered copy.
SOURCE_KEY = "archivist_source"
_PAGE = 1000

#: What a clash message offers, for ``push`` and ``import`` alike.
REMEDIES = ("land them as new versions after the target's (--as-new-versions; "
            "as_new_versions=True in Python: new ids, lineage kept, the source ids in "
            f"metadata.{SOURCE_KEY}), under another name (--rename {{name}}=NEW_NAME), or "
            "in another project (push --to-project P, import --project P)")


@dataclass(frozen=True)
class Renumbered:
    """A version that landed as a new version: where it is in the source and here."""

    source_id: str
    id: str
    name: str
    source_version: int | None
    version: int | None = None  # assigned by the target; filled in after the write

    def to_dict(self) -> dict[str, Any]:
        return {"source_id": self.source_id, "id": self.id, "name": self.name,
                "source_version": self.source_version, "version": self.version}


@dataclass
class Placement:
    """What :func:`place` decided for the versions the target lacks."""

    #: records to create: kept as they are, or renumbered (new id, ``version=None``)
    new: list[NewVersion] = field(default_factory=list)
    #: source id -> the target's earlier copy of that version (found by ``SOURCE_KEY``)
    copies: dict[str, Artifact] = field(default_factory=dict)
    renumbered: list[Renumbered] = field(default_factory=list)

    @property
    def ids(self) -> dict[str, str]:
        """Source id -> id in the target, for every version that does not keep its id."""
        return {**{k: a.id for k, a in self.copies.items()},
                **{r.source_id: r.id for r in self.renumbered}}


def place(backend: Backend, pending: Sequence[NewVersion], *, as_new: bool,
          taken: set[str], provenance: Mapping[str, dict[str, Any]]) -> Placement:
    """Decide, name by name, how the versions the target lacks land.

    Args:
        pending: records (in the target's project and names) whose id the target lacks,
            or — ``taken`` — gives to another version.
        as_new: renumber a name that clashes instead of refusing it.
        provenance: source id -> what a renumbered copy records under ``SOURCE_KEY``.

    Raises:
        ConflictError: a name exists with another case, or (without ``as_new``) a number
            is taken by another version; nothing is written.
    """
    placement = Placement()
    groups: dict[tuple[str, str], list[NewVersion]] = {}
    for r in pending:
        groups.setdefault((r.project, r.name), []).append(r)
    for (project, name), group in groups.items():
        spelled = backend.spelling(project, name)
        if spelled is not None and spelled != name:
            raise ConflictError(
                f"the target has an artifact named {spelled!r} in project {project!r}; "
                f"names are unique regardless of case, so {name!r} cannot be copied and "
                f"nothing was written; copy it under the target's spelling or another name "
                f"(--rename {name}={spelled}, --rename {name}=NEW_NAME), or in another "
                "project (push --to-project P, import --project P)", existing=spelled)
        held = [] if spelled is None else all_versions(backend, project, name)
        if as_new:
            copies = copies_in(held)
            placement.copies.update({r.id: copies[r.id] for r in group if r.id in copies})
            group = [r for r in group if r.id not in copies]
        numbers = {a.version: a.id for a in held}
        clash = next((r for r in group if r.id in taken
                      or numbers.get(r.version or 0, r.id) != r.id), None)
        if clash is None:
            placement.new += group
            continue
        if not as_new:
            version = clash.version or 0
            raise ConflictError(
                f"the target already has {name}:{version} in project {project!r} as "
                f"another version (id {numbers.get(version)}; the source's is {clash.id}); "
                f"version numbers are kept on copy, so nothing was written. To copy the "
                f"source's versions of {name!r} anyway, " + REMEDIES.format(name=name),
                existing=numbers.get(version), incoming=clash.id)
        for r in group:
            fresh = replace(r, id=new_id(), version=None,
                            metadata={**r.metadata, SOURCE_KEY: provenance[r.id]})
            placement.new.append(fresh)
            placement.renumbered.append(Renumbered(
                source_id=r.id, id=fresh.id, name=name,
                source_version=provenance[r.id].get("version")))
    return placement


def all_versions(backend: Backend, project: str, name: str) -> list[Artifact]:
    """Every version of a name, deleted ones included, oldest first."""
    out: list[Artifact] = []
    while True:
        page = backend.list_versions(ListFilter(
            project=project, name=name, include_deleted=True, oldest_first=True,
            limit=_PAGE, offset=len(out)))
        out += page
        if len(page) < _PAGE:
            return out


def copies_in(held: Sequence[Artifact]) -> dict[str, Artifact]:
    """Source id -> the earliest of ``held`` that a renumbering copy made of it."""
    found: dict[str, Artifact] = {}
    for art in held:
        source = art.metadata.get(SOURCE_KEY)
        if isinstance(source, dict) and isinstance(source.get("id"), str):
            found.setdefault(source["id"], art)
    return found


def source_of(record: NewVersion, catalog: str) -> dict[str, Any]:
    """What a renumbered copy of ``record`` (as the source holds it) records."""
    return {"id": record.id, "name": record.name, "version": record.version,
            "project": record.project, "catalog": catalog}


def remap_parents(records: Sequence[NewVersion], ids: Mapping[str, str]) -> list[NewVersion]:
    """``records`` with every parent id that landed under another id rewritten."""
    if not ids:
        return list(records)
    return [r if not any(p in ids for p in r.parent_ids) else
            replace(r, parent_ids=tuple(dict.fromkeys(ids.get(p, p) for p in r.parent_ids)))
            for r in records]
