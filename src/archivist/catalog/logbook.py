"""Logging helpers for notebooks and jobs: datasets, models, plots, files and metrics.

Each helper registers one version named ``key`` through the catalog's materializers
(Parquet or CSV with schema/preview/stats, PNG, JSON, the model formats) and returns its
:class:`Artifact`. Metrics go into the version's metadata as top-level keys, so
``catalog.search("metadata.accuracy>0.9")`` finds them. With an artifact path in force
(``artifact_path=``, the run's or the catalog's; :mod:`archivist.catalog.artifactpath`)
each helper also writes a copy to ``<artifact_path>/<key><suffix>``.

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

import base64
import html
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Unpack, cast

from archivist import names, tracking
from archivist._extras import require
from archivist.catalog import artifactpath
from archivist.catalog.arguments import LogFields, VersionFields
from archivist.errors import DuplicateArtifactWarning, InvalidInputError
from archivist.materializers.column_stats import PREVIEW_ROWS, profile
from archivist.materializers.figures import SIGNATURE as PNG_SIGNATURE
from archivist.materializers.figures import PngMaterializer
from archivist.materializers.parquet import ParquetMaterializer
from archivist.materializers.registry import MaterializerRegistry
from archivist.model import Artifact

#: Most preview rows ``log_dataset`` keeps (``preview=``); fewer when they take more than
#: :data:`PREVIEW_BUDGET` bytes of JSON (the metadata limit is 1 MiB).
MAX_PREVIEW_ROWS = 1000
PREVIEW_BUDGET = 512 * 1024
DATASET_FORMATS = ("parquet", "csv")


class Registering(Protocol):
    """What the helpers need of a catalog: :meth:`ArtifactCatalog.register_artifact`, its
    project, materializers and default artifact path, and a way to copy a version out."""

    project: str
    artifact_path: str | None
    materializers: MaterializerRegistry

    def register_artifact(self, name: str, path: str | os.PathLike[str] | None = None,
                          artifact_type: str | None = None,
                          metadata: Mapping[str, Any] | None = None, *, data: Any = None,
                          uri: str | None = None,
                          **fields: Unpack[VersionFields]) -> Artifact: ...

    def export_copy(self, artifact: Artifact, dest: Path) -> Path: ...


@dataclass(frozen=True)
class PlotArtifact:
    """A plot to log with :func:`log_artifact` (MLRun's ``PlotArtifact``): ``body`` is a
    matplotlib figure (or Axes) or PNG bytes, stored as PNG (or as an HTML page holding
    the PNG, MLRun's form, when ``log_artifact``'s ``local_path`` ends in ``.html``), or an
    HTML page (``str``/``bytes``), stored as ``.html``; type ``Plot``. ``title`` goes to
    the metadata."""

    key: str
    body: Any
    title: str | None = None


def log_dataset(catalog: Registering, key: str, df: Any, preview: int = PREVIEW_ROWS,
                stats: bool = True, *, format: str = "parquet", index: bool = True,
                artifact_path: str | os.PathLike[str] | None = None,
                **fields: Unpack[LogFields]) -> Artifact:
    """Store a pandas DataFrame or pyarrow Table (type ``Dataset``) as Parquet or, with
    ``format="csv"``, as CSV, with its ``schema``, ``rows``, ``columns``, a ``preview`` of
    the first ``preview`` rows (0-:data:`MAX_PREVIEW_ROWS`, fewer if they take over
    512 KiB) and, with ``stats=True``, per-column ``stats`` in the metadata.
    ``index=False`` leaves a DataFrame's index out of the stored table.

    Raises:
        InvalidInputError: not a DataFrame/Table, ``preview`` out of range, an unknown
            format, a bad artifact path.
    """
    if not ParquetMaterializer().handles(df):
        raise InvalidInputError(f"log_dataset takes a pandas DataFrame or a pyarrow Table, "
                                f"got {type(df).__name__}")
    if isinstance(preview, bool) or not isinstance(preview, int) or not (
            0 <= preview <= MAX_PREVIEW_ROWS):
        raise InvalidInputError(f"preview must be a number of rows from 0 to {MAX_PREVIEW_ROWS}")
    chosen = (format or "parquet").lower() if isinstance(format, str) else ""
    if chosen not in DATASET_FORMATS:
        raise InvalidInputError(f"format must be one of {', '.join(DATASET_FORMATS)}, "
                                f"got {format!r}")
    if not isinstance(index, bool):
        raise InvalidInputError(f"index must be True or False, got {index!r:.40}")
    table = df if index or not hasattr(df, "reset_index") else df.reset_index(drop=True)
    overrides: dict[str, Any] = {}
    if preview != PREVIEW_ROWS:
        overrides["preview"] = _preview(table, preview)
    if not stats:
        overrides["stats"] = None
    if chosen == "parquet":
        return _log(catalog, key, "Dataset", table, overrides, fields, artifact_path,
                    ".parquet")
    with tempfile.TemporaryDirectory(prefix="archivist-csv-") as scratch:
        written = Path(scratch) / f"{key}.csv"
        _write_csv(table, written, index=index)
        return _log(catalog, key, "Dataset", table, overrides, fields, artifact_path, ".csv",
                    path=written)


def describe_table(df: Any, preview: int = PREVIEW_ROWS) -> dict[str, Any]:
    """``schema``, ``rows``, ``columns``, ``preview`` and ``stats`` of a DataFrame/Table,
    as :func:`log_dataset` records them (``update_dataset_meta(from_df=…)``).

    Raises:
        InvalidInputError: not a DataFrame or Table.
    """
    if not ParquetMaterializer().handles(df):
        raise InvalidInputError(f"expected a pandas DataFrame or a pyarrow Table, got "
                                f"{type(df).__name__}")
    pa = require("pyarrow", "pandas", purpose="describing a DataFrame")
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df)
    return profile(table.schema, table.num_rows, table.to_batches(), preview_rows=preview,
                   preview_bytes=PREVIEW_BUDGET)


def log_model(catalog: Registering, key: str, model: Any,
              metrics: Mapping[str, Any] | None = None, *,
              artifact_path: str | os.PathLike[str] | None = None,
              **fields: Unpack[LogFields]) -> Artifact:
    """Store a model (type ``Model``, through the model materializers: skops/joblib for
    scikit-learn, safetensors for torch, …) with ``metrics`` as metadata keys.

    Raises:
        InvalidInputError: metrics that are not a JSON object of the metadata rules.
    """
    found = _metrics(metrics)
    extra = {**found, "metrics": found} if found else {}
    suffix = f".{catalog.materializers.for_object(model).name}"
    return _log(catalog, key, "Model", model, extra, fields, artifact_path, suffix)


def log_plot(catalog: Registering, key: str, figure: Any, *,
             artifact_path: str | os.PathLike[str] | None = None,
             **fields: Unpack[LogFields]) -> Artifact:
    """Render a matplotlib figure (or the figure of an Axes) to PNG, type ``Plot``.

    Raises:
        InvalidInputError: not a matplotlib figure.
    """
    if not PngMaterializer().handles(figure) and hasattr(figure, "get_figure"):
        figure = figure.get_figure()
    if not PngMaterializer().handles(figure):
        raise InvalidInputError(f"log_plot takes a matplotlib Figure, got "
                                f"{type(figure).__name__}")
    return _log(catalog, key, "Plot", figure, {}, fields, artifact_path, ".png")


def log_metrics(catalog: Registering, key: str, metrics: Mapping[str, Any], *,
                artifact_path: str | os.PathLike[str] | None = None,
                **fields: Unpack[LogFields]) -> Artifact:
    """Store a metrics mapping as JSON (type ``Metrics``) and as the version's metadata.

    Raises:
        InvalidInputError: not a JSON object of the metadata rules.
    """
    found = _metrics(metrics)
    if not found:
        raise InvalidInputError("log_metrics needs a non-empty mapping of metrics")
    return _log(catalog, key, "Metrics", dict(found), found, fields, artifact_path, ".json")


def log_artifact(catalog: Registering, item: str | PlotArtifact, body: Any = None,
                 local_path: str | os.PathLike[str] | None = None, *,
                 artifact_path: str | os.PathLike[str] | None = None,
                 **fields: Unpack[LogFields]) -> Artifact:
    """Log a file (MLRun's ``log_artifact``): ``item`` is the key, or a
    :class:`PlotArtifact`. Give ``body`` (``str``/``bytes``, stored as a file named after
    ``local_path`` or the key) or ``local_path`` (a file or folder, copied in). Type
    ``File`` (``Plot`` for a plot) unless ``artifact_type=`` says otherwise. A plot is
    stored as PNG, or, when ``local_path`` ends in ``.html``, as MLRun stores it: an HTML
    page with the PNG inside.

    Raises:
        InvalidInputError: neither or a wrong kind of ``body``/``local_path``, a missing
            file, a plot body that is neither a figure, PNG bytes nor HTML.
    """
    if isinstance(item, PlotArtifact):
        if body is not None:
            raise InvalidInputError("a PlotArtifact carries its own body; pass no body=")
        return _log_plot_artifact(catalog, item, local_path, artifact_path, fields)
    if body is None and local_path is None:
        raise InvalidInputError("log_artifact needs body= (str or bytes) or local_path= "
                                "(a file or folder)")
    fields.setdefault("artifact_type", "File")
    if body is None:
        source = Path(os.fspath(cast("os.PathLike[str]", local_path)))
        if not source.exists():
            raise InvalidInputError(f"local_path {source} does not exist")
        suffix = "" if source.is_dir() else source.suffix
        return _log(catalog, item, "File", None, {}, fields, artifact_path, suffix,
                    path=source)
    name = Path(os.fspath(local_path)).name if local_path is not None else f"{item}.txt"
    return _log_body(catalog, item, body, name, {}, fields, artifact_path)


_PLOT_PAGE = """<h3 style="text-align:center">{title}</h3>
<img title="{key}" src="data:image/png;base64,{png}">
"""


def _log_plot_artifact(catalog: Registering, plot: PlotArtifact,
                       local_path: str | os.PathLike[str] | None,
                       artifact_path: str | os.PathLike[str] | None,
                       fields: LogFields) -> Artifact:
    fields.setdefault("artifact_type", "Plot")
    extra = {} if plot.title is None else {"title": plot.title}
    wanted = Path(os.fspath(local_path)).name if local_path is not None else ""
    figure = plot.body
    if not PngMaterializer().handles(figure) and hasattr(figure, "get_figure"):
        figure = figure.get_figure()
    if isinstance(figure, str) or (isinstance(figure, bytes)
                                   and not figure.startswith(PNG_SIGNATURE)):
        return _log_body(catalog, plot.key, figure, wanted or f"{plot.key}.html",
                         {**extra, "format": "html"}, fields, artifact_path)
    if isinstance(figure, bytes):
        png = figure
    elif PngMaterializer().handles(figure):
        if not wanted.lower().endswith((".html", ".htm")):
            return _log(catalog, plot.key, "Plot", figure, extra, fields, artifact_path,
                        ".png")
        with tempfile.TemporaryDirectory(prefix="archivist-plot-") as scratch:
            rendered = Path(scratch) / "plot.png"
            PngMaterializer().save(figure, rendered)
            png = rendered.read_bytes()
    else:
        raise InvalidInputError(f"a PlotArtifact body is a matplotlib Figure, PNG bytes or "
                                f"HTML text, got {type(plot.body).__name__}")
    if not wanted.lower().endswith((".html", ".htm")):
        return _log_body(catalog, plot.key, png, wanted or f"{plot.key}.png", extra, fields,
                         artifact_path)
    page = _PLOT_PAGE.format(title=html.escape(plot.title or plot.key),
                             key=html.escape(plot.key),
                             png=base64.b64encode(png).decode("ascii"))
    return _log_body(catalog, plot.key, page, wanted, {**extra, "format": "html"}, fields,
                     artifact_path)


def _log_body(catalog: Registering, key: str, body: Any, filename: str,
              metadata: Mapping[str, Any], fields: LogFields,
              artifact_path: str | os.PathLike[str] | None) -> Artifact:
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise InvalidInputError(f"body must be str or bytes, got {type(body).__name__}")
    if not filename or filename in (".", ".."):
        raise InvalidInputError(f"cannot name a file {filename!r}")
    with tempfile.TemporaryDirectory(prefix="archivist-body-") as scratch:
        written = Path(scratch) / filename
        written.write_bytes(bytes(body))
        return _log(catalog, key, "File", None, metadata, fields, artifact_path,
                    Path(filename).suffix, path=written)


def _log(catalog: Registering, key: str, artifact_type: str, data: Any,
         metadata: Mapping[str, Any], fields: LogFields,
         artifact_path: str | os.PathLike[str] | None = None, suffix: str = "", *,
         path: Path | None = None) -> Artifact:
    key = names.check_name(key, "key")
    asked: dict[str, Any] = dict(fields)
    merged = {**metadata, **names.check_metadata(asked.pop("metadata", None))}
    chosen_type = asked.pop("artifact_type", artifact_type)
    template = artifactpath.chosen(artifact_path, catalog.artifact_path)
    tracker = tracking.current()
    produced_by = None if tracker is None else tracker.provenance(catalog)
    in_run = produced_by is not None
    for field, value in (produced_by or {}).items():
        if field == "parent_ids":
            asked["parent_ids"] = list(dict.fromkeys([*(asked.get("parent_ids") or ()),
                                                      *value]))
        else:
            asked.setdefault(field, value)
    copy_to = None
    if template is not None:
        project = asked.get("project") or catalog.project
        folder = artifactpath.expand(template, project=project,
                                     run_uid=asked.get("source_run_id"))
        copy_to = artifactpath.target(folder, key, suffix)
        merged.setdefault("target_path", str(copy_to))
    with warnings.catch_warnings():
        if in_run:  # a re-run logs the same content again: expected, not news
            warnings.simplefilter("ignore", DuplicateArtifactWarning)
        artifact = catalog.register_artifact(key, path, artifact_type=chosen_type,
                                             data=None if path is not None else data,
                                             metadata=merged,
                                             **cast("VersionFields", asked))
    if copy_to is not None:
        catalog.export_copy(artifact, copy_to)
    if tracker is not None and in_run:
        tracker.logged(catalog, key, data if data is not None else path, artifact)
    return artifact


def _metrics(metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise InvalidInputError(f"metrics must be a mapping, got {type(metrics).__name__}")
    return names.check_metadata(metrics)


def _preview(df: Any, rows: int) -> list[dict[str, Any]]:
    """The first ``rows`` rows as the Parquet materializer records its preview (within
    :data:`PREVIEW_BUDGET` bytes)."""
    pa = require("pyarrow", "pandas", purpose="log_dataset")
    head = df.slice(0, rows) if isinstance(df, pa.Table) else pa.Table.from_pandas(
        df.head(rows))
    return list(profile(head.schema, head.num_rows, head.to_batches(), preview_rows=rows,
                        preview_bytes=PREVIEW_BUDGET)["preview"])


def _write_csv(table: Any, dest: Path, *, index: bool) -> None:
    pa = require("pyarrow", "pandas", purpose="log_dataset(format='csv')")
    if isinstance(table, pa.Table):
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, str(dest))
    else:
        table.to_csv(dest, index=index)
