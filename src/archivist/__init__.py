"""archivist: the artifact catalog for machine-learning and data pipelines.

    from archivist import ArtifactCatalog
    catalog = ArtifactCatalog()
"""

from __future__ import annotations

from archivist.backends.remote.backend import RemoteCatalogBackend
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
    StorageError,
)
from archivist.model import Artifact, GcReport, HistoryEntry, RunRecord, TaskRecord, VerifyReport
from archivist.pipelines.client import Run
from archivist.pipelines.flows.flow import Flow, Parameter
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
    "StorageError",
    "TaskRecord",
    "VerifyReport",
    "__version__",
    "pipeline",
    "step",
]
