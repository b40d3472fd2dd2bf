"""Layered drawings of directed graphs, laid out on the server (the page ships SVG, no
script library): lineage around a version, the step graph of a run.

Drawn left to right in three passes, the usual Sugiyama recipe kept small:

1. **Layers** (columns): :func:`focus_layers` for lineage (by signed hops from the focus
   version, ancestors to the left), :func:`longest_path_layers` for a flow (by the
   longest path from its first step).
2. **Order** within each column: a few barycenter sweeps (each node moves to the mean
   position of its neighbours in the columns already ordered), keeping the order with
   the fewest crossings between adjacent columns.
3. **Coordinates**: the tallest column is stacked; the others, column by column away
   from it, put each node level with its neighbours (near the top of a fan taller
   than a screen), pushed apart to never overlap. An edge spanning several columns
   gets a waypoint in each, so it runs between the boxes, not behind them.

Everything is deterministic (ties fall back to the order the nodes were given) and
about linear in nodes + edges: 1,000 nodes lay out in a few milliseconds. A column of
500 parents is 500 boxes tall: the SVG is sized to its content and its container
scrolls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

SWEEPS = 4
#: most hidden waypoints of long edges in one drawing (longer edges beyond are drawn
#: straight across)
MAX_WAYPOINTS = 4000
#: a node whose neighbours span more than this (pixels) sits this far below the first
#: of them rather than in their middle, so the focus of 500 parents is on the first screen
FAN_REACH = 300


@dataclass(frozen=True)
class Geometry:
    """Sizes of a drawing, in pixels."""

    box_width: int = 190
    box_height: int = 40
    gap_x: int = 56
    gap_y: int = 12
    margin: int = 16


@dataclass(frozen=True)
class Placed:
    """A node's box: top-left corner and column."""

    id: str
    x: int
    y: int
    layer: int


@dataclass(frozen=True)
class Link:
    """An edge drawn as a cubic Bézier from the parent's right side to the child's left."""

    parent: str
    child: str
    path: str


@dataclass(frozen=True)
class Layout:
    """Boxes (in the order the nodes were given), edges and the drawing's size."""

    nodes: list[Placed]
    edges: list[Link]
    width: int
    height: int
    geometry: Geometry


def hop_distances(nodes: Sequence[str], edges: Iterable[tuple[str, str]],
                  focus: str) -> dict[str, int]:
    """Signed hops from ``focus`` by breadth-first walks: ancestors (against the edges)
    negative, descendants (along them) positive, the focus 0; nodes reached neither way
    are left out."""
    known = set(nodes)
    up: dict[str, list[str]] = {n: [] for n in nodes}
    down: dict[str, list[str]] = {n: [] for n in nodes}
    for parent, child in edges:
        if parent in known and child in known:
            down[parent].append(child)
            up[child].append(parent)
    hops = {focus: 0}
    for step, following in ((-1, up), (1, down)):
        queue = deque([focus])
        while queue:
            node = queue.popleft()
            for nxt in following[node]:
                if nxt not in hops:
                    hops[nxt] = hops[node] + step
                    queue.append(nxt)
    return hops


def focus_layers(nodes: Sequence[str], edges: Sequence[tuple[str, str]],
                 focus: str) -> dict[str, int]:
    """Columns for a drawing around ``focus``: the signed hop distance, stretched where
    needed so every edge among the ancestors (or among the descendants) points right —
    a parent that is also a grandparent goes one column further left. Nodes connected
    to the focus in no direction get a column of their own at the far left."""
    hops = hop_distances(nodes, edges, focus)
    layers = dict(hops)
    down_side = [n for n in nodes if hops.get(n, 0) > 0]
    up_side = [n for n in nodes if hops.get(n, 0) < 0]
    for side, sign in ((down_side, 1), (up_side, -1)):
        members = {focus, *side}
        inside = [(p, c) if sign > 0 else (c, p) for p, c in edges
                  if p in members and c in members]
        longest = _longest([focus, *side], inside, [focus])
        for node in side:
            layers[node] = sign * max(longest.get(node, abs(hops[node])), 1)
    stray = [n for n in nodes if n not in layers]
    if stray:
        left = min(layers.values(), default=0) - 1
        layers.update(dict.fromkeys(stray, left))
    return layers


def longest_path_layers(nodes: Sequence[str], edges: Sequence[tuple[str, str]],
                        sources: Sequence[str] | None = None) -> dict[str, int]:
    """Columns by the longest path from a source (``sources``, else the nodes without a
    parent), the layering of a flow's steps. Nodes on a cycle, or not reachable, come
    after the rest, one column each in the order given."""
    layers = _longest(nodes, edges, sources)
    last = max(layers.values(), default=-1)
    for node in nodes:
        if node not in layers:
            last += 1
            layers[node] = last
    return layers


