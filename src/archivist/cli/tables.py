"""Tables that fit the terminal: whole names, and the least useful columns go first.

Rich shrinks every column of a table that is too wide, so at 80 columns a name came out
in 6-character pieces. :func:`fitted_table` decides the widths itself, from the cells:
columns marked essential (names, refs, versions) keep their full width and never wrap;
the others are dropped, least important first, until the rest fits; columns that may be
cut (tags, descriptions, values) are cut with an ellipsis before anything is dropped
below their ``shrink`` width. Only when the essential columns alone are wider than the
terminal does the widest of them fold, so every line still fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text

#: The space between two columns (padding and the rule's divider), in cells.
GAP = 2
#: The narrowest a folded essential column gets, however long the name.
MIN_FOLD = 12


@dataclass(frozen=True)
class Column:
    """A column of a fitted table.

    ``drop`` orders the columns to leave out when the table does not fit: the highest
    goes first; 0 (the default) is essential and never dropped. ``shrink`` lets the
    column be cut down to that width with an ellipsis; ``cap`` is the widest it gets
    even when there is room (a preview's long strings); a ``hide_empty`` column is left
    out when no row has a value in it.
    """

    header: str
    drop: int = 0
    shrink: int | None = None
    justify: JustifyMethod = "left"
    cap: int | None = None
    hide_empty: bool = False


def fitted_table(columns: Sequence[Column], rows: Sequence[Sequence[str]],
                 width: int) -> tuple[Table, list[Column]]:
    """A Rich table of ``rows`` (one string per column; a cell may hold several lines)
    at most ``width`` cells wide, and the columns dropped to make it fit."""
    natural = [_natural(i, column, rows) for i, column in enumerate(columns)]
    least = [min(n, c.shrink) if c.shrink else n for n, c in zip(natural, columns, strict=True)]
    shown = [i for i, c in enumerate(columns)
             if not c.hide_empty or any(row[i].strip() for row in rows)]
    kept = list(shown)

    def needed(indices: list[int]) -> int:
        return sum(least[i] for i in indices) + GAP * max(len(indices) - 1, 0)

    droppable = sorted((i for i in kept if columns[i].drop > 0),
                       key=lambda i: (-columns[i].drop, -i))
    for index in droppable:
        if needed(kept) <= width:
            break
        kept.remove(index)
    widths = {i: least[i] for i in kept}
    spare = width - needed(kept)
    growing = [i for i in kept if widths[i] < natural[i]]
    while spare > 0 and growing:  # cut columns share the room left, up to their full width
        share = max(spare // len(growing), 1)
        for i in list(growing):
            grow = min(share, natural[i] - widths[i], spare)
            widths[i] += grow
            spare -= grow
            if widths[i] == natural[i]:
                growing.remove(i)
    folded = None
    if spare < 0:  # the essential columns alone are too wide: fold the widest
        folded = max(kept, key=lambda i: widths[i])
        widths[folded] = max(widths[folded] + spare, MIN_FOLD)
    table = Table(highlight=False, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                  collapse_padding=True)
    for i in kept:
        table.add_column(columns[i].header, justify=columns[i].justify, width=widths[i],
                         no_wrap=i != folded, overflow="fold" if i == folded else "ellipsis")
    for row in rows:
        table.add_row(*(Text(row[i]) for i in kept))
    return table, [columns[i] for i in shown if i not in kept]


def _natural(index: int, column: Column, rows: Sequence[Sequence[str]]) -> int:
    """The width of the column's longest line (or header), at most its ``cap``."""
    lines = [line for row in rows for line in row[index].split("\n")]
    found = max([cell_len(column.header), *(cell_len(line) for line in lines)])
    return min(found, max(column.cap, cell_len(column.header))) if column.cap else found
