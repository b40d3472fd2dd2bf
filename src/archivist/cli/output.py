"""Everything the CLI writes: JSON on stdout, Rich tables, and one-line notes and errors.

stdout carries the result (a table, or JSON with ``--json``); stderr carries notes,
errors and progress, so ``archivist ls --json | jq`` never sees anything but JSON.
User text (names, tags, metadata) goes into Rich ``Text`` objects, never into markup, so
a tag value like ``[bold]`` prints as typed.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import warnings
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.filesize import decimal
from rich.table import Table
from rich.text import Text

from archivist.cli.tables import Column, fitted_table
from archivist.model import Artifact

DEBUG_VARIABLE = "ARCHIVIST_DEBUG"
DEBUG_HINT = f"(run with {DEBUG_VARIABLE}=1 for the traceback)"


def stdout() -> Console:
    """A console on the current ``sys.stdout`` (tests swap it, so never cache one)."""
    return Console(file=sys.stdout, highlight=False)


def stderr() -> Console:
    return Console(file=sys.stderr, highlight=False)


# -- JSON --------------------------------------------------------------------------------
def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout (records through their ``to_dict``)."""
    sys.stdout.write(json.dumps(_jsonable(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return _jsonable(value.to_dict())
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def json_text(value: Any) -> str:
    """Compact JSON for a table cell (``"production"``, ``0.91``, ``{"a": 1}``)."""
    return json.dumps(_jsonable(value), ensure_ascii=False)


# -- stderr lines ------------------------------------------------------------------------
def one_line(text: str) -> str:
    """Collapse a message to one line (messages may quote user text with newlines)."""
    return " ".join(str(text).split())


def error(message: str) -> None:
    """``error: …`` on stderr, as one line."""
    line = Text.assemble(("error:", "bold red"), " ", one_line(message))
    stderr().print(line, soft_wrap=True)


def note(message: str, label: str = "note") -> None:
    """``note: …`` on stderr, in yellow."""
    line = Text.assemble((f"{label}:", "bold yellow"), " ", (one_line(message), "yellow"))
    stderr().print(line, soft_wrap=True)


def success(message: str) -> None:
    """A human confirmation on stdout (``registered fraud:3 …``)."""
    stdout().print(Text(message), soft_wrap=True)


def show_warnings(caught: Iterable[warnings.WarningMessage]) -> None:
    """Print warnings the library emitted as ``note:`` (duplicates) or ``warning:`` lines."""
    from archivist.errors import DuplicateArtifactWarning

    for item in caught:
        if issubclass(item.category, DuplicateArtifactWarning):
            note(str(item.message))
        else:
            note(f"{item.category.__name__}: {item.message}", label="warning")


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def print_traceback() -> None:
    traceback.print_exc(file=sys.stderr)


# -- cells -------------------------------------------------------------------------------
def short_id(version_id: str) -> str:
    """The random tail of a UUIDv7: its head is a timestamp shared by neighbouring ids."""
    return "…" + version_id[-8:]


def human_size(size: int | None) -> str:
    return "-" if size is None else decimal(size)


def when(moment: datetime) -> str:
    """Local time to the minute, as a table cell."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def pairs(mapping: Mapping[str, Any], *, quote: bool = True, sep: str = ", ") -> str:
    """``k=v`` pairs (values as JSON when ``quote``; strings bare for readability)."""
    out = []
    for key, value in mapping.items():
        shown = value if isinstance(value, str) or not quote else json_text(value)
        out.append(f"{key}={shown}")
    return sep.join(out)


# -- tables ------------------------------------------------------------------------------
#: ``ls``/``search`` columns in display order; ``drop`` says which go first at 80 columns
ARTIFACT_COLUMNS: tuple[Column, ...] = (
    Column("id", drop=7), Column("name"), Column("version", justify="right"),
    Column("type", drop=3), Column("size", drop=5, justify="right"),
    Column("aliases", drop=1, shrink=12), Column("tags", drop=4, shrink=12),
    Column("created", drop=6), Column("description", drop=8, shrink=16, hide_empty=True),
)


def artifact_table(artifacts: Iterable[Artifact], width: int) -> Table:
    """One row per version: id (short), name, version, type, size, aliases (``@prod``),
    tags, created, description; at most ``width`` cells wide (see :mod:`.tables`)."""
    rows = [(short_id(art.id), art.name, str(art.version), art.artifact_type,
             human_size(art.size), " ".join(f"@{a}" for a in art.aliases), pairs(art.tags),
             when(art.created_at), one_line(art.description or ""))
            for art in artifacts]
    table, _ = fitted_table(ARTIFACT_COLUMNS, rows, width)
    return table


def print_artifacts(artifacts: list[Artifact], *, as_json: bool, empty: str) -> None:
    """``ls``/``search`` output: a JSON list, or a table (or ``empty`` when none match)."""
    if as_json:
        print_json([a.to_dict() for a in artifacts])
    elif not artifacts:
        stdout().print(Text(empty), soft_wrap=True)
    else:
        console = stdout()
        console.print(artifact_table(artifacts, console.width))


def field_table(rows: Iterable[tuple[str, str]]) -> Table:
    """A two-column key/value table without borders (``show``, reports)."""
    table = Table(show_header=False, box=None, highlight=False, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in rows:
        table.add_row(Text(key), Text(value))
    return table
