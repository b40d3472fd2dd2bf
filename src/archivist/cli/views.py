"""Human views of single records and reports: ``show``, history, ``diff``, ``verify``, ``gc``.

The tables of many versions (``ls``, ``search``) are in :mod:`archivist.cli.output`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from archivist.cli import output
from archivist.model import Artifact, GcReport, HistoryEntry, VerifyReport


# -- show --------------------------------------------------------------------------------
def detail(art: Artifact) -> Table:
    """Every field of one version worth reading, as a key/value table."""
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
    if art.metadata:
        rows.append(("metadata", json.dumps(art.metadata, indent=2, ensure_ascii=False)))
    return output.field_table(rows)


def history_table(entries: list[HistoryEntry], refs: Mapping[str, str]) -> Table:
    """Tag, alias and delete changes, oldest first: when, who, version, kind, key, old, new."""
    table = Table(highlight=False, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in ("when", "who", "version", "kind", "key", "old", "new"):
        table.add_column(header, no_wrap=header in ("when", "version"), overflow="fold")
    for entry in entries:
        version = entry.version_id or ""
        old, new = entry.old, entry.new
        if entry.kind == "alias":  # alias values are version ids: show them as refs
            old, new = refs.get(str(old), old), refs.get(str(new), new)
        table.add_row(Text(entry.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")),
                      Text(entry.user or "-"), Text(_version(version, refs)),
                      Text(entry.kind), Text(entry.key), Text(_cell(old)), Text(_cell(new)))
    return table


def _version(version_id: str, refs: Mapping[str, str]) -> str:
    if not version_id:
        return "-"
    return refs.get(version_id) or output.short_id(version_id)


def _cell(value: Any) -> str:
    """A value as JSON; ``-`` for none (a tag that did not exist, an alias not yet set)."""
    return "-" if value is None else output.json_text(value)


# -- diff --------------------------------------------------------------------------------
def print_diff(changes: Mapping[str, Any]) -> None:
    """``diff`` for people: a summary line per field, then a table of the changed keys."""
    console = output.stdout()
    a, b = changes.get("a", {}), changes.get("b", {})
    console.print(Text(f"{a.get('ref', '?')} → {b.get('ref', '?')}"), soft_wrap=True)
    content = "same content" if changes.get("same_content") else "content differs"
    console.print(Text(content), soft_wrap=True)
    for key in ("digest", "size", "artifact_type"):
        pair = changes.get(key) or {}
        if pair.get("changed"):
            console.print(Text(f"{key}: {_cell(pair.get('a'))} → {_cell(pair.get('b'))}"),
                          soft_wrap=True)
    rows = list(_diff_rows(changes))
    if not rows:
        console.print(Text("no metadata, tag, partition or file changes"), soft_wrap=True)
        return
    table = Table(highlight=False, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in ("section", "change", "key", "a", "b"):
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
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
