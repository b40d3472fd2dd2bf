"""archivist: the artifact catalog for machine-learning and data pipelines.

    from archivist import ArtifactCatalog
    catalog = ArtifactCatalog()
"""

from __future__ import annotations

import typing as _typing

from archivist.catalog import ArtifactCatalog
from archivist.catalog.graph import LineageGraph
from archivist.errors import (
    ArchivistError,
    ArtifactNotFoundError,
    ConflictError,
    DuplicateArtifactWarning,
    IntegrityError,
    InvalidFlowError,
    InvalidInputError,
    InvalidNameError,
    InvalidQueryError,
    MergeConflictError,
    MissingDependencyError,
    PermissionDeniedError,
    PickleNotAllowedError,
    PickleWarning,
    SameCatalogError,
    StepFailedError,
    StorageError,
)
from archivist.model import Artifact, GcReport, HistoryEntry, RunRecord, TaskRecord, VerifyReport
from archivist.pipelines.client import Run
from archivist.pipelines.flows.current import current
from archivist.pipelines.flows.decorators import catch, resources, retry, timeout
from archivist.pipelines.flows.flow import Flow
from archivist.pipelines.flows.parameter import Parameter
from archivist.pipelines.pipeline import pipeline
from archivist.pipelines.step import step
from archivist.version import __version__

__all__ = [
    "ArchivistError",
    "Artifact",
    "ArtifactCatalog",
    "ArtifactNotFoundError",
    "ConflictError",
    "DuplicateArtifactWarning",
    "Flow",
    "GcReport",
    "HistoryEntry",
    "IntegrityError",
    "InvalidFlowError",
    "InvalidInputError",
    "InvalidNameError",
    "InvalidQueryError",
    "LineageGraph",
    "MergeConflictError",
    "MissingDependencyError",
    "Parameter",
    "PermissionDeniedError",
    "PickleNotAllowedError",
    "PickleWarning",
    "RemoteCatalogBackend",
    "Run",
    "RunRecord",
    "SameCatalogError",
    "StepFailedError",
    "StorageError",
    "TaskRecord",
    "VerifyReport",
    "__version__",
    "catch",
    "current",
    "pipeline",
    "resources",
    "retry",
    "step",
    "timeout",
]

if _typing.TYPE_CHECKING:
    from archivist.backends.remote.backend import RemoteCatalogBackend


def __getattr__(name: str) -> _typing.Any:
    """``RemoteCatalogBackend`` on first use: it imports httpx, which costs a CLI start-up
    most of its time (0.5-1 s) when the catalog is a local folder."""
    if name == "RemoteCatalogBackend":
        from archivist.backends.remote.backend import RemoteCatalogBackend

        return RemoteCatalogBackend
    raise AttributeError(f"module 'archivist' has no attribute {name!r}")
