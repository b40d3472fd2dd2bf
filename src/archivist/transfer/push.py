"""``push``: copy versions from one catalog to another (a laptop to a team server).

::

    local = ArtifactCatalog()
    team = ArtifactCatalog("https://archivist.example.com")   # or any folder / database
    report = push(local, team, "type:Model")                  # again: nothing copied

Written against the generic catalog API only (``backend`` rows, ``blobs`` bytes), so it
works between any two backends. The copy is the same :class:`~archivist.transfer.copier.Copier`
as ``import_bundle``: ids and version numbers preserved, blobs the target has never sent
(the target is asked by digest), idempotent.
"""

from __future__ import annotations

from archivist.transfer.copier import Copier, CopyReport, Progress, no_progress
from archivist.transfer.source import CatalogSource, CatalogView, Selection, select


def push(source: CatalogView, target: CatalogView, query: Selection = None, *,
         ancestors: bool = True, project: str | None = None,
         progress: Progress = no_progress) -> CopyReport:
    """Copy the versions ``query`` names (default: every live version of the source's
    project) from ``source`` to ``target``, with their tags, aliases, runs and blobs.

    Args:
        query: a search query, refs or records (see :func:`catalog_source.select`).
        ancestors: also copy every live version the chosen ones derive from, so lineage
            arrives whole (edges to parents the target lacks are otherwise dropped and
            reported in ``missing_parents``).
        project: the target project (default: the target catalog's, whose blob store
            receives the bytes).
        progress: called with (bytes sent, bytes to send) as the blobs stream.

    Raises:
        ConflictError: the target holds another version under a copied id or number, or
            the name with another case; nothing is written.
        IntegrityError: a blob of a copied version is missing or corrupt in the source.
        InvalidQueryError, ArtifactNotFoundError: a bad query or ref.
        PermissionDeniedError: the target refuses the writes (e.g. a read-only API key).
    """
    chosen = CatalogSource(source, select(source, query), ancestors=ancestors)
    return Copier(target.backend, target.blobs, user=target.user).copy(
        chosen, project=target.project if project is None else project, progress=progress)
