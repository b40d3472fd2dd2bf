"""archivist: the artifact catalog for machine-learning and data pipelines.

    from archivist import ArtifactCatalog
    catalog = ArtifactCatalog()
"""

from __future__ import annotations

import typing as _typing

from archivist.catalog import ArtifactCatalog
from archivist.catalog.artifactquery import ArtifactQuery
from archivist.catalog.graph import LineageGraph
from archivist.catalog.logbook import PlotArtifact
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
    StorageUnavailableError,
)
from archivist.model import Artifact, GcReport, HistoryEntry, RunRecord, TaskRecord, VerifyReport
from archivist.pipelines.client import Run
from archivist.pipelines.files import Directory, File
from archivist.pipelines.flows.current import current
from archivist.pipelines.flows.decorators import catch, resources, retry, timeout
from archivist.pipelines.flows.flow import Flow
from archivist.pipelines.flows.parameter import IncludeFile, Parameter
from archivist.pipelines.partitioning import partition_by_date, partition_by_key
from archivist.pipelines.pipeline import pipeline
from archivist.pipelines.step import step
from archivist.version import __version__

#: Metaflow's name for the base class of a flow: ``class MyFlow(FlowSpec)`` is
#: ``class MyFlow(Flow)``, so a Metaflow flow runs with only its imports changed.
FlowSpec = Flow

__all__ = [
    "ArchivistError",
    "Artifact",
    "ArtifactCatalog",
    "ArtifactNotFoundError",
    "ArtifactQuery",
    "ConflictError",
    "Directory",
    "DuplicateArtifactWarning",
    "File",
    "Flow",
    "FlowSpec",
    "GcReport",
    "HistoryEntry",
    "IncludeFile",
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
    "PlotArtifact",
    "RemoteCatalogBackend",
    "Run",
    "RunRecord",
    "SameCatalogError",
    "StepFailedError",
    "StorageError",
    "StorageUnavailableError",
    "TaskRecord",
    "VerifyReport",
    "__version__",
    "catch",
    "current",
    "partition_by_date",
    "partition_by_key",
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
