"""``push``: copy versions from one catalog to another (a laptop to a team server).

::

    local = ArtifactCatalog()
    team = ArtifactCatalog("https://archivist.example.com")   # or any folder / database
    report = push(local, team, "type:Model")                  # again: nothing copied

Written against the generic catalog API only (``backend`` rows, ``blobs`` bytes), so it
works between any two backends. The copy is the same :class:`~archivist.transfer.copier.Copier`
as ``import_bundle``: ids and version numbers preserved, blobs the target has never sent
(the target is asked by digest), idempotent.

A push from a catalog to itself is refused (:class:`~archivist.errors.SameCatalogError`)
rather than reported as "0 copied, all already there": :func:`same_catalog` tells, for
any two backends, whether they are one catalog, however each was reached (a folder
through a symlink, a server under two host names, a server and its own database).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping

from archivist.errors import SameCatalogError
from archivist.ids import new_id
from archivist.transfer.copier import Copier, CopyReport, Progress, no_progress
from archivist.transfer.source import CatalogSource, CatalogView, Selection, location, select

#: How long the probe of :func:`same_catalog` may outlive a crash (it names no blob).
_PROBE_SECONDS = 300.0


def push(source: CatalogView, target: CatalogView, query: Selection = None, *,
         ancestors: bool = True, project: str | None = None,
         as_new_versions: bool = False, rename: Mapping[str, str] | None = None,
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
        as_new_versions: where the target gives a version's number to another version,
            land that name's versions as new versions after the target's: new ids and
            numbers, lineage and run links rewritten to them, and the source's id,
            name, number, project and catalog in ``metadata["archivist_source"]``, by
            which a later push finds them (and copies nothing again). A run whose
            ``pipeline/number`` is taken lands as the pipeline's next run likewise.
        rename: source name -> name in the target; ids and numbers are kept, so give
            the same mapping to every later push of those versions.
        progress: called with (bytes sent, bytes to send) as the blobs stream.

    Raises:
        SameCatalogError: ``source`` and ``target`` are one catalog and one project.
        ConflictError: the target holds another version under a copied id or number
            (without ``as_new_versions``), or the name with another case; nothing is
            written. The message names the remedies.
        IntegrityError: a blob of a copied version is missing or corrupt in the source.
        InvalidQueryError, ArtifactNotFoundError: a bad query or ref.
        PermissionDeniedError: the target refuses the writes (e.g. a read-only API key).
    """
    scope = target.project if project is None else project
    if scope == source.project and same_catalog(source, target):
        raise SameCatalogError(
            f"cannot push a catalog to itself: the source and the target are both "
            f"{location(target)} (project {scope!r}), so nothing could be copied; push "
            "from another catalog (on the command line the source is the local catalog, "
            "--home or ARCHIVIST_HOME or ./.archivist, unless --from names another) or "
            "to another target or project (--to, --to-project)",
            target=location(target), project=scope)
    chosen = CatalogSource(source, select(source, query), ancestors=ancestors)
    return Copier(target.backend, target.blobs, user=target.user).copy(
        chosen, project=scope, as_new_versions=as_new_versions, rename=rename,
        progress=progress)


def same_catalog(a: CatalogView, b: CatalogView) -> bool:
    """Whether ``a`` and ``b`` are one catalog: asked of the catalogs themselves, not of
    the URLs or folders they were opened from.

    A lease on a digest that names no blob is taken in ``b`` for a moment and looked for
    among ``a``'s leases: only one catalog can see it in both (a lease keeps blobs from
    ``gc`` and nothing else, and the probe's names no bytes). On a server leases are the
    project's, so two projects of one server answer ``False`` — as two projects of a
    local catalog do once the caller compares projects, which :func:`push` does.

    Raises:
        PermissionDeniedError: ``b`` refuses writes (a read-only key cannot push anyway).
    """
    if a is b or a.backend is b.backend:
        return True
    token = new_id()
    probe = "sha256:" + hashlib.sha256(f"archivist same-catalog probe {token}".encode()
                                       ).hexdigest()
    now = time.time()
    b.backend.lease_blobs(token, [probe], now + _PROBE_SECONDS)
    try:
        return probe in a.backend.leased_digests(now)
    finally:
        b.backend.release_blobs(token)
