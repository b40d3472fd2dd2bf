"""Commands that read the catalog: ``ls``, ``show``, ``search``, ``get``, ``diff``,
``lineage``."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

import typer

from archivist.cli import datasets, output, views
from archivist.cli.options import JsonFlag, LimitOpt, RefArg, TagOpt, parse_pairs
from archivist.cli.progress import transfer_bar
from archivist.cli.session import open_catalog
from archivist.model import Artifact


class Direction(StrEnum):
    up = "up"
    down = "down"
    both = "both"


class GraphFormat(StrEnum):
    tree = "tree"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


def ls(
    ctx: typer.Context,
    artifact_type: Annotated[str | None, typer.Option(
        "--type", metavar="TYPE", show_default=False, help="Only versions of this type.",
    )] = None,
    name: Annotated[str | None, typer.Option(
        "--name", metavar="NAME", show_default=False, help="Only versions of this artifact.",
    )] = None,
    tag: TagOpt = None,
    limit: LimitOpt = 100,
    latest: Annotated[bool, typer.Option(
        "--latest", help="Only the newest version of each artifact.",
    )] = False,
    as_json: JsonFlag = False,
) -> None:
    """List live versions, newest first.

    Every filter given must hold; --tag K=V keeps versions whose tag K equals V.
    """
    tags = parse_pairs(tag, "--tag")
    with open_catalog(ctx) as catalog:
        found = catalog.list(artifact_type=artifact_type, name=name, tags=tags or None,
                             limit=limit, latest_only=latest)
    output.print_artifacts(found, as_json=as_json, empty="no versions match")
    _note_truncated(found, limit, as_json)


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(
        metavar="QUERY", show_default=False,
        help="A query of the search language, e.g. 'fraud type:Model alias:production'. "
             "Quote it for the shell.",
    )],
    limit: LimitOpt = 100,
    as_json: JsonFlag = False,
) -> None:
    """Search live versions with the query language.

    Full text, fields (type:Model, alias:production), tags (team:fraud), comparisons
    (metadata.accuracy>=0.9, size>10MB, age<2d), negation (-stage:dev), OR and
    parentheses, and lineage terms (downstream-of:raw:3).
    """
    with open_catalog(ctx) as catalog:
        found = catalog.search(query, limit=limit)
    output.print_artifacts(found, as_json=as_json, empty="no versions match")
    _note_truncated(found, limit, as_json)


def _note_truncated(found: Sequence[object], limit: int, as_json: bool) -> None:
    if not as_json and len(found) == limit:
        output.note(f"showing the first {limit}; raise --limit to see more")


def show(
    ctx: typer.Context,
    ref: RefArg,
    history: Annotated[bool, typer.Option(
        "--history", help="Also show every tag, alias and delete change of the artifact "
                          "(who, when, kind, key, old, new).",
    )] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show one version in full.

    Identity, content, producer, tags, aliases, partitions, parents and metadata; with
    --history also the artifact's tag and alias changes.
    """
    with open_catalog(ctx) as catalog:
        art = catalog.get(ref)
        entries = catalog.history(art.name, project=art.project) if history else []
        refs = _refs(catalog.versions(art.name, project=art.project)) \
            if history and not as_json else {}
    if as_json:
        record = art.to_dict()
        if history:
            record["history"] = [e.to_dict() for e in entries]
        output.print_json(record)
        return
    console = output.stdout()
    dataset, metadata = datasets.split(art.metadata)
    console.print(views.detail(art, metadata))
    datasets.print_dataset(console, dataset)
    if history:
        console.print()
        if entries:
            console.print(views.history_table(entries, refs, console.width))
        else:
            console.print("no tag or alias changes recorded", highlight=False)


def _refs(versions: Sequence[Artifact]) -> dict[str, str]:
    """id → ``name:version``, to show history entries by ref."""
    return {a.id: a.ref for a in versions}


def get(
    ctx: typer.Context,
    ref: RefArg,
    dest: Annotated[str, typer.Option(
        "-o", "--output", metavar="DEST", show_default=False,
        help="Where to write: a file path (a new folder for a directory version). Must "
             "not be or sit in a symlink.",
    )],
) -> None:
    """Write a version's bytes to DEST.

    The bytes are verified against the digest: nothing appears at DEST unless every byte
    matched. A directory version is written as a new folder.
    """
    with open_catalog(ctx) as catalog:
        art = catalog.get(ref)
        size = art.size if art.kind == "file" else None
        with transfer_bar(f"{art.ref}", size) as progress:
            written = catalog.download(art, dest, progress=progress)
    output.success(f"wrote {art.ref} ({output.human_size(art.size)}) to {written}")


def diff(
    ctx: typer.Context,
    ref_a: RefArg,
    ref_b: RefArg,
    as_json: JsonFlag = False,
) -> None:
    """Show what changed between two versions.

    Content, metadata, tags, partitions, the files of a directory, and the schema and
    column statistics of a dataset.
    """
    with open_catalog(ctx) as catalog:
        changes = catalog.diff(ref_a, ref_b)
    if as_json:
        output.print_json(changes)
    else:
        views.print_diff(changes)


def lineage(
    ctx: typer.Context,
    ref: RefArg,
    depth: Annotated[int | None, typer.Option(
        "--depth", metavar="N", show_default=False,
        help="Follow at most N hops (1-1000; default: all).",
    )] = None,
    direction: Annotated[Direction, typer.Option(
        "--direction", help="up: what it was made from; down: what was made from it.",
    )] = Direction.both,
    graph_format: Annotated[GraphFormat, typer.Option(
        "--format", help="tree (text), mermaid, dot (Graphviz) or json.",
    )] = GraphFormat.tree,
) -> None:
    """Show what a version was made from and what was made from it.

    The tree format lists ancestors (↑) and descendants (↓); deleted versions are shown
    and marked.
    """
    with open_catalog(ctx) as catalog:
        graph = catalog.lineage_graph(ref, direction=direction.value, depth=depth)
    if graph_format is GraphFormat.tree:
        text = "\n".join(graph.to_tree())
    elif graph_format is GraphFormat.mermaid:
        text = graph.to_mermaid()
    elif graph_format is GraphFormat.dot:
        text = graph.to_dot()
    else:
        text = graph.to_json()
    typer.echo(text)


def register(app: typer.Typer) -> None:
    for command in (ls, show, search, get, diff, lineage):
        app.command(command.__name__)(command)
