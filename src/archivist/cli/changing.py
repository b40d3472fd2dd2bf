"""Commands that change mutable state: ``tag``, ``alias``, ``describe``, ``meta``,
``rename``, ``rm``."""

from __future__ import annotations

from typing import Annotated

import typer

from archivist import names
from archivist.cli import output
from archivist.cli.options import RefArg, parse_pairs
from archivist.cli.session import open_catalog


def tag(
    ctx: typer.Context,
    ref: RefArg,
    pairs: Annotated[list[str] | None, typer.Argument(
        metavar="K=V", show_default=False,
        help="Tags to set; V is read as JSON when it is a JSON scalar (3, 0.9, true, null, "
             "\"text\"), else as text.",
    )] = None,
    remove: Annotated[list[str] | None, typer.Option(
        "--remove", metavar="K", show_default=False, help="Remove tag K. Repeatable.",
    )] = None,
) -> None:
    """Set or remove tags on a version.

    Every change is recorded in the history (see show --history).
    """
    tags = parse_pairs(pairs, "K=V")
    keys = list(dict.fromkeys(remove or ()))
    if not tags and not keys:
        raise typer.BadParameter("give at least one K=V to set or --remove K")
    both = sorted(set(tags) & set(keys))
    if both:
        raise typer.BadParameter(f"{', '.join(map(repr, both))} is both set and removed")
    for key in keys:
        names.check_name(key, "tag key")  # before anything is set: all or nothing
    with open_catalog(ctx) as catalog:
        art = catalog.get(ref)
        if tags:
            catalog.tag(art, **tags)
        if keys:
            catalog.untag(art, *keys)
    done = []
    if tags:
        done.append("set " + output.pairs(tags))
    if keys:
        done.append("removed " + ", ".join(keys))
    output.success(f"tagged {art.ref}: {'; '.join(done)}")


def alias(
    ctx: typer.Context,
    ref: RefArg,
    alias_name: Annotated[str, typer.Argument(
        metavar="ALIAS", show_default=False,
        help="Alias name, e.g. production or champion ('latest' is implicit).",
    )],
    remove: Annotated[bool, typer.Option(
        "--remove", help="Remove ALIAS from the artifact REF names (whichever version "
                         "holds it) instead of setting it.",
    )] = False,
) -> None:
    """Point an alias at a version, or remove it.

    Setting moves ALIAS from whichever version of the artifact held it; afterwards
    NAME@ALIAS names this version.
    """
    with open_catalog(ctx) as catalog:
        art = catalog.get(ref)
        if remove:
            catalog.remove_alias(art.name, alias_name, project=art.project)
        else:
            catalog.set_alias(art, alias_name)
    if remove:
        output.success(f"removed the alias {alias_name} from {art.name}")
    else:
        output.success(f"{art.name}@{alias_name} now points at {art.ref}")


def describe(
    ctx: typer.Context,
    ref: RefArg,
    text: Annotated[str | None, typer.Argument(
        metavar="TEXT", show_default=False,
        help="The version's new description (quote it); replaces the old one.",
    )] = None,
    clear: Annotated[bool, typer.Option(
        "--clear", help="Remove the description instead of setting one.",
    )] = False,
) -> None:
    """Replace the description of a version.

    The change is recorded in the history (see show --history) and search finds the
    new words. Versions are otherwise immutable: tags, aliases and the description
    are what changes.
    """
    if (text is None) == (not clear):
        raise typer.BadParameter("give TEXT or --clear (one of them)")
    with open_catalog(ctx) as catalog:
        art = catalog.get(ref)
        catalog.update_description(art, None if clear else text)
    output.success(f"{'cleared' if clear else 'set'} the description of {art.ref}")


def meta(
    ctx: typer.Context,
    ref: RefArg,
    pairs: Annotated[list[str] | None, typer.Argument(
        metavar="K=V", show_default=False,
        help="Metadata keys to set; V is read as JSON when it is JSON (3, true, "
             "{\"a\": 1}, [1, 2]), else as text.",
    )] = None,
    remove: Annotated[list[str] | None, typer.Option(
        "--remove", metavar="K", show_default=False, help="Remove metadata key K. Repeatable.",
    )] = None,
) -> None:
    """Set or remove top-level metadata keys of a registered version.

    Search sees the new values at once; every change is recorded in the history (see
    show --history). The version's bytes and digest never change.
    """
    values = parse_pairs(pairs, "K=V", structured=True)
    keys = list(dict.fromkeys(remove or ()))
    if not values and not keys:
        raise typer.BadParameter("give at least one K=V to set or --remove K")
    both = sorted(set(values) & set(keys))
    if both:
        raise typer.BadParameter(f"{', '.join(map(repr, both))} is both set and removed")
    with open_catalog(ctx) as catalog:
        art = catalog.update_metadata(ref, values, remove=keys)
    done = []
    if values:
        done.append("set " + ", ".join(values))
    if keys:
        done.append("removed " + ", ".join(keys))
    output.success(f"updated the metadata of {art.ref}: {'; '.join(done)}")


def rename(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(
        metavar="OLD", show_default=False, help="The artifact's name now (exact spelling).",
    )],
    new: Annotated[str, typer.Argument(
        metavar="NEW", show_default=False,
        help="Its new name: not taken in the project, in any case.",
    )],
) -> None:
    """Rename an artifact: every version keeps its id, number, tags, aliases and lineage.

    Refs and URIs use the new name from now on; the old name is not found (the error
    says what it was renamed to). A case-only change (fraud -> Fraud) is a rename.
    """
    with open_catalog(ctx) as catalog:
        catalog.rename(old, new)
    output.success(f"renamed {old} to {new}")


def rm(ctx: typer.Context, ref: RefArg) -> None:
    """Delete a version (a tombstone).

    It disappears from ls, search and 'latest' but stays in lineage, marked deleted;
    'archivist gc --apply' frees its bytes once nothing else uses them.
    """
    with open_catalog(ctx) as catalog:
        art = catalog.get(ref)
        catalog.delete(art)
    output.success(f"deleted {art.ref} (id {art.id})")


def register(app: typer.Typer) -> None:
    for command in (tag, alias, describe, meta, rename, rm):
        app.command(command.__name__)(command)
