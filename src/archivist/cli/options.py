"""Arguments and options shared by several commands, defined once, and ``K=V`` parsing.

Range and name checks are not repeated here: ``--limit 0`` or a bad tag key reaches the
catalog, which rejects it with the same message as the Python API (exit status 1). Only
the shape of an option (``K=V`` without ``=``, a key given twice) is a usage error here
(exit status 2).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

RefArg = Annotated[str, typer.Argument(
    metavar="REF", show_default=False,
    help="A version: its id, NAME (latest), NAME:3, NAME@ALIAS or archivist://PROJECT/NAME:3.",
)]
JsonFlag = Annotated[bool, typer.Option(
    "--json", help="Print JSON (the mapping form of the records) instead of a table.",
)]
LimitOpt = Annotated[int, typer.Option(
    "--limit", metavar="N", help="Show at most N versions (1-10000).",
)]
TagOpt = Annotated[list[str] | None, typer.Option(
    "--tag", metavar="K=V", show_default=False,
    help="Tag K with V; V is read as JSON when it is a JSON scalar (3, 0.9, true, null, "
         "\"text\"), else as text. Repeatable.",
)]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity stay text


def parse_value(text: str, *, structured: bool = False) -> Any:
    """``"3"`` → 3, ``"true"`` → True, ``"production"`` → ``"production"``.

    JSON scalars are parsed; with ``structured`` (``--meta``) objects and arrays too;
    anything else is kept as the text typed.
    """
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        return text
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return value if structured else text


def parse_pairs(values: list[str] | None, option: str, *, parse: bool = True,
                structured: bool = False) -> dict[str, Any]:
    """``["a=1", "b=x"]`` → ``{"a": 1, "b": "x"}``; values kept as text unless ``parse``.

    Raises:
        typer.BadParameter: an item without ``=``, or a key given twice (exit status 2).
    """
    out: dict[str, Any] = {}
    for item in values or ():
        key, sep, raw = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected K=V, got {item!r}", param_hint=option)
        if key in out:
            raise typer.BadParameter(f"the key {key!r} is given twice", param_hint=option)
        out[key] = parse_value(raw, structured=structured) if parse else raw
    return out
