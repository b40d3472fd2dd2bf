"""One project's rows, as verify and gc read them (:class:`archivist.maintenance.Rows`).

Used when each project has its own blob store (``{{project}}`` in the blobs URL): that
store holds only the project's blobs, so only the project's versions refer into it.
"""

from __future__ import annotations

from dataclasses import replace

from archivist.backends.base import Backend, ServerStore
from archivist.model import Artifact, ListFilter


class ProjectRows:
    """The rows of ``project`` in ``backend``; leases stay global (a lease names digests,
    not a project, and keeping a leased blob is always safe)."""

    def __init__(self, backend: Backend, store: ServerStore, project: str) -> None:
        self._backend = backend
        self._store = store
        self._project = project

    def blob_references(self) -> dict[str, bool]:
        return self._store.project_blob_references(self._project)

    def leased_digests(self, now: float) -> set[str]:
        return self._backend.leased_digests(now)

    def projects(self) -> list[str]:
        return [self._project]

    def list_versions(self, filters: ListFilter) -> list[Artifact]:
        return self._backend.list_versions(replace(filters, project=self._project))
