"""The catalog's run methods: runs recorded by pipelines, and versions logged into them
(``log_dataset``, ``log_model``, ``log_plot``, ``log_metrics``; docs/pipelines.md)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Unpack

from archivist import names
from archivist.catalog import logbook
from archivist.catalog.arguments import LogFields, page
from archivist.catalog.core import CatalogCore
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
        return self.backend.get_run(check_run_ref(ref), self._scope(project))


    def log_dataset(self: CatalogCore, key: str, df: Any, preview: int = 20, stats: bool = True,
                    **fields: Unpack[LogFields]) -> Artifact:
        """A DataFrame/Table as Parquet with schema, preview and stats in its metadata."""
        return logbook.log_dataset(self, key, df, preview=preview, stats=stats, **fields)

    def log_model(self: CatalogCore, key: str, model: Any, metrics: Mapping[str, Any] | None = None,
                  **fields: Unpack[LogFields]) -> Artifact:
        """A model, with ``metrics`` as metadata keys (``metadata.accuracy>0.9``)."""
        return logbook.log_model(self, key, model, metrics=metrics, **fields)

    def log_plot(self: CatalogCore, key: str, figure: Any, **fields: Unpack[LogFields]) -> Artifact:
        """A matplotlib figure rendered to PNG."""
        return logbook.log_plot(self, key, figure, **fields)

    def log_metrics(self: CatalogCore, key: str, metrics: Mapping[str, Any],
                    **fields: Unpack[LogFields]) -> Artifact:
        """A metrics mapping, stored as JSON and kept queryable in the metadata."""
        return logbook.log_metrics(self, key, metrics, **fields)
