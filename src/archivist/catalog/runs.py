"""The catalog's run methods: runs recorded by pipelines, and versions logged into them
(``log_dataset``, ``log_model``, ``log_plot``, ``log_metrics``, ``log_artifact``, with
``set_environment`` choosing where copies go; docs/pipelines.md)."""

from __future__ import annotations

import builtins
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Unpack

from archivist import names, tracking
from archivist.catalog import artifactpath, logbook
from archivist.catalog.arguments import LogFields, page
from archivist.catalog.core import CatalogCore
from archivist.catalog.logbook import PlotArtifact
from archivist.errors import InvalidInputError
from archivist.materializers.column_stats import PREVIEW_ROWS
from archivist.model import Artifact, RunRecord, check_status
from archivist.refs import check_run_ref


class RunMethods:
    """``runs``, ``get_run`` and the ``log_*`` helpers of :class:`ArtifactCatalog`."""

    def runs(self: CatalogCore, pipeline: str | None = None, status: str | None = None,
             limit: int = 100, offset: int = 0, *,
             project: str | None = None) -> builtins.list[RunRecord]:
        """Runs of pipelines, flows and steps, newest first.

        Raises:
            InvalidNameError, InvalidInputError: a malformed pipeline, status or page.
        """
        if pipeline is not None:
            pipeline = names.check_name(pipeline, "pipeline")
        limit, offset = page(limit, offset)
        tracking.settle(self)  # a run in progress here writes what it holds back first
        return self.backend.list_runs(self._scope(project), pipeline, check_status(status),
                                      limit, offset)

    def get_run(self: CatalogCore, ref: str | RunRecord, *,
                project: str | None = None) -> RunRecord:
        """The run ``ref`` names: its id or its pathspec ``"<pipeline>/<number>"``.

        Raises:
            InvalidNameError: a malformed reference.
            ArtifactNotFoundError: no such run; the message lists what exists.
        """
        if isinstance(ref, RunRecord):
            ref = ref.id
        tracking.settle(self)  # a run in progress here writes what it holds back first
        return self.backend.get_run(check_run_ref(ref), self._scope(project))


    def set_environment(self: CatalogCore, project: str | None = None,
                        artifact_path: str | os.PathLike[str] | None = None
                        ) -> tuple[str, str | None]:
        """MLRun's ``set_environment``: make ``project`` this catalog's project and
        ``artifact_path`` the folder every ``log_*`` call copies what it logs to (see
        :mod:`archivist.catalog.artifactpath`; ``{{project}}`` and ``{{run.uid}}`` are
        filled in). Returns ``(project, artifact_path)``.

        Raises:
            InvalidNameError: a malformed project.
            InvalidInputError: an artifact path that is not a folder or ``file://`` URL.
        """
        if project is not None:
            self.project = names.check_name(project, "project")
        if artifact_path is not None:
            self.artifact_path = artifactpath.check(artifact_path)
        return self.project, self.artifact_path

    def export_copy(self: CatalogCore, artifact: Artifact, dest: Path) -> Path:
        """Write a version's bytes to ``dest`` for an artifact path, replacing what is
        there (a folder is swapped in whole); not a read of a running step. A version
        without bytes writes nothing."""
        if artifact.kind == "file":
            return self._reader.download(artifact, dest)
        if artifact.kind != "directory":
            return dest
        if dest.exists() and not dest.is_dir():
            raise InvalidInputError(f"{dest} is a file; the copy of {artifact.ref} is a folder")
        staged = dest.with_name(f".{dest.name}.{artifact.id}")
        self._reader.download(artifact, staged)
        if dest.exists():
            retired = dest.with_name(f".{dest.name}.old-{artifact.id}")
            dest.rename(retired)
            staged.rename(dest)
            shutil.rmtree(retired)
        else:
            staged.rename(dest)
        return dest

    def log_dataset(self: CatalogCore, key: str, df: Any, preview: int = PREVIEW_ROWS,
                    stats: bool = True, *, format: str = "parquet", index: bool = True,
                    artifact_path: str | os.PathLike[str] | None = None,
                    **fields: Unpack[LogFields]) -> Artifact:
        """A DataFrame/Table as Parquet (or ``format="csv"``) with schema, a preview of up
        to ``preview`` rows (at most 1,000) and stats in its metadata."""
        return logbook.log_dataset(self, key, df, preview=preview, stats=stats, format=format,
                                   index=index, artifact_path=artifact_path, **fields)

    def log_model(self: CatalogCore, key: str, model: Any, metrics: Mapping[str, Any] | None = None,
                  *, artifact_path: str | os.PathLike[str] | None = None,
                  **fields: Unpack[LogFields]) -> Artifact:
        """A model, with ``metrics`` as metadata keys (``metadata.accuracy>0.9``)."""
        return logbook.log_model(self, key, model, metrics=metrics,
                                 artifact_path=artifact_path, **fields)

    def log_plot(self: CatalogCore, key: str, figure: Any, *,
                 artifact_path: str | os.PathLike[str] | None = None,
                 **fields: Unpack[LogFields]) -> Artifact:
        """A matplotlib figure rendered to PNG."""
        return logbook.log_plot(self, key, figure, artifact_path=artifact_path, **fields)

    def log_metrics(self: CatalogCore, key: str, metrics: Mapping[str, Any], *,
                    artifact_path: str | os.PathLike[str] | None = None,
                    **fields: Unpack[LogFields]) -> Artifact:
        """A metrics mapping, stored as JSON and kept queryable in the metadata."""
        return logbook.log_metrics(self, key, metrics, artifact_path=artifact_path, **fields)

    def log_artifact(self: CatalogCore, item: str | PlotArtifact, body: Any = None,
                     local_path: str | os.PathLike[str] | None = None, *,
                     artifact_path: str | os.PathLike[str] | None = None,
                     **fields: Unpack[LogFields]) -> Artifact:
        """A file from ``body`` (text or bytes) or ``local_path``, or a
        :class:`PlotArtifact` (a figure or HTML)."""
        return logbook.log_artifact(self, item, body, local_path, artifact_path=artifact_path,
                                    **fields)
