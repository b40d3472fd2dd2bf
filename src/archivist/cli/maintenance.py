"""Commands that look after the store: ``verify`` and ``gc``."""

from __future__ import annotations

from typing import Annotated

import typer

from archivist.cli import output, views
from archivist.cli.options import JsonFlag
from archivist.cli.session import open_catalog


def verify(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Rehash every blob and check every version's bytes exist.

    Exits with status 1 when any live version's bytes are corrupt or missing. Leftovers
    (unreferenced blobs, stale temp files) are listed but are gc's work.
    """
    with open_catalog(ctx) as catalog:
        report = catalog.verify()
    if as_json:
        output.print_json(report.to_dict())
    else:
        views.print_verify(report)
    if not report.ok:
        bad = len(report.corrupt) + len(report.missing) + len(report.suspicious)
        output.error(f"verify found {bad} damaged blob(s): {len(report.corrupt)} corrupt, "
                     f"{len(report.missing)} missing, {len(report.suspicious)} suspicious")
        raise typer.Exit(1)


def gc(
    ctx: typer.Context,
    apply: Annotated[bool, typer.Option(
        "--apply", help="Really free the bytes; without it gc is a dry run that only lists.",
    )] = False,
    grace: Annotated[str, typer.Option(
        "--grace", metavar="DURATION",
        help="Never free a blob younger than this (30s, 15m, 2h, 1d, 1w).",
    )] = "1d",
    as_json: JsonFlag = False,
) -> None:
    """Free the bytes no live version refers to (a dry run unless --apply).

    Blobs younger than the grace period, or held by a registration in flight, are kept.
    """
    with open_catalog(ctx) as catalog:
        report = catalog.gc(dry_run=not apply, grace=grace)
    if as_json:
        output.print_json(report.to_dict())
        if report.dry_run:
            output.note("dry run: nothing was removed; run with --apply to free the bytes")
    else:
        views.print_gc(report)


def register(app: typer.Typer) -> None:
    for command in (verify, gc):
        app.command(command.__name__)(command)
