"""The lineage page of a version: its ancestors (left) and descendants (right) as a
layered SVG graph drawn on the server, each box a link to its version, with the
versions a search query finds marked (the search page links here for
``downstream-of:``/``upstream-of:`` queries), and the same nodes as a table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from archivist.errors import ArchivistError, InvalidInputError
from archivist.limits import MAX_BATCH, MAX_LINEAGE_DEPTH
from archivist.model import Artifact
from archivist.server.ui import graph
from archivist.server.ui.lookups import visible_version
from archivist.server.ui.render import page, type_class
from archivist.server.ui.routing import UiRoute
from archivist.server.ui.session import UiSession, open_session

router = APIRouter(route_class=UiRoute, include_in_schema=False)
DIRECTIONS = {"both": "both ways", "up": "upstream (ancestors)",
              "down": "downstream (descendants)"}
DEPTHS = ("1", "2", "3", "5", "10", "all")
DEFAULT_DEPTH = "3"
#: most versions drawn; beyond, the nearest ones (by hops) are kept
MAX_NODES = 1500
#: edges beyond which they are drawn thinner
DENSE = 150
#: a drawing larger than this (pixels) gets a link to jump to the focus
BIG = (1240, 700)
#: most search results marked on the graph
HITS = 1000


@dataclass(frozen=True)
class Row:
    """A version of the graph, for the table under it."""

    artifact: Artifact
    hops: int


@router.get("/versions/{version_id}/lineage")
def lineage(request: Request, version_id: str, direction: str = "both",
            depth: str | None = None, highlight: str | None = None) -> Response:
    ui = open_session(request)
    focus = visible_version(ui, version_id)
    if direction not in DIRECTIONS:
        raise InvalidInputError(f"direction must be one of {', '.join(DIRECTIONS)}, "
                                f"got {direction!r:.40}")
    query = (highlight or "").strip()
    # a query is highlighted over the whole walk unless a depth is asked for
    chosen = depth or ("all" if query else DEFAULT_DEPTH)
    hops_limit = _depth(chosen)
    rows = ui.service.lineage(focus.id, direction, hops_limit)
    ids = [focus.id, *dict.fromkeys(rows.upstream + rows.downstream)]
    hops = graph.hop_distances(ids, rows.edges, focus.id)
    total = len(ids)
    if total > MAX_NODES:
        ids = sorted(ids, key=lambda i: (abs(hops.get(i, MAX_LINEAGE_DEPTH)), hops.get(i, 0))
                     )[:MAX_NODES]
    records = {a.id: a for chunk in range(0, len(ids), MAX_BATCH)
               for a in ui.service.lookup(ids[chunk:chunk + MAX_BATCH])}
    records[focus.id] = focus
    nodes = sorted(records, key=lambda i: (hops.get(i, 0), records[i].name.lower(),
                                           records[i].version))
    edges = [(p, c) for p, c in rows.edges if p in records and c in records]
    hits, query_error = _hits(ui, query)
    drawing = graph.layout(nodes, edges, graph.focus_layers(nodes, edges, focus.id))
    types = sorted({records[i].artifact_type for i in nodes}, key=str.lower)
    return page(request, "lineage.html", {
        "title": f"Lineage of {focus.name}:{focus.version}", "focus": focus,
        "direction": direction, "depth": chosen, "directions": DIRECTIONS,
        "depths": DEPTHS if chosen in DEPTHS else (*DEPTHS, chosen),
        "highlight": query, "query_error": query_error,
        "hit_ids": hits, "hit_count": sum(1 for i in nodes if i in hits),
        "graph": _drawing(drawing, records, focus.id, hits),
        "rows": [Row(records[i], hops.get(i, 0)) for i in nodes],
        "types": [(t, type_class(t)) for t in types],
        "total": total, "shown": len(nodes), "edge_count": len(edges),
        "action": f"/versions/{focus.id}/lineage",
        "search_link": "/search?" + urlencode({"q": query}) if query else None})


def _depth(value: str) -> int | None:
    """``all`` (no limit) or a number of hops from 1 to the deepest walk."""
    if value == "all":
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_LINEAGE_DEPTH:
        raise InvalidInputError(f"depth must be 'all' or a number of hops from 1 to "
                                f"{MAX_LINEAGE_DEPTH}, got {value!r:.40}")
    return int(value)


def _hits(ui: UiSession, query: str) -> tuple[set[str], str | None]:
    """Ids the query finds (the first :data:`HITS`), or the reason it cannot run."""
    if not query:
        return set(), None
    try:
        found = ui.service.search(ui.project, query, HITS, 0)
    except ArchivistError as exc:
        return set(), exc.message
    return {a.id for a in found}, None


def _drawing(drawing: graph.Layout, records: dict[str, Artifact], focus: str,
             hits: set[str]) -> dict[str, Any]:
    """What ``_graph.html`` draws: boxes with a link, a label, a class, a tooltip."""
    geo = drawing.geometry
    boxes = []
    for placed in drawing.nodes:
        a = records[placed.id]
        marks = [type_class(a.artifact_type)]
        if placed.id == focus:
            marks.append("focus")
        if placed.id in hits:
            marks.append("hit")
        if a.deleted:
            marks.append("gone")
        label = f"{a.name}:{a.version}"
        boxes.append({
            "x": placed.x, "y": placed.y, "href": f"/versions/{a.id}",
            "cls": " ".join(marks), "label": label, "sub": a.artifact_type,
            "anchor": "focus" if placed.id == focus else None,
            "title": f"{label} · {a.artifact_type}" + (" · deleted" if a.deleted else "")})
    return {"width": drawing.width, "height": drawing.height, "w": geo.box_width,
            "h": geo.box_height, "nodes": boxes,
            "edges": [e.path for e in drawing.edges], "dense": len(drawing.edges) > DENSE,
            "big": drawing.width > BIG[0] or drawing.height > BIG[1],
            "label": f"lineage graph of {records[focus].name}:{records[focus].version}"}
