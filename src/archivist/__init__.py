"""archivist: the artifact catalog for machine-learning and data pipelines.

    from archivist import ArtifactCatalog
    catalog = ArtifactCatalog()
"""

from __future__ import annotations

from archivist.catalog import ArtifactCatalog
from archivist.errors import (
    ArchivistError,
    ArtifactNotFoundError,
    ConflictError,
    DuplicateArtifactWarning,
    IntegrityError,
    InvalidInputError,
    InvalidNameError,
    InvalidQueryError,
    MissingDependencyError,
    PermissionDeniedError,
    PickleNotAllowedError,
    StorageError,
)
from archivist.graph import LineageGraph
from archivist.model import Artifact, GcReport, HistoryEntry, VerifyReport

__version__ = "0.1.0"

__all__ = [
    "ArchivistError",
    "Artifact",
    "ArtifactCatalog",
    "ArtifactNotFoundError",
    "ConflictError",
    "DuplicateArtifactWarning",
    "GcReport",
    "HistoryEntry",
    "IntegrityError",
    "InvalidInputError",
    "InvalidNameError",
    "InvalidQueryError",
    "LineageGraph",
    "MissingDependencyError",
    "PermissionDeniedError",
    "PickleNotAllowedError",
    "StorageError",
    "VerifyReport",
    "__version__",
]
