"""Lineage walks: recursive SQL over the edge table, in either direction.

The edge table is indexed ``(parent, child)`` and ``(child, parent)``, so "who consumed
me" costs the same as "what did I consume". Walks terminate on cycles: an unbounded walk
unions on the node alone (a node is visited once); a bounded one carries its depth.
"""

from __future__ import annotations

import sqlalchemy as sa

from archivist.backends.sql.tables import edges, versions


def reachable(start: int, direction: str, depth: int | None, *,
              name: str = "walk") -> sa.CTE:
    """A CTE of ``seq`` (and ``depth`` when bounded) for every node within ``depth`` hops
    of ``start``, following edges ``"down"`` (to children) or ``"up"``. ``name`` keeps
    several walks in one statement apart."""
    src, dst = (edges.c.parent, edges.c.child) if direction == "down" else (
        edges.c.child, edges.c.parent)
    if depth is None:
        seed = sa.select(dst.label("seq")).where(src == start)
        cte = seed.cte(name, recursive=True)
        step = sa.select(dst).join(cte, src == cte.c.seq)
        return cte.union(step)
    seed_d = sa.select(dst.label("seq"), sa.literal(1, sa.Integer).label("depth")).where(
        src == start)
    cte = seed_d.cte(name, recursive=True)
    step_d = sa.select(dst, cte.c.depth + 1).join(cte, src == cte.c.seq).where(
        cte.c.depth < depth)
    return cte.union(step_d)


def walk(conn: sa.Connection, start: int, direction: str, depth: int | None) -> list[int]:
    """Seqs reachable from ``start``, nearest first."""
    cte = reachable(start, direction, depth)
    if "depth" in cte.c:
        query = (sa.select(cte.c.seq, sa.func.min(cte.c.depth).label("d"))
                 .group_by(cte.c.seq).order_by("d", cte.c.seq))
        return [row[0] for row in conn.execute(query) if row[0] != start]
    return [s for s in conn.execute(sa.select(cte.c.seq)).scalars() if s != start]


def edges_among(conn: sa.Connection, seqs: set[int]) -> list[tuple[str, str]]:
    """The edges (parent id, child id) whose two ends are both in ``seqs``."""
    if len(seqs) < 2:
        return []
    parent, child = versions.alias("p"), versions.alias("c")
    members = list(seqs)
    rows = conn.execute(
        sa.select(parent.c.id, child.c.id)
        .select_from(edges)
        .join(parent, parent.c.seq == edges.c.parent)
        .join(child, child.c.seq == edges.c.child)
        # ``child + 0``: only ``parent`` may use an index. Both indexed, SQLite probes
        # every (parent, child) pair (251,001 probes for 501 versions: ~45 ms, not ~1 ms).
        .where(edges.c.parent.in_(members), (edges.c.child + 0).in_(members))
        .order_by(edges.c.parent, edges.c.child)
    )
    return [(p, c) for p, c in rows]
