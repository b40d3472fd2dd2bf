"""``archivist runs ls`` and ``archivist runs show``: the recorded runs of pipelines."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from archivist.cli import output
from archivist.cli.options import JsonFlag
from archivist.cli.session import open_catalog
from archivist.cli.tables import Column, fitted_table
from archivist.model import Artifact, RunRecord, TaskRecord

runs_app = typer.Typer(name="runs", no_args_is_help=True,
                       help="Recorded runs of pipelines and flows.")


@runs_app.command("ls")
def ls(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Option(
        "--pipeline", metavar="P", show_default=False, help="Only runs of this pipeline.",
    )] = None,
    status: Annotated[str | None, typer.Option(
        "--status", metavar="S", show_default=False,
        help="Only runs in this status: running, succeeded or failed.",
    )] = None,
    limit: Annotated[int, typer.Option(
        "--limit", metavar="N", help="Show at most N runs (1-10000).",
    )] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List runs, newest first."""
    with open_catalog(ctx) as catalog:
        found = catalog.runs(pipeline=pipeline, status=status, limit=limit)
    if as_json:
        output.print_json([r.to_dict() for r in found])
    elif not found:
        output.stdout().print(Text("no runs match"), soft_wrap=True)
    else:
        console = output.stdout()
        console.print(_run_table(found, console.width))


@runs_app.command("show")
def show(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(
        metavar="RUN", help="A run id or pathspec such as fraud_detection/3.",
    )],
    as_json: JsonFlag = False,
) -> None:
    """Show one run: its status, provenance, parameters, tasks and versions."""
    with open_catalog(ctx) as catalog:
        record = catalog.get_run(run)
        versions = {a.id: a for a in catalog.backend.get_versions_by_id(
            list(dict.fromkeys([*record.consumed, *record.produced])))}
    if as_json:
        output.print_json(record.to_dict())
        return
    console = output.stdout()
    console.print(output.field_table([
        ("run", record.pathspec), ("id", record.id), ("kind", record.kind),
        ("status", record.status), ("started", output.when(record.started_at)),
        ("ended", output.when(record.ended_at) if record.ended_at else "-"),
        ("duration", _duration(record.started_at, record.ended_at)),
        ("user", record.user or "-"), ("host", record.host or "-"),
        ("code", _code(record)), ("parameters", output.pairs(record.parameters) or "-"),
        *([("error", record.error)] if record.error else []),
    ]))
    if record.tasks:
        console.print(_task_table(record.tasks, versions, console.width))

    def names(ids: list[str]) -> str:
        return ", ".join(versions[i].ref if i in versions else i for i in ids) or "-"

    console.print(output.field_table([("consumed", names(record.consumed)),
                                      ("produced", names(record.produced))]))


#: ``runs ls`` columns; the run's pathspec never wraps, the id and user go first
RUN_COLUMNS = (
    Column("run"), Column("id", drop=6), Column("status"), Column("started", drop=1),
    Column("duration", drop=2, justify="right"), Column("tasks", drop=3, justify="right"),
    Column("produced", drop=4, justify="right"), Column("user", drop=5, shrink=8),
)
#: ``runs show`` tasks: one output ref per line (whole, or the column goes), the error cut
TASK_COLUMNS = (
    Column("step"), Column("index", drop=3, justify="right"), Column("status"),
    Column("cached", drop=2), Column("duration", drop=1, justify="right"),
    Column("outputs", drop=4), Column("error", drop=5, shrink=12),
)


def _run_table(found: list[RunRecord], width: int) -> Table:
    rows = [(r.pathspec, output.short_id(r.id), r.status, output.when(r.started_at),
             _duration(r.started_at, r.ended_at), str(len(r.tasks)), str(len(r.produced)),
             r.user or "-") for r in found]
    table, _ = fitted_table(RUN_COLUMNS, rows, width)
    return table


def _task_table(tasks: list[TaskRecord], versions: dict[str, Artifact], width: int) -> Table:
    rows = []
    for t in tasks:
        outputs = "\n".join(f"{k}={versions[v].ref if v in versions else output.short_id(v)}"
                             for k, v in t.data.items())
        rows.append((t.step, str(t.index), t.status, "yes" if t.cached else "",
                     _duration(t.started_at, t.ended_at), outputs or "-",
                     output.one_line(t.error) if t.error else ""))
    table, _ = fitted_table(TASK_COLUMNS, rows, width)
    return table


def _code(record: RunRecord) -> str:
    if record.code_version:
        return record.code_version[:12] + (" (dirty)" if record.code_dirty else "")
    return record.source_hash[:19] + "…" if record.source_hash else "-"


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    seconds = (end - start).total_seconds()
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app)
