"""Small charts as SVG geometry the templates draw: a column's histogram, and a metric
across the versions of a name. Numbers in, coordinates out; no drawing library."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archivist.model import Artifact


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Histogram:
    width: int
    height: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    href: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    points: tuple[Point, ...]
    path: str
    low: str
    high: str


def histogram(stats: Mapping[str, Any], width: int = 120, height: int = 28) -> Histogram | None:
    """The bars of a column's recorded histogram (``{"edges", "counts"}``), or ``None``
    when the column has none."""
    shape = stats.get("histogram")
    if not isinstance(shape, Mapping):
        return None
    counts, edges = shape.get("counts"), shape.get("edges")
    if (not isinstance(counts, list) or not isinstance(edges, list) or not counts
            or len(edges) != len(counts) + 1
            or not all(isinstance(c, int | float) for c in counts)):
        return None
    top = max(counts) or 1
    step = width / len(counts)
    bars = []
    for index, count in enumerate(counts):
        tall = height * count / top
        bars.append(Bar(x=index * step + 0.5, y=height - tall, width=max(step - 1, 1),
                        height=tall, label=f"{_num(edges[index])} to {_num(edges[index + 1])}: "
                                           f"{count}"))
    return Histogram(width=width, height=height, bars=tuple(bars))


def metric_series(versions: Sequence[Artifact]) -> dict[str, list[tuple[Artifact, float]]]:
    """Each numeric metric of the versions (``metadata.metrics`` and numeric top-level
    metadata), as ``[(version, value)]`` oldest first."""
    series: dict[str, list[tuple[Artifact, float]]] = {}
    for artifact in sorted(versions, key=lambda a: a.version):
        found: dict[str, float] = {}
        metrics = artifact.metadata.get("metrics")
        for source in (artifact.metadata, metrics if isinstance(metrics, Mapping) else {}):
            for key, value in source.items():
                if (isinstance(value, int | float) and not isinstance(value, bool)
                        and math.isfinite(value)):
                    found[str(key)] = float(value)
        for key in ("rows", "columns", "files"):  # what the catalog records, not metrics
            found.pop(key, None)
        for key, value in found.items():
            series.setdefault(key, []).append((artifact, value))
    return {k: v for k, v in series.items() if len(v) >= 2}


def line_chart(points: Sequence[tuple[Artifact, float]], width: int = 560,
               height: int = 180) -> LineChart:
    """A metric against version numbers, scaled to the box (with a margin)."""
    margin = 28
    values = [v for _, v in points]
    low, high = min(values), max(values)
    spread = (high - low) or 1.0
    count = max(len(points) - 1, 1)
    placed = []
    for index, (artifact, value) in enumerate(points):
        x = margin + (width - 2 * margin) * index / count
        y = height - margin - (height - 2 * margin) * (value - low) / spread
        placed.append(Point(x=round(x, 1), y=round(y, 1),
                            label=f"{artifact.name}:{artifact.version} = {_num(value)}",
                            href=f"/versions/{artifact.id}"))
    path = " ".join(("M" if i == 0 else "L") + f"{p.x},{p.y}" for i, p in enumerate(placed))
    return LineChart(width=width, height=height, points=tuple(placed), path=path,
                     low=_num(low), high=_num(high))


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
