"""Commands that move versions between catalogs: ``export``, ``import``, ``push``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from archivist.catalog import ArtifactCatalog
from archivist.cli import output
from archivist.cli.options import JsonFlag
from archivist.cli.progress import Callback, transfer_bar
from archivist.cli.session import open_catalog, session_of
from archivist.config import local_home
from archivist.transfer.bundles import ExportReport, export_bundle, import_bundle
from archivist.transfer.copier import CopyReport
from archivist.transfer.numbering import SOURCE_KEY
from archivist.transfer.push import push as push_versions

QueryArg = Annotated[str | None, typer.Argument(
    metavar="QUERY", show_default=False,
    help="Which versions, in the search language (e.g. 'type:Model alias:production'); "
         "default: every live version of the project.",
)]


def export(
    ctx: typer.Context,
    dest: Annotated[Path, typer.Option(
        "--output", "-o", metavar="BUNDLE", show_default=False,
        help="The new bundle: a folder, or a .tar file when the name ends in .tar. "
             "It must not exist (an empty folder is fine).",
    )],
    query: QueryArg = None,
    ref: Annotated[list[str] | None, typer.Option(
        "--ref", metavar="REF", show_default=False,
        help="Export this version (id, NAME, NAME:3, NAME@ALIAS) instead of a query. "
             "Repeatable.",
    )] = None,
    ancestors: Annotated[bool, typer.Option(
        "--with-ancestors", help="Also export every live version the chosen ones derive from.",
    )] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write versions, their runs and their bytes to a bundle another catalog can import.

    The bundle keeps ids, version numbers, digests, metadata, tags, aliases, partitions,
    lineage edges (also to versions left out) and runs. Deleted versions are not exported.
    """
    if ref and query:
        raise typer.BadParameter("give a QUERY or --ref, not both")
    with open_catalog(ctx) as catalog, _bar("exporting") as progress:
        report = export_bundle(catalog, list(ref) if ref else query, dest,
                               ancestors=ancestors, progress=progress)
    if as_json:
        output.print_json(report.to_dict())
        return
    output.success(_exported(report))
    if report.external_parents:
        output.note(f"{len(report.external_parents)} lineage edge(s) lead to versions not in "
                    "the bundle; they are kept on import where the target has the parent "
                    "(--with-ancestors takes the parents along)")


AsNewVersions = Annotated[bool, typer.Option(
    "--as-new-versions",
    help="Where the target gives a version's number to another version, land that "
         "name's versions as new versions after the target's (new ids, lineage kept, "
         "the source ids in metadata.archivist_source; repeating copies nothing).",
)]
RenameOpt = Annotated[list[str] | None, typer.Option(
    "--rename", metavar="OLD=NEW", show_default=False,
    help="Land the versions of OLD under the name NEW (ids and numbers kept; give it "
         "again on every later copy). Repeatable.",
)]


def import_(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(
        metavar="BUNDLE", show_default=False, help="A bundle folder or .tar file.",
    )],
    as_new_versions: AsNewVersions = False,
    rename: RenameOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Import a bundle made by 'archivist export' into this catalog's project.

    Ids and version numbers are kept; versions already here are skipped, so importing
    twice changes nothing. A damaged or hostile bundle is refused and nothing is written.
    Like every command that writes, it creates the catalog when there is none yet.
    """
    with open_catalog(ctx, create=True) as catalog, _bar("importing") as progress:
        report = import_bundle(catalog, bundle, as_new_versions=as_new_versions,
                               rename=_renames(rename), progress=progress)
    _print_copy(report, "imported", as_json)


def push(
    ctx: typer.Context,
    to: Annotated[str, typer.Option(
        "--to", metavar="URL", show_default=False,
        help="The target catalog: a server (https://host:8765), a catalog folder, or a "
             "database URL (with --to-blobs).",
    )],
    query: QueryArg = None,
    source: Annotated[str | None, typer.Option(
        "--from", metavar="DIR|URL", show_default=False,
        help="The catalog to push from: a catalog folder or a server URL (default: the "
             "local catalog, --home or ARCHIVIST_HOME or ./.archivist, even when "
             "ARCHIVIST_CATALOG_ENDPOINT is set).",
    )] = None,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", metavar="KEY", show_default=False, envvar="ARCHIVIST_CATALOG_API_KEY",
        help="API key for a server named by --to or --from (default: "
             "ARCHIVIST_CATALOG_API_KEY).",
    )] = None,
    to_blobs: Annotated[str | None, typer.Option(
        "--to-blobs", metavar="URL", show_default=False,
        help="Blob store of a database target (s3://bucket/prefix, a folder…).",
    )] = None,
    to_project: Annotated[str | None, typer.Option(
        "--to-project", metavar="P", show_default=False,
        help="Project in the target (default: the same as --project).",
    )] = None,
    no_ancestors: Annotated[bool, typer.Option(
        "--no-ancestors", help="Copy only the chosen versions, not the versions they derive "
                               "from (edges to parents the target lacks are dropped).",
    )] = False,
    as_new_versions: AsNewVersions = False,
    rename: RenameOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Copy versions, with their lineage, tags, aliases, runs and bytes, to another catalog.

    The source is the local catalog unless --from names another; pushing a catalog to
    itself is refused. Blobs the target already has are not sent again; ids and version
    numbers are kept; pushing twice copies nothing.
    """
    renames = _renames(rename)
    with (_source(ctx, source, api_key) as catalog,
          _target(ctx, to, api_key, to_blobs, to_project) as team,
          _bar("pushing") as progress):
        report = push_versions(catalog, team, query, ancestors=not no_ancestors,
                               as_new_versions=as_new_versions, rename=renames,
                               progress=progress)
    _print_copy(report, "pushed", as_json)


