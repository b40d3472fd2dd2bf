"""Near misses of the language's keywords: ``tpye:Model`` is a typo, not a tag.

Any ``key:value`` whose key is no keyword is a tag condition, so a misspelt field would
silently search a tag nobody has. :func:`near` finds the keyword a key is one slip away
from; the parser then raises instead. A slip is one character missing, one extra, two
neighbours swapped, or one replaced by a character on a neighbouring key of a QWERTY
keyboard (``tyoe``, not ``tape``); keywords of 8 or more characters allow two slips, and
any other replacement counts as two. Keys and keywords under 4 characters are never
compared: one slip from ``run``, ``age`` or ``tag`` is too often a real word (``sun``,
``page``, ``tab``), and so is one from ``use`` or ``ser``.

Plausible tag keys stay tags: ``team`` (4 slips from ``name``), ``stage``, ``owner``,
``site`` (2 slips from ``size``: ``z`` and ``t`` are not neighbours), ``revision``,
``creator``; tests/query/test_query_spelling.py holds a longer list.
"""

from __future__ import annotations

from collections.abc import Sequence

_ROWS = ("1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_SHORTEST = 4  # keys and keywords this long or longer are compared
_LONG = 8  # keywords this long allow two slips


def _neighbours() -> dict[str, frozenset[str]]:
    """Each key's neighbours on a QWERTY keyboard: left, right, and the two above and
    the two below (rows are offset by half a key)."""
    out: dict[str, set[str]] = {}
    for r, row in enumerate(_ROWS):
        for i, ch in enumerate(row):
            near = out.setdefault(ch, set())
            near.update(row[max(i - 1, 0):i + 2])
            if r > 0:
                near.update(_ROWS[r - 1][i:i + 2])
            if r + 1 < len(_ROWS):
                near.update(_ROWS[r + 1][max(i - 1, 0):i + 1])
            near.discard(ch)
    out["_"] = out["-"] | {"-"}  # one key, with and without shift
    out["-"].add("_")
    return {ch: frozenset(near) for ch, near in out.items()}


_NEIGHBOURS = _neighbours()


def slips(key: str, keyword: str, budget: int) -> int:
    """The slips turning ``key`` into ``keyword`` (optimal string alignment distance
    with a replacement by a non-neighbouring key counting two); ``budget + 1`` once it
    is over ``budget``."""
    if abs(len(key) - len(keyword)) > budget:
        return budget + 1
    previous: list[int] = []
    row = list(range(len(keyword) + 1))
    for i, a in enumerate(key, 1):
        before, previous, row = previous, row, [i] + [0] * len(keyword)
        for j, b in enumerate(keyword, 1):
            replace = 0 if a == b else 1 if b in _NEIGHBOURS.get(a, ()) else 2
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + replace)
            if i > 1 and j > 1 and a == keyword[j - 2] and key[i - 2] == b:
                row[j] = min(row[j], before[j - 2] + 1)
        if min(row) > budget:
            return budget + 1
    return min(row[-1], budget + 1)


def near(key: str, keywords: Sequence[str]) -> str | None:
    """The keyword ``key`` (compared in lower case) is a slip or two away from, or
    ``None``; the closest wins, then the first in ``keywords``."""
    key = key.lower()
    if len(key) < _SHORTEST or key in keywords:
        return None
    best, found = None, 0
    for keyword in keywords:
        if len(keyword) < _SHORTEST:
            continue
        budget = 2 if len(keyword) >= _LONG else 1
        distance = slips(key, keyword, budget)
        if distance <= budget and (best is None or distance < found):
            best, found = keyword, distance
    return best
