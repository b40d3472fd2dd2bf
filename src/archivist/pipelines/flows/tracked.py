"""What a flow's step registers through a catalog: linked to its run and task.

While a step runs, :class:`TaskTracker` is the current :class:`~archivist.tracking.Tracker`:
a version registered (``catalog.register``, ``log_*``) through any catalog object on the
flow's store — the flow's own, or ``ArtifactCatalog()`` opened in the step, as Metaflow's
``S3(run=self)`` is — gets the run, the step and the code version as provenance, the
versions the task read so far as parents, and is recorded as produced by the task (and
so by the run). A version read through such a catalog becomes one of the task's inputs.
A catalog on another store is not the run's: its versions are left alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archivist.model import Artifact
from archivist.names import MAX_PARENTS
from archivist.pipelines.context import same_catalog
from archivist.pipelines.flows.state import TaskSpec

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog


class TaskTracker:
    """The tracker of one running task (see the module doc)."""

    def __init__(self, catalog: ArtifactCatalog, spec: TaskSpec,
                 consumed: dict[str, None]) -> None:
        self.catalog = catalog
        self.spec = spec
        #: the task's reads (its own ordered set, shared: reads here are added to it)
        self.consumed = consumed
        #: ids of versions registered through a catalog while the step ran
        self.produced: list[str] = []

    def read(self, catalog: object, artifact: Artifact) -> None:
        if same_catalog(self.catalog, catalog):
            self.consumed.setdefault(artifact.id, None)

    def provenance(self, catalog: object) -> dict[str, Any] | None:
        if not same_catalog(self.catalog, catalog):
            return None
        spec = self.spec
        return {"source_run_id": spec.run_id, "source_pipeline": spec.flow,
                "source_step": spec.step, "code_version": spec.code_version,
                "parent_ids": list(self.consumed)[:MAX_PARENTS]}

    def logged(self, catalog: object, key: str, value: Any, artifact: Artifact) -> None:
        if same_catalog(self.catalog, catalog) and artifact.id not in self.produced:
            self.produced.append(artifact.id)

    def settle(self, catalog: object) -> None:
        """Nothing to write: a flow's engine writes its task rows as they happen."""
