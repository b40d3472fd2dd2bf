"""What several pages look up the same way: a version the caller may see, a directory
version's file list."""

from __future__ import annotations

from collections.abc import Iterable

from archivist import names
from archivist.errors import ArtifactNotFoundError, InvalidInputError
from archivist.model import Artifact, HistoryEntry
from archivist.server.ui.session import UiSession
from archivist.store.manifest import MAX_MANIFEST_BYTES, Manifest


def visible_version(ui: UiSession, version_id: str) -> Artifact:
    """The version ``version_id`` if the caller sees it (deleted ones too).

    Raises:
        ArtifactNotFoundError: no such version, or one of another project.
    """
    found = ui.service.lookup([version_id])
    if not found:
        raise ArtifactNotFoundError(f"no version with id {version_id!r}", ref=version_id)
    return found[0]


def version_refs(ui: UiSession, entries: Iterable[HistoryEntry]) -> dict[str, Artifact]:
    """The versions an alias change names (its old and new values are version ids), to
    show them as ``name:version`` links."""
    ids = {v for e in entries if e.kind == "alias" for v in (e.old, e.new)
           if isinstance(v, str) and names.ID_PATTERN.fullmatch(v)}
    return {a.id: a for a in ui.service.lookup(sorted(ids))} if ids else {}


def manifest_of(ui: UiSession, artifact: Artifact) -> Manifest:
    """The file list of a directory version.

    Raises:
        InvalidInputError: not a directory version.
    """
    if artifact.kind != "directory" or artifact.digest is None:
        raise InvalidInputError(f"{artifact.name}:{artifact.version} is not a directory")
    blobs = ui.service.readable_blob(artifact.project, artifact.digest)
    with blobs.open(artifact.digest) as handle:
        return Manifest.from_bytes(handle.read(MAX_MANIFEST_BYTES + 1))
