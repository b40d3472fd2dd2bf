"""Logging helpers for notebooks and jobs: datasets, models, plots and metrics.

Each helper registers one version named ``key`` through the catalog's materializers
(Parquet with schema/preview/stats, PNG, JSON, the model formats) and returns its
:class:`Artifact`. Metrics go into the version's metadata as top-level keys, so
``catalog.search("metadata.accuracy>0.9")`` finds them.

Inside a run (``with pipeline(...)``) on the same catalog, a logged version is produced
by the run, as the run's :class:`~archivist.tracking.Tracker` says:
``source_pipeline``/``source_run_id``/``source_step`` and the code version are filled,
the versions the current step has read so far become its parents, and it is listed in
the task's (or, outside a step, the run's) produced versions. The keyword arguments of
each helper are those of :meth:`ArtifactCatalog.register` that describe a version
(:class:`~archivist.catalog.arguments.LogFields`: type, metadata, tags, aliases,
parents, partitions, description, provenance, project); given ones win over the
filled-in values, and ``parent_ids`` are added to the step's reads.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any, Protocol, Unpack, cast

from archivist import names, tracking
from archivist._extras import require
from archivist.catalog.arguments import LogFields, VersionFields
from archivist.errors import DuplicateArtifactWarning, InvalidInputError
from archivist.materializers.column_stats import PREVIEW_ROWS, profile
from archivist.materializers.figures import PngMaterializer
from archivist.materializers.parquet import ParquetMaterializer
from archivist.model import Artifact


class Registering(Protocol):
    """What the helpers need of a catalog: :meth:`ArtifactCatalog.register_artifact`."""

    def register_artifact(self, name: str, path: str | os.PathLike[str] | None = None,
                          artifact_type: str | None = None,
                          metadata: Mapping[str, Any] | None = None, *, data: Any = None,
                          uri: str | None = None,
                          **fields: Unpack[VersionFields]) -> Artifact: ...


def log_dataset(catalog: Registering, key: str, df: Any, preview: int = 20,
                stats: bool = True, **fields: Unpack[LogFields]) -> Artifact:
    """Store a pandas DataFrame or pyarrow Table as Parquet (type ``Dataset``) with its
    ``schema``, ``rows``, ``columns``, a ``preview`` of the first ``preview`` rows
    (0-20) and, with ``stats=True``, per-column ``stats`` in the metadata.

    Raises:
        InvalidInputError: not a DataFrame/Table, or ``preview`` outside 0-20.
    """
    if not ParquetMaterializer().handles(df):
        raise InvalidInputError(f"log_dataset takes a pandas DataFrame or a pyarrow Table, "
                                f"got {type(df).__name__}")
    if isinstance(preview, bool) or not isinstance(preview, int) or not (
            0 <= preview <= PREVIEW_ROWS):
        raise InvalidInputError(f"preview must be a number of rows from 0 to {PREVIEW_ROWS}")
    overrides: dict[str, Any] = {}
    if preview < PREVIEW_ROWS:
        overrides["preview"] = _preview(df, preview)
    if not stats:
        overrides["stats"] = None
    return _log(catalog, key, "Dataset", df, overrides, fields)


def log_model(catalog: Registering, key: str, model: Any,
              metrics: Mapping[str, Any] | None = None, **fields: Unpack[LogFields]) -> Artifact:
    """Store a model (type ``Model``, through the model materializers: skops/joblib for
    scikit-learn, safetensors for torch, …) with ``metrics`` as metadata keys.

    Raises:
        InvalidInputError: metrics that are not a JSON object of the metadata rules.
    """
    found = _metrics(metrics)
    extra = {**found, "metrics": found} if found else {}
    return _log(catalog, key, "Model", model, extra, fields)


def log_plot(catalog: Registering, key: str, figure: Any, **fields: Unpack[LogFields]) -> Artifact:
    """Render a matplotlib figure (or the figure of an Axes) to PNG, type ``Plot``.

    Raises:
        InvalidInputError: not a matplotlib figure.
    """
    if not PngMaterializer().handles(figure) and hasattr(figure, "get_figure"):
        figure = figure.get_figure()
    if not PngMaterializer().handles(figure):
        raise InvalidInputError(f"log_plot takes a matplotlib Figure, got "
                                f"{type(figure).__name__}")
    return _log(catalog, key, "Plot", figure, {}, fields)


def log_metrics(catalog: Registering, key: str, metrics: Mapping[str, Any],
                **fields: Unpack[LogFields]) -> Artifact:
    """Store a metrics mapping as JSON (type ``Metrics``) and as the version's metadata.

    Raises:
        InvalidInputError: not a JSON object of the metadata rules.
    """
    found = _metrics(metrics)
    if not found:
        raise InvalidInputError("log_metrics needs a non-empty mapping of metrics")
    return _log(catalog, key, "Metrics", dict(found), found, fields)


def _log(catalog: Registering, key: str, artifact_type: str, data: Any,
         metadata: Mapping[str, Any], fields: LogFields) -> Artifact:
    key = names.check_name(key, "key")
    asked: dict[str, Any] = dict(fields)
    merged = {**metadata, **names.check_metadata(asked.pop("metadata", None))}
    chosen_type = asked.pop("artifact_type", artifact_type)
    tracker = tracking.current()
    produced_by = None if tracker is None else tracker.provenance(catalog)
    in_run = produced_by is not None
    for field, value in (produced_by or {}).items():
        if field == "parent_ids":
            asked["parent_ids"] = list(dict.fromkeys([*(asked.get("parent_ids") or ()),
                                                      *value]))
        else:
            asked.setdefault(field, value)
    with warnings.catch_warnings():
        if in_run:  # a re-run logs the same content again: expected, not news
            warnings.simplefilter("ignore", DuplicateArtifactWarning)
        artifact = catalog.register_artifact(key, artifact_type=chosen_type, data=data,
                                             metadata=merged,
                                             **cast("VersionFields", asked))
    if tracker is not None and in_run:
        tracker.logged(catalog, key, data, artifact)
    return artifact


def _metrics(metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise InvalidInputError(f"metrics must be a mapping, got {type(metrics).__name__}")
    return names.check_metadata(metrics)


def _preview(df: Any, rows: int) -> list[dict[str, Any]]:
    """The first ``rows`` rows as the Parquet materializer records its preview."""
    pa = require("pyarrow", "pandas", purpose="log_dataset")
    head = df.slice(0, rows) if isinstance(df, pa.Table) else pa.Table.from_pandas(
        df.head(rows))
    return list(profile(head.schema, head.num_rows, head.to_batches())["preview"])