@contextlib.contextmanager
def _bar(description: str) -> Iterator[Callback]:
    """A ``progress(done, total)`` callback that opens a bar (on a terminal, for big
    transfers) once the library reports the total, and closes it at the end."""
    with contextlib.ExitStack() as stack:
        shown: list[Callback] = []

        def update(done: int, total: int | None) -> None:
            if not shown:
                shown.append(stack.enter_context(transfer_bar(description, total)))
            shown[0](done, total)

        yield update


@contextlib.contextmanager
def _source(ctx: typer.Context, where: str | None,
            api_key: str | None) -> Iterator[ArtifactCatalog]:
    """The catalog a push reads: ``--from``, else the local one — never the server
    ``ARCHIVIST_CATALOG_ENDPOINT`` names (that is where team-mode code writes, and so
    what a push usually targets)."""
    session = session_of(ctx)
    chosen = where or session.home or str(local_home())
    if _is_server(chosen):
        with _opened(chosen, api_key, None, session.project) as catalog:
            yield catalog
    else:
        with open_catalog(ctx, at=chosen) as catalog:
            yield catalog


@contextlib.contextmanager
def _target(ctx: typer.Context, to: str, api_key: str | None, blobs: str | None,
            project: str | None) -> Iterator[ArtifactCatalog]:
    with _opened(to, api_key, blobs, project or session_of(ctx).project) as catalog:
        yield catalog


@contextlib.contextmanager
def _opened(where: str, api_key: str | None, blobs: str | None,
            project: str | None) -> Iterator[ArtifactCatalog]:
    backend: Any = where
    if _is_server(where):
        from archivist.backends.remote.backend import RemoteCatalogBackend

        backend = RemoteCatalogBackend(where, api_key)
    with ArtifactCatalog(backend, project=project, blobs=blobs) as catalog:
        yield catalog


def _is_server(where: str) -> bool:
    return where.lower().startswith(("http://", "https://"))


def _renames(pairs: list[str] | None) -> dict[str, str]:
    renames: dict[str, str] = {}
    for pair in pairs or ():
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise typer.BadParameter(f"expected OLD=NEW, got {pair!r}",
                                     param_hint="'--rename'")
        renames[old.strip()] = new.strip()
    return renames


def _exported(report: ExportReport) -> str:
    return (f"exported {len(report.versions)} version(s), {len(report.runs)} run(s) and "
            f"{report.blobs} blob(s) ({output.human_size(report.bytes)}) to {report.dest}")


def _print_copy(report: CopyReport, verb: str, as_json: bool) -> None:
    if as_json:
        output.print_json(report.to_dict())
    else:
        output.success(
            f"{verb} {len(report.copied)} version(s) ({len(report.skipped)} already there, "
            f"{len(report.updated)} with tags or aliases updated), {len(report.runs_copied)} "
            f"run(s), {report.blobs_copied} blob(s) ({output.human_size(report.bytes_copied)};"
            f" {report.blobs_present} already there)")
    if report.renumbered:
        moved = [f"{r.name}:{r.source_version} -> {r.name}:{r.version}"
                 for r in report.renumbered]
        output.note(f"{len(moved)} version(s) landed as new versions (their source ids are "
                    f"in metadata.{SOURCE_KEY}): {', '.join(moved[:10])}"
                    + (", …" if len(moved) > 10 else ""))
    if report.runs_renumbered:
        output.note(f"{len(report.runs_renumbered)} run(s) landed as their pipeline's next "
                    "run")
    if report.missing_parents:
        output.note(f"{len(report.missing_parents)} lineage edge(s) dropped: their parents "
                    "are in neither the source nor the target")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_)
    app.command("push")(push)
