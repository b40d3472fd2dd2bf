"""What the catalog's method groups use of the catalog they are part of.

:class:`~archivist.catalog.facade.ArtifactCatalog` is assembled from small classes of
public methods, one module per topic (``lineage.py``, ``runs.py``, ``moving.py``), so that
each module stays short; each group names what it needs of the whole as a protocol here,
and mypy checks that the catalog provides it.
"""

from __future__ import annotations

from typing import Protocol, overload

from archivist.backends.base import Backend
from archivist.catalog.logbook import Registering
from archivist.catalog.reading import Reader
from archivist.model import Artifact
from archivist.store.blobs import Blobs


class CatalogCore(Registering, Protocol):
    """The catalog's state, its own lookups (defined in ``facade.py``) and
    ``register_artifact``."""

    project: str
    user: str
    backend: Backend
    blobs: Blobs

    _reader: Reader

    def _resolve(self, ref: str | Artifact) -> Artifact: ...

    def _by_id(self, version_id: str) -> Artifact: ...

    @overload
    def _located(self, found: Artifact) -> Artifact: ...
    @overload
    def _located(self, found: list[Artifact]) -> list[Artifact]: ...

    def _scope(self, project: str | None) -> str: ...
