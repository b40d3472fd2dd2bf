"""What differs between versions, laid out for the compare page: rows of cells, one cell
per version, each cell marked when the versions disagree.

Pure functions of :class:`~archivist.model.Artifact` records (no HTTP, no store), so
the page's logic is tested without a server. Values are compared as JSON values (numbers
as numbers: ``1`` and ``1.0`` are the same; a missing key differs from ``null``) and shown
as text, which the templates escape like any other value.

It is one module of over 400 lines on purpose: each section (summary, metadata, schema,
statistics, metrics) is a few dozen lines built on the same cells, rows and value
comparison, and reading the page's rules in one place beats five short files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archivist.model import Artifact
from archivist.server.ui.render import human_size, scalar, short, when

#: dataset metadata too big for a row each: compared in the dataset sections instead
DATASET_KEYS = frozenset({"preview", "stats", "schema"})
#: metadata keys a dataset materializer writes besides DATASET_KEYS (not metrics)
DATASET_COUNTS = frozenset({"rows", "columns"})
#: per-column statistics compared (see materializers/column_stats.py)
STATS = ("count", "nulls", "mean", "std", "min", "max", "distinct")
#: a metric whose name holds one of these is better when lower
LOWER_IS_BETTER = ("loss", "error", "rmse", "mae", "mse")
#: a change of at least this many percent is a big one
BIG_CHANGE = 10.0
ABSENT = "—"
#: the group of a dataset's ``rows`` and ``columns`` in the statistics table
TABLE = "(whole table)"
MAX_TEXT = 300


class _Missing:
    """The value of a key a version does not have (unlike JSON ``null``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Cell:
    """One version's value in a row.

    ``diff``: the value differs (from the other versions, or in change tables from the
    first version); ``change``: the difference to the first version (``+3 (+2.1%)``);
    ``big``: a change of :data:`BIG_CHANGE` percent or more; ``trend``: ``better`` or
    ``worse`` than the first version, for metrics; ``best``: the best value of a metric
    row; ``absent``: the version has no such key.
    """

    text: str
    diff: bool = False
    href: str | None = None
    change: str = ""
    big: bool = False
    trend: str = ""
    best: bool = False
    absent: bool = False

    @property
    def classes(self) -> str:
        names = (("diff", self.diff), ("big", self.big), ("best", self.best),
                 ("absent", self.absent))
        return " ".join(name for name, on in names if on)


@dataclass(frozen=True)
class Row:
    """A compared key: its label, one cell per version, and whether they differ.
    ``group`` gathers rows under a heading (a dataset column, for statistics)."""

    label: str
    cells: tuple[Cell, ...]
    differs: bool
    group: str = ""
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """Everything the compare page shows; empty sections are left out by the page."""

    versions: tuple[Artifact, ...]
    summary: list[Row]
    metadata: list[Row]
    tags: list[Row]
    schema: list[Row]
    stats: list[Row]
    metrics: list[Row]

    @property
    def differences(self) -> int:
        """How many compared rows differ (the summary's always-different ids aside)."""
        rows = [*self.metadata, *self.tags, *self.schema, *self.stats, *self.metrics]
        return sum(row.differs for row in rows)


def compare(versions: Sequence[Artifact]) -> Comparison:
    """Compare ``versions`` (the first is the baseline of change columns)."""
    return Comparison(
        versions=tuple(versions),
        summary=summary_rows(versions),
        metadata=metadata_rows(versions),
        tags=mapping_rows([a.tags for a in versions]),
        schema=schema_rows(versions),
        stats=stat_rows(versions),
        metrics=metric_rows(versions) if has_metrics(versions) else [],
    )


# -- values ----------------------------------------------------------------------------
def canonical(value: Any) -> str:
    """A comparable form of a JSON value: equal values, equal forms (numbers compare as
    numbers: ``1`` and ``1.0`` are the same, ``true`` and ``1`` are not)."""
    if value is MISSING:
        return "\0missing"
    return json.dumps(_integral(value), sort_keys=True, ensure_ascii=False, default=str)


def _integral(value: Any) -> Any:
    """``value`` with every integral float as an int, at any depth."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_integral(v) for v in value]
    return value


def differs(values: Iterable[Any]) -> bool:
    """Whether ``values`` (JSON values or :data:`MISSING`) are not all the same."""
    return len({canonical(v) for v in values}) > 1


def text(value: Any) -> str:
    """A value as a cell shows it: scalars bare, lists and objects as compact JSON."""
    if value is MISSING:
        return ABSENT
    shown = (scalar(value) if not isinstance(value, list | dict)
             else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))
    return shown if len(shown) <= MAX_TEXT else shown[:MAX_TEXT] + "…"


def is_number(value: Any) -> bool:
    """An int or a finite float (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def flatten(mapping: Mapping[str, Any], skip: Iterable[str] = (),
            prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted keys (``{"a": {"b": 1}}`` → ``{"a.b": 1}``); lists and
    empty objects stay values. Top-level keys in ``skip`` are left out."""
    out: dict[str, Any] = {}
    left_out = set(skip)
    for key, value in mapping.items():
        if not prefix and key in left_out:
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, prefix=dotted + "."))
        else:
            out[dotted] = value
    return out


def _union(mappings: Iterable[Mapping[str, Any]]) -> list[str]:
    """The keys of ``mappings``, in the order first seen."""
    return list(dict.fromkeys(key for m in mappings for key in m))


def _plain_row(label: str, values: Sequence[Any], shown: Sequence[str] | None = None,
               hrefs: Sequence[str | None] | None = None, group: str = "") -> Row:
    """A row whose cells are all marked when the values differ."""
    changed = differs(values)
    texts = shown if shown is not None else [text(v) for v in values]
    links = hrefs if hrefs is not None else [None] * len(values)
    cells = tuple(Cell(t, diff=changed, href=link, absent=v is MISSING)
                  for v, t, link in zip(values, texts, links, strict=True))
    return Row(label, cells, changed, group)


def mapping_rows(mappings: Sequence[Mapping[str, Any]]) -> list[Row]:
    """One row per key of any of ``mappings`` (sorted), :data:`ABSENT` where missing."""
    keys = sorted(_union(mappings))
    return [_plain_row(key, [m.get(key, MISSING) for m in mappings]) for key in keys]


# -- summary and metadata --------------------------------------------------------------
def producer(artifact: Artifact) -> str:
    """``pipeline/step``, or the run id, of the run that made ``artifact``."""
    parts = [p for p in (artifact.source_pipeline, artifact.source_step) if p]
    if parts:
        return "/".join(parts)
    return short(artifact.source_run_id, 13) if artifact.source_run_id else ABSENT


def summary_rows(versions: Sequence[Artifact]) -> list[Row]:
    """What each version is: name and number, type, when, who, size, content, producer."""
    rows = [
        _plain_row("version", [a.ref for a in versions], [a.ref for a in versions],
                   [f"/versions/{a.id}" for a in versions]),
        _plain_row("type", [a.artifact_type for a in versions]),
        _plain_row("created", [a.created_at.timestamp() for a in versions],
                   [when(a.created_at) for a in versions]),
        _plain_row("user", [a.user for a in versions], [a.user or ABSENT for a in versions]),
        _plain_row("size", [a.size for a in versions], [human_size(a.size) for a in versions]),
        _plain_row("content", [[a.kind, a.format] for a in versions],
                   [" · ".join(p for p in (a.kind, a.format) if p) for a in versions]),
        _plain_row("digest", [a.digest for a in versions],
                   [short(a.digest) for a in versions]),
        _plain_row("aliases", [sorted(a.aliases) for a in versions],
                   [" ".join(f"@{x}" for x in sorted(a.aliases)) or ABSENT for a in versions]),
        _plain_row("producer", [[a.source_pipeline, a.source_run_id, a.source_step]
                                for a in versions],
                   [producer(a) for a in versions],
                   [f"/runs/{a.source_run_id}" if a.source_run_id else None
                    for a in versions]),
        _plain_row("code version", [a.code_version for a in versions],
                   [short(a.code_version, 40) for a in versions]),
    ]
    if any(a.description for a in versions):
        rows.append(_plain_row("description", [a.description for a in versions],
                               [_shown(a.description) for a in versions]))
    if any(a.partitions for a in versions):
        rows.append(_plain_row("partitions", [a.partitions for a in versions],
                               [", ".join(f"{k}={v}" for k, v in sorted(a.partitions.items()))
                                or ABSENT for a in versions]))
    if any(a.deleted for a in versions):
        rows.append(_plain_row("state", [a.deleted for a in versions],
                               ["deleted" if a.deleted else "live" for a in versions]))
    return rows


def _shown(value: str | None) -> str:
    return ABSENT if not value else text(value)


def metadata_rows(versions: Sequence[Artifact]) -> list[Row]:
    """One row per dotted metadata key; left out: the dataset sections' keys and, when
    the metric table is shown, the keys it shows for every version that has them."""
    flat = [flatten(a.metadata, DATASET_KEYS) for a in versions]
    if has_metrics(versions):
        shown = [metric_keys(a) for a in versions]
        kept = {key for f, keys in zip(flat, shown, strict=True) for key in f
                if key not in keys}
        flat = [{k: v for k, v in f.items() if k in kept} for f in flat]
    return mapping_rows(flat)


# -- datasets --------------------------------------------------------------------------
def columns_of(artifact: Artifact) -> dict[str, Mapping[str, Any]]:
    """The ``schema`` of a dataset version: column name → ``{type, nullable}``."""
    schema = artifact.metadata.get("schema")
    if not isinstance(schema, list):
        return {}
    return {str(c["name"]): c for c in schema if isinstance(c, Mapping) and "name" in c}


def is_dataset(versions: Sequence[Artifact]) -> bool:
    return any(isinstance(a.metadata.get("schema"), list) for a in versions)


def _column_type(column: Mapping[str, Any] | None) -> Any:
    if column is None:
        return MISSING
    return [column.get("type"), bool(column.get("nullable", True))]


def schema_rows(versions: Sequence[Artifact]) -> list[Row]:
    """One row per column of any version: its type per version, :data:`ABSENT` where
    the version lacks it; the note says ``added``, ``removed``, ``type changed`` or
    ``present in some`` (relative to the first version)."""
    if not is_dataset(versions):
        return []
    schemas = [columns_of(a) for a in versions]
    rows = []
    for name in _union(schemas):
        columns = [s.get(name) for s in schemas]
        values = [_column_type(c) for c in columns]
        shown = [ABSENT if c is None else
                 f"{c.get('type')}{'' if c.get('nullable', True) else ' not null'}"
                 for c in columns]
        row = _plain_row(name, values, shown)
        rows.append(Row(row.label, row.cells, row.differs, note=_schema_note(columns)))
    return rows


def _schema_note(columns: Sequence[Mapping[str, Any] | None]) -> str:
    first, rest = columns[0], columns[1:]
    if first is None:
        return "added"
    if all(c is None for c in rest):
        return "removed"
    if any(c is None for c in rest):
        return "present in some"
    if differs([_column_type(c) for c in columns]):
        return "type changed"
    return ""


def change(base: Any, value: Any) -> tuple[str, bool]:
    """The change from ``base`` to ``value`` as text (``+3 (+2.1%)``; the absolute delta
    alone when ``base`` is 0) and whether it is big; ``""`` when either is not a number
    or nothing changed."""
    if not (is_number(base) and is_number(value)) or value == base:
        return "", False
    delta = value - base
    if isinstance(delta, int):
        shown = f"{delta:+d}"
    elif 1000 <= abs(delta) < 1e15:
        shown = f"{delta:+.0f}"
    else:
        shown = f"{delta:+.4g}"
    if base == 0:
        return shown, True
    percent = delta / abs(base) * 100
    return f"{shown} ({percent:+.1f}%)", abs(percent) >= BIG_CHANGE


def change_row(label: str, values: Sequence[Any], group: str = "") -> Row:
    """A row of values against the first one: a cell differs when its value is not the
    first version's, and carries the numeric change."""
    base = canonical(values[0])
    cells = [Cell(text(values[0]), absent=values[0] is MISSING)]
    for value in values[1:]:
        delta, big = change(values[0], value)
        cells.append(Cell(text(value), diff=canonical(value) != base, change=delta, big=big,
                          absent=value is MISSING))
    return Row(label, tuple(cells), differs(values), group)


def stat_rows(versions: Sequence[Artifact]) -> list[Row]:
    """The table's ``rows`` and ``columns`` (group :data:`TABLE`), then per column
    (group) one row per statistic of :data:`STATS` any version has, with the change from
    the first version."""
    if not is_dataset(versions):
        return []
    rows = [change_row(key, [a.metadata.get(key, MISSING) for a in versions], TABLE)
            for key in ("rows", "columns")
            if any(key in a.metadata for a in versions)]
    stats = [_object(a.metadata.get("stats")) for a in versions]
    names = _union([*[columns_of(a) for a in versions], *stats])
    for name in names:
        per_version = [_object(s.get(name)) for s in stats]
        for stat in STATS:
            if any(stat in p for p in per_version):
                rows.append(change_row(stat, [p.get(stat, MISSING) for p in per_version],
                                       name))
    return rows


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# -- models ----------------------------------------------------------------------------
def has_metrics(versions: Sequence[Artifact]) -> bool:
    """A metric table is shown for models, metrics, and anything with a ``metrics``
    object in its metadata."""
    return any(a.artifact_type in ("Model", "Metrics")
               or isinstance(a.metadata.get("metrics"), Mapping) for a in versions)


def metrics_of(artifact: Artifact) -> dict[str, Any]:
    """The numeric metrics of a version: top-level numeric metadata keys (but a
    dataset's ``rows``/``columns``) and the numbers in ``metadata["metrics"]`` (dotted
    when nested; these win over a top-level key of the same name)."""
    found = dict(_top_metrics(artifact))
    found.update(_nested_metrics(artifact))
    return found


def metric_keys(artifact: Artifact) -> set[str]:
    """The dotted metadata keys :func:`metrics_of` takes its numbers from."""
    return {*_top_metrics(artifact), *(f"metrics.{k}" for k in _nested_metrics(artifact))}


def _top_metrics(artifact: Artifact) -> dict[str, Any]:
    skip = DATASET_COUNTS if "schema" in artifact.metadata else frozenset()
    return {k: v for k, v in artifact.metadata.items()
            if k not in skip and k not in DATASET_KEYS and is_number(v)}


def _nested_metrics(artifact: Artifact) -> dict[str, Any]:
    nested = artifact.metadata.get("metrics")
    if not isinstance(nested, Mapping):
        return {}
    return {k: v for k, v in flatten(nested).items() if is_number(v)}


def lower_is_better(metric: str) -> bool:
    lowered = metric.lower()
    return any(word in lowered for word in LOWER_IS_BETTER)


def best_of(metric: str, values: Sequence[Any]) -> set[int]:
    """The positions of the best numeric value of ``values`` (ties all best); none when
    fewer than two versions have a number or all numbers are equal."""
    numbers = {i: v for i, v in enumerate(values) if is_number(v)}
    if len(numbers) < 2 or len(set(numbers.values())) == 1:
        return set()
    best = (min if lower_is_better(metric) else max)(numbers.values())
    return {i for i, v in numbers.items() if v == best}


def trend(metric: str, base: Any, value: Any) -> str:
    """``better`` or ``worse`` when ``value`` improves on ``base`` or not; ``""`` when
    equal or not both numbers."""
    if not (is_number(base) and is_number(value)) or value == base:
        return ""
    return "better" if (value < base) == lower_is_better(metric) else "worse"


def metric_rows(versions: Sequence[Artifact]) -> list[Row]:
    """One row per metric of any version (sorted), the change from the first version and
    the best value marked; the note says which way is better."""
    found = [metrics_of(a) for a in versions]
    rows = []
    for name in sorted(_union(found)):
        values = [m.get(name, MISSING) for m in found]
        best = best_of(name, values)
        row = change_row(name, values)
        cells = tuple(Cell(c.text, diff=row.differs, change=c.change, big=c.big,
                           trend=trend(name, values[0], values[i]) if i else "",
                           best=i in best, absent=c.absent)
                      for i, c in enumerate(row.cells))
        rows.append(Row(name, cells, row.differs,
                        note="lower is better" if lower_is_better(name) else "higher is better"))
    return rows