def _longest(nodes: Sequence[str], edges: Sequence[tuple[str, str]],
             sources: Sequence[str] | None) -> dict[str, int]:
    """Longest-path columns of the nodes reached from the sources without a cycle."""
    children: dict[str, list[str]] = {n: [] for n in nodes}
    indegree = dict.fromkeys(nodes, 0)
    for parent, child in dict.fromkeys(edges):
        if parent in children and child in children and parent != child:
            children[parent].append(child)
            indegree[child] += 1
    starts = list(sources) if sources is not None else [n for n in nodes if not indegree[n]]
    layers = {n: 0 for n in starts if n in children}
    queue = deque(n for n in nodes if not indegree[n])
    while queue:
        node = queue.popleft()
        for child in children[node]:
            if node in layers:
                layers[child] = max(layers.get(child, 0), layers[node] + 1)
            indegree[child] -= 1
            if not indegree[child]:
                queue.append(child)
    return layers


def layout(nodes: Sequence[str], edges: Sequence[tuple[str, str]],
           layers: Mapping[str, int], geometry: Geometry | None = None) -> Layout:
    """Place ``nodes`` in their ``layers`` (columns, left to right) and draw ``edges``
    (``(parent, child)``; edges naming an unknown node are skipped).

    An edge spanning several columns passes through a hidden waypoint in each column
    it crosses (up to :data:`MAX_WAYPOINTS` in all), ordered and placed like a node, so
    it runs between the boxes instead of behind them.
    """
    geo = geometry or Geometry()
    index = {n: i for i, n in enumerate(dict.fromkeys(nodes))}
    names = list(index)
    links = sorted({(index[p], index[c]) for p, c in edges
                    if p in index and c in index and p != c})
    columns = sorted({layers[n] for n in names})
    column_of = {value: i for i, value in enumerate(columns)}
    col = [column_of[layers[n]] for n in names]
    routes, budget = [], MAX_WAYPOINTS
    for p, c in links:
        span = col[c] - col[p]
        route = [p]
        if 1 < span <= budget + 1:
            budget -= span - 1
            for k in range(1, span):
                route.append(len(col))
                col.append(col[p] + k)
        routes.append([*route, c])
    parents: list[list[int]] = [[] for _ in col]
    children: list[list[int]] = [[] for _ in col]
    hops = [(a, b) for route in routes for a, b in pairwise(route)]
    for a, b in hops:
        parents[b].append(a)
        children[a].append(b)
    order = _order(col, len(columns), parents, children, hops)
    sizes = [float(geo.box_height)] * len(names) + [0.0] * (len(col) - len(names))
    ys = _coordinates(order, parents, children, sizes, geo.gap_y)
    top = min((y - size / 2 for y, size in zip(ys, sizes, strict=True)), default=0.0)
    bottom = max((y + size / 2 for y, size in zip(ys, sizes, strict=True)), default=0.0)
    step_x = geo.box_width + geo.gap_x
    middle = [round(y - top) + geo.margin for y in ys]  # centre lines, in the drawing
    xs = [geo.margin + c * step_x for c in col]
    placed = [Placed(names[i], xs[i], middle[i] - geo.box_height // 2, layers[names[i]])
              for i in range(len(names))]
    width = geo.margin * 2 + max(len(columns) * step_x - geo.gap_x, 0)
    height = geo.margin * 2 + round(bottom - top)
    drawn = [Link(names[route[0]], names[route[-1]],
                  _path([(xs[n], middle[n]) for n in route], geo)) for route in routes]
    return Layout(placed, drawn, width, height, geo)


def _order(col: list[int], count: int, parents: list[list[int]], children: list[list[int]],
           links: list[tuple[int, int]]) -> list[list[int]]:
    """Nodes of each column, top to bottom, after barycenter sweeps (the best seen)."""
    order: list[list[int]] = [[] for _ in range(count)]
    for node, c in enumerate(col):
        order[c].append(node)
    pos = [0.0] * len(col)
    _center(order, pos)
    neighbours = [parents[n] + children[n] for n in range(len(col))]
    left = [[m for m in near if col[m] < col[n]] for n, near in enumerate(neighbours)]
    right = [[m for m in near if col[m] > col[n]] for n, near in enumerate(neighbours)]
    adjacent = [(p, c) for p, c in links if col[c] == col[p] + 1]
    best, fewest = [list(o) for o in order], _crossings(adjacent, pos, col, count)
    for sweep in range(SWEEPS * 2):
        forward = sweep % 2 == 0
        near_of = left if forward else right
        for c in (range(1, count) if forward else range(count - 2, -1, -1)):
            members = order[c]
            if len(members) < 2:
                continue
            keys = {}
            for node in members:
                near = near_of[node]
                keys[node] = (sum(pos[m] for m in near) / len(near) if near else pos[node],
                              pos[node])
            members.sort(key=keys.__getitem__)
            _center([members], pos)
        found = _crossings(adjacent, pos, col, count)
        if found < fewest:
            best, fewest = [list(o) for o in order], found
        if not fewest:
            break
    return best


def _center(columns: Iterable[list[int]], pos: list[float]) -> None:
    """Positions of a column's nodes, centred on 0 (columns of any size line up)."""
    for members in columns:
        middle = (len(members) - 1) / 2
        for i, node in enumerate(members):
            pos[node] = i - middle


def _crossings(adjacent: list[tuple[int, int]], pos: list[float], col: list[int],
               count: int) -> int:
    """Crossings of the edges between neighbouring columns (inversions, by a Fenwick
    tree per column pair)."""
    by_column: list[list[tuple[float, float]]] = [[] for _ in range(count)]
    for p, c in adjacent:
        by_column[col[p]].append((pos[p], pos[c]))
    total = 0
    for pairs in by_column:
        if len(pairs) < 2:
            continue
        pairs.sort()
        ranks = {v: i + 1 for i, v in enumerate(sorted({end for _, end in pairs}))}
        tree = [0] * (len(ranks) + 1)
        for seen, (_, end) in enumerate(pairs):
            r, below = ranks[end], 0
            while r > 0:  # how many earlier edges end at or above this one
                below += tree[r]
                r -= r & -r
            total += seen - below
            r = ranks[end]
            while r < len(tree):
                tree[r] += 1
                r += r & -r
    return total


def _coordinates(order: list[list[int]], parents: list[list[int]],
                 children: list[list[int]], sizes: list[float], gap: int) -> list[float]:
    """Vertical centres: the tallest column stacked, then each column away from it level
    with its placed neighbours, pushed apart to keep ``gap`` between boxes."""
    ys = [0.0] * len(sizes)
    if not ys:
        return ys
    anchor = max(range(len(order)), key=lambda c: (sum(sizes[n] + gap for n in order[c]), -c))
    placed = [False] * len(ys)
    _pack(order[anchor], [None] * len(order[anchor]), ys, sizes, gap)
    for node in order[anchor]:
        placed[node] = True
    for c in [*range(anchor + 1, len(order)), *range(anchor - 1, -1, -1)]:
        wanted: list[float | None] = []
        for node in order[c]:
            near = [ys[n] for n in (*parents[node], *children[node]) if placed[n]]
            # level with its neighbours; near the top of a fan too tall for a screen
            wanted.append(min(sum(near) / len(near), min(near) + FAN_REACH) if near else None)
        _pack(order[c], wanted, ys, sizes, gap)
        for node in order[c]:
            placed[node] = True
    return ys


def _pack(members: list[int], wanted: list[float | None], ys: list[float],
          sizes: list[float], gap: int) -> None:
    """Put ``members`` in order, each at its wanted height or just below the previous,
    then shift them all to sit on their wishes on average."""
    previous: int | None = None
    anchored = [w for w in wanted if w is not None]
    for node, want in zip(members, wanted, strict=True):
        if previous is None:
            ys[node] = want if want is not None else min(anchored, default=0.0)
        else:
            below = ys[previous] + (sizes[previous] + sizes[node]) / 2 + gap
            ys[node] = below if want is None else max(want, below)
        previous = node
    if anchored:
        shift = sum(w - ys[n] for n, w in zip(members, wanted, strict=True)
                    if w is not None) / len(anchored)
        for node in members:
            ys[node] += shift


def _path(points: list[tuple[int, int]], geo: Geometry) -> str:
    """SVG path through a route's centres: out of the parent's right side, straight
    through each waypoint's column, into the child's left side; Bézier curves between
    columns."""
    (x, y), width = points[0], geo.box_width
    out = [f"M{x + width} {y}"]
    x1, y1 = x + width, y
    for i, (x2, y2) in enumerate(points[1:], start=1):
        bend = max((x2 - x1) // 2, geo.gap_x // 2)
        out.append(f"C{x1 + bend} {y1} {x2 - bend} {y2} {x2} {y2}")
        if i < len(points) - 1:  # a waypoint: cross its column
            out.append(f"H{x2 + width}")
        x1, y1 = x2 + width, y2
    return "".join(out)
