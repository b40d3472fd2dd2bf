"""``show`` of a dataset: its schema, preview and column statistics as tables.

The Parquet materializer (and ``add`` of a table file) records ``schema``, ``rows``,
``columns``, ``preview`` and ``stats`` in the metadata (see
:mod:`archivist.materializers.column_stats`). :func:`split` takes out the parts that are
shaped as it writes them; :func:`print_dataset` prints them, each table fitted to the
terminal (a preview too wide loses its last columns, with a note naming them). Anything
else, and a key that only shares a name with these (a user's own ``schema`` string), is
left to the compact metadata listing of ``show``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from archivist.cli import output
from archivist.cli.tables import Column, fitted_table

#: Preview rows shown (the metadata holds up to 20).
PREVIEW_SHOWN = 10
#: The widest a preview column gets; longer values end with an ellipsis.
PREVIEW_CAP = 24
#: The time of a date stored as a timestamp, left out of a cell.
MIDNIGHT = re.compile(r"(?<=^\d{4}-\d\d-\d\d)T00:00:00(\.0+)?$")
#: Histogram counts as bars, from none to the fullest bin.
BARS = " ▁▂▃▄▅▆▇█"

SCHEMA_COLUMNS = (Column("column"), Column("type", shrink=12), Column("nullable", drop=2),
                  Column("nulls", drop=1, justify="right"))
#: statistics columns: (header, the stats key it shows, drop order, shrink width)
STAT_FIELDS: tuple[tuple[str, str, int, int | None], ...] = (
    ("count", "count", 9, None), ("nulls", "nulls", 1, None), ("min", "min", 2, 10),
    ("max", "max", 3, 10), ("mean", "mean", 7, None), ("std", "std", 8, None),
    ("distinct", "distinct", 6, None), ("top", "top", 5, 10),
    ("histogram", "histogram", 4, None),
)


def split(metadata: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(dataset parts, the rest)``: the parts shaped as the materializer writes them."""
    parts: dict[str, Any] = {}
    if _records(metadata.get("schema")) and all("name" in f for f in metadata["schema"]):
        parts["schema"] = metadata["schema"]
    if _records(metadata.get("preview")):
        parts["preview"] = metadata["preview"]
    stats = metadata.get("stats")
    if isinstance(stats, Mapping) and stats and all(isinstance(s, Mapping)
                                                    for s in stats.values()):
        parts["stats"] = stats
    if parts:
        for key in ("rows", "columns"):
            if _count(metadata.get(key)):
                parts[key] = metadata[key]
    rest = {k: v for k, v in metadata.items() if k not in parts}
    return parts, rest


def _records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping)
                                                            for v in value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def print_dataset(console: Console, parts: Mapping[str, Any]) -> None:
    """The schema, preview and statistics tables (those present), each under a heading."""
    width = console.width
    stats: Mapping[str, Any] = parts.get("stats") or {}
    if "schema" in parts:
        _heading(console, "schema", _shape(parts))
        rows = [(str(f.get("name")), str(f.get("type", "")), _yes(f.get("nullable")),
                 _number((stats.get(str(f.get("name"))) or {}).get("nulls")))
                for f in parts["schema"]]
        console.print(fitted_table(SCHEMA_COLUMNS, rows, width)[0])
    if "preview" in parts:
        _print_preview(console, parts, width)
    if stats:
        _heading(console, "statistics", "")
        _print_stats(console, stats, width)


def _shape(parts: Mapping[str, Any]) -> str:
    described = len(parts["schema"])
    columns = parts.get("columns", described)
    shape = f"{columns} column{'s' if columns != 1 else ''}"
    if columns > described:
        shape += f", the first {described} described"
    if "rows" in parts:
        shape += f", {parts['rows']} row{'s' if parts['rows'] != 1 else ''}"
    return shape


def _heading(console: Console, title: str, detail: str) -> None:
    console.print()
    line = Text(title, style="bold")
    if detail:
        line.append(f" ({detail})")
    console.print(line, no_wrap=True, overflow="ellipsis")


def _print_preview(console: Console, parts: Mapping[str, Any], width: int) -> None:
    records = parts["preview"][:PREVIEW_SHOWN]
    names = [str(f["name"]) for f in parts.get("schema", ())] or list(
        dict.fromkeys(str(k) for r in records for k in r))
    total = parts.get("rows")
    shown = f"first {len(records)}" + (f" of {total}" if total is not None else "")
    _heading(console, "preview", f"{shown} row{'s' if len(records) != 1 else ''}")
    columns = [Column(name, drop=i, shrink=8 if i else 12, cap=PREVIEW_CAP,
                      justify="right" if _numeric(records, name) else "left")
               for i, name in enumerate(names)]
    rows = [tuple(_value(record.get(name)) for name in names) for record in records]
    table, dropped = fitted_table(columns, rows, width)
    console.print(table)
    if dropped:
        more = f"… {len(dropped)} more column{'s' if len(dropped) != 1 else ''}: " + \
            ", ".join(c.header for c in dropped)
        console.print(Text(more, style="dim"), no_wrap=True, overflow="ellipsis")


def _print_stats(console: Console, stats: Mapping[str, Any], width: int) -> None:
    used = [f for f in STAT_FIELDS if any(f[1] in s for s in stats.values())]
    columns = [Column("column"), *(Column(header, drop=drop, shrink=shrink,
                                          justify="left" if key in ("top", "histogram")
                                          else "right")
                                   for header, key, drop, shrink in used)]
    rows = [(str(name), *(_stat(s, key) for _, key, _, _ in used)) for name, s in stats.items()]
    console.print(fitted_table(columns, rows, width)[0])


def _stat(stats: Mapping[str, Any], key: str) -> str:
    if key not in stats:
        return ""
    value = stats[key]
    if key == "histogram":
        return sparkline(value)
    if key == "top" and value is not None and stats.get("top_count") is not None:
        return f"{_value(value)} ({stats['top_count']})"
    if key == "distinct" and value is None and stats.get("distinct_capped"):
        return "many"
    return _number(value)


def sparkline(histogram: Any) -> str:
    """``{"counts": [0, 3, 9]}`` → ``" ▃█"``: one bar per bin, the fullest bin full."""
    counts = histogram.get("counts") if isinstance(histogram, Mapping) else None
    if not isinstance(counts, list) or not all(_count(c) for c in counts) or not counts:
        return ""
    top = max(counts) or 1
    return "".join(BARS[0] if c <= 0 else BARS[max(1, round(c / top * (len(BARS) - 1)))]
                   for c in counts)


def _number(value: Any) -> str:
    """4 significant digits for floats (a glance; ``--json`` has the exact numbers)."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.4g}"
    return _value(value)


def _value(value: Any) -> str:
    """A preview cell: text as typed, floats to 6 digits, null as ``-``, others as JSON."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return MIDNIGHT.sub("", output.one_line(value))
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return output.json_text(value)


def _numeric(records: Sequence[Mapping[str, Any]], name: str) -> bool:
    values = [r.get(name) for r in records if r.get(name) is not None]
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool)
                                for v in values)


def _yes(value: Any) -> str:
    return "" if value is None else ("yes" if value else "no")
