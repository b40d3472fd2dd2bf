"""Human views of single records and reports: ``show``, history, ``diff``, ``verify``, ``gc``.

The tables of many versions (``ls``, ``search``) are in :mod:`archivist.cli.output`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

from archivist.cli import output
from archivist.cli.tables import Column, fitted_table
from archivist.model import Artifact, GcReport, HistoryEntry, VerifyReport


# -- show --------------------------------------------------------------------------------
def detail(art: Artifact, metadata: Mapping[str, Any] | None = None) -> Table:
    """Every field of one version worth reading, as a key/value table; ``metadata``
    (default: all of it) one ``key=value`` line per entry."""
    rows = [
        ("ref", art.ref),
        ("id", art.id),
        ("uri", art.uri),
        ("type", art.artifact_type),
        ("project", art.project),
        ("created", art.created_at.isoformat()),
        ("kind", art.kind),
        ("size", output.human_size(art.size)),
        ("digest", art.digest or "-"),
    ]
    optional = [
        ("deleted", "yes" if art.deleted else ""),
        ("reference", art.reference_uri or ""),
        ("format", art.format or ""),
        ("description", art.description or ""),
        ("user", art.user or ""),
        ("pipeline", art.source_pipeline or ""),
        ("run", art.source_run_id or ""),
        ("step", art.source_step or ""),
        ("code version", art.code_version or ""),
        ("aliases", ", ".join(art.aliases)),
        ("tags", output.pairs(art.tags)),
        ("partitions", output.pairs(art.partitions, quote=False)),
        ("parents", ", ".join(art.parent_ids)),
    ]
    rows += [(key, value) for key, value in optional if value]
    listed = art.metadata if metadata is None else metadata
    if listed:
        rows.append(("metadata", output.pairs(listed, sep="\n")))
    return output.field_table(rows)


#: ``show --history`` columns; tag values may be cut
HISTORY_COLUMNS = (
    Column("when"), Column("who", drop=2, shrink=8), Column("version", justify="right"),
    Column("kind", drop=1), Column("key", shrink=12), Column("old", shrink=8),
    Column("new", shrink=8),
)


def history_table(entries: list[HistoryEntry], refs: Mapping[str, str], width: int) -> Table:
    """Tag, alias, description, rename and delete changes, oldest first: when, who,
    version, kind, key, old, new.

    Every entry is of one artifact, so versions (also the old and new targets of an
    alias) are shown by number: whole at any width, where a ref would be cut.
    """
    rows = []
    for entry in entries:
        old, new = _cell(entry.old), _cell(entry.new)
        if entry.kind == "alias":  # alias values are version ids: show their numbers
            old = _version(entry.old, refs) if entry.old else old
            new = _version(entry.new, refs) if entry.new else new
        rows.append((entry.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"), entry.user or "-",
                     _version(entry.version_id or "", refs), entry.kind, entry.key, old, new))
    table, _ = fitted_table(HISTORY_COLUMNS, rows, width)
    return table


def _version(version_id: Any, refs: Mapping[str, str]) -> str:
    """The version number (every entry is of one artifact), else the short id."""
    if not version_id:
        return "-"
    ref = refs.get(str(version_id))
    return ref.rpartition(":")[2] if ref else output.short_id(str(version_id))


def _cell(value: Any) -> str:
    """A value as JSON; ``-`` for none (a tag that did not exist, an alias not yet set)."""
    return "-" if value is None else output.json_text(value)


# -- diff --------------------------------------------------------------------------------
DIFF_COLUMNS = (
    Column("section", drop=2), Column("change", drop=1), Column("key", shrink=16),
    Column("a", shrink=10), Column("b", shrink=10),
)


def print_diff(changes: Mapping[str, Any]) -> None:
    """``diff`` for people: a summary line per field (wrapped between values, never inside
    a ref or digest), then a table of the changed keys."""
    console = output.stdout()
    a, b = changes.get("a", {}), changes.get("b", {})
    console.print(Text(f"{a.get('ref', '?')} → {b.get('ref', '?')}"))
    content = "same content" if changes.get("same_content") else "content differs"
    console.print(Text(content), soft_wrap=True)
    for key in ("digest", "size", "artifact_type"):
        pair = changes.get(key) or {}
        if pair.get("changed"):
            console.print(Text(f"{key}: {_cell(pair.get('a'))} → {_cell(pair.get('b'))}"))
    rows = list(_diff_rows(changes))
    if not rows:
        console.print(Text("no metadata, tag, partition or file changes"), soft_wrap=True)
        return
    table, _ = fitted_table(DIFF_COLUMNS, rows, console.width)
    console.print(table)


def _diff_rows(changes: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str, str]]:
    for section in ("metadata", "tags", "partitions", "files"):
        if isinstance(changes.get(section), Mapping):
            yield from _mapping_rows(section, changes[section])
    dataset = changes.get("dataset")
    if isinstance(dataset, Mapping):
        rows = dataset.get("rows") or {}
        if rows.get("changed"):
            yield ("dataset", "changed", "rows", _cell(rows.get("a")), _cell(rows.get("b")))
        if isinstance(dataset.get("schema"), Mapping):
            yield from _mapping_rows("schema", dataset["schema"])
        for column, stats in (dataset.get("stats") or {}).items():
            for stat, pair in stats.items():
                yield ("stats", "changed", f"{column}.{stat}", _cell(pair.get("a")),
                       _cell(pair.get("b")))


def _mapping_rows(section: str, diff: Mapping[str, Any]) -> Iterator[tuple[str, str, str,
                                                                           str, str]]:
    """Rows of a ``{added, removed, changed}`` diff; each part a mapping or a list."""
    for change in ("added", "removed", "changed"):
        part = diff.get(change)
        if isinstance(part, Mapping):
            for key, value in part.items():
                if change == "changed" and isinstance(value, Mapping) and "a" in value:
                    yield section, change, str(key), _cell(value["a"]), _cell(value.get("b"))
                elif change == "removed":
                    yield section, change, str(key), _cell(value), ""
                else:
                    yield section, change, str(key), "", _cell(value)
        elif isinstance(part, list | tuple):
            for key in part:
                yield section, change, str(key), "", ""


# -- verify and gc -----------------------------------------------------------------------
def print_verify(report: VerifyReport) -> None:
    console = output.stdout()
    status = "ok" if report.ok else "PROBLEMS FOUND"
    console.print(Text(f"verify: {status} ({report.checked} blobs checked)"), soft_wrap=True)
    rows = [
        ("corrupt", report.corrupt, "bytes do not match their digest"),
        ("missing", report.missing, "referenced but absent from the store"),
        ("suspicious", report.suspicious, "not a regular file (e.g. a symlink)"),
        ("changed references", report.changed_references,
         "external references whose size or ETag changed"),
        ("unchecked references", report.unchecked_references,
         "external references the server does not read; check them from a client"),
        ("unreferenced", report.unreferenced, "no version refers to them; gc's work"),
        ("stale temp files", report.stale_temp, "left by interrupted writes; gc's work"),
    ]
    for label, items, meaning in rows:
        if items:
            console.print(Text(f"{label} ({len(items)}): {meaning}"), soft_wrap=True)
            for item in items:
                console.print(Text(f"  {item}"), soft_wrap=True)


def print_gc(report: GcReport) -> None:
    console = output.stdout()
    size = output.human_size(report.freed_bytes)
    if report.dry_run:
        console.print(Text(f"dry run: would free {len(report.freed)} blob(s), {size}; "
                           "nothing was removed (run with --apply to free them)"),
                      soft_wrap=True)
    else:
        console.print(Text(f"freed {len(report.freed)} blob(s), {size}"), soft_wrap=True)
    for digest in report.freed:
        console.print(Text(f"  {digest}"), soft_wrap=True)
    reasons: dict[str, int] = {}
    for reason in report.kept.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items()):
        console.print(Text(f"kept {count} blob(s): {reason}"), soft_wrap=True)
    if report.temp_removed:
        verb = "would remove" if report.dry_run else "removed"
        console.print(Text(f"{verb} {len(report.temp_removed)} stale temp file(s)"),
                      soft_wrap=True)
