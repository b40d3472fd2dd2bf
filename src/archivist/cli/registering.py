"""``archivist init`` and ``archivist add``: creating the catalog and new versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archivist.cli import output
from archivist.cli.options import JsonFlag, TagOpt, parse_pairs
from archivist.cli.progress import hashing_spinner
from archivist.cli.session import CATALOG_FILE, open_catalog, session_of
from archivist.model import Artifact


def init(ctx: typer.Context) -> None:
    """Create the local catalog and print where it is.

    The catalog lives in --home, else $ARCHIVIST_HOME, else ./.archivist. Running init
    again on an existing catalog changes nothing.
    """
    home = session_of(ctx).local_home()
    existed = home is not None and (home / CATALOG_FILE).is_file()
    with open_catalog(ctx, create=True) as catalog:
        where = str(catalog.home.resolve()) if catalog.home is not None else str(home)
    if existed:
        output.success(f"archivist catalog already exists in {where}")
    else:
        output.success(f"initialized an empty archivist catalog in {where}")


def add(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(
        metavar="PATH", show_default=False,
        help="File or directory to register; its bytes are copied into the catalog.",
    )],
    name: Annotated[str, typer.Option(
        "--name", metavar="NAME", show_default=False,
        help="The artifact's name, e.g. fraud_detector or naïve_model: 1-128 letters and "
             "digits of any script, '.', '_' or '-', starting with a letter or digit; each "
             "add makes its next version.",
    )],
    artifact_type: Annotated[str | None, typer.Option(
        "--type", metavar="TYPE", show_default=False,
        help="Artifact type, e.g. Model or Dataset (default: File, or Directory for a "
             "folder).",
    )] = None,
    tag: TagOpt = None,
    meta: Annotated[list[str] | None, typer.Option(
        "--meta", metavar="K=V", show_default=False,
        help="Metadata entry; V is read as JSON (a scalar, object or array) when it parses, "
             "else as text. Repeatable.",
    )] = None,
    parent: Annotated[list[str] | None, typer.Option(
        "--parent", metavar="REF", show_default=False,
        help="A version this one was made from (lineage). Repeatable.",
    )] = None,
    partition: Annotated[list[str] | None, typer.Option(
        "--partition", metavar="K=V", show_default=False,
        help="Partition key and value (text), e.g. report_date=2023-10-26. Repeatable.",
    )] = None,
    description: Annotated[str | None, typer.Option(
        "--description", metavar="TEXT", show_default=False,
        help="Free-text description.",
    )] = None,
    alias: Annotated[list[str] | None, typer.Option(
        "--alias", metavar="A", show_default=False,
        help="Point alias A (e.g. production) at the new version. Repeatable.",
    )] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a file or directory as a new version of NAME.

    Identical bytes are stored once: when the content already exists in the catalog a
    note names the versions that hold it, and the new version is still registered.
    """
    tags = parse_pairs(tag, "--tag")
    metadata = parse_pairs(meta, "--meta", structured=True)
    partitions = parse_pairs(partition, "--partition", parse=False)
    with open_catalog(ctx, create=True) as catalog:
        with hashing_spinner(Path(path)):
            version_id = catalog.register(
                name, artifact_type, path=path, metadata=metadata or None,
                tags=tags or None, aliases=alias or None, parent_ids=parent or None,
                partitions=partitions or None, description=description)
        art = catalog.get(version_id)
    if as_json:
        output.print_json(art.to_dict())
    else:
        output.success(_registered(art))


def _registered(art: Artifact) -> str:
    parts = [f"registered {art.ref} ({art.artifact_type}, {output.human_size(art.size)})",
             f"id {art.id}"]
    if art.digest:
        parts.append(art.digest[:19] + "…")
    if art.aliases:
        parts.append("aliases " + ", ".join(art.aliases))
    return "; ".join(parts)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("add")(add)
