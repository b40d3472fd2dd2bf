"""The catalog's lineage methods: parents, children, and the graph around a version."""

from __future__ import annotations

from typing import Any

from archivist.catalog.arguments import depth_of, direction_of, is_id
from archivist.catalog.core import CatalogCore
from archivist.catalog.graph import LineageGraph
from archivist.model import Artifact


class LineageMethods:
    """``get_lineage`` and ``lineage_graph`` of :class:`ArtifactCatalog`."""

    def get_lineage(self: CatalogCore, ref: str | Artifact, depth: int = 1,
                    direction: str = "both") -> dict[str, Any]:
        """Parents and children one hop away; with ``depth > 1`` also ``upstream``,
        ``downstream`` (ids within ``depth`` hops), ``nodes`` (records) and ``edges``."""
        root = (self._resolve(ref) if not isinstance(ref, str) or not is_id(ref)
                else self._by_id(ref))
        rows = self.backend.lineage(root.id, direction_of(direction), depth_of(depth))
        out: dict[str, Any] = {"id": root.id, "parents": rows.parents, "children": rows.children}
        if depth is None or depth > 1:
            ids = [root.id, *dict.fromkeys(rows.upstream + rows.downstream)]
            out.update(upstream=rows.upstream, downstream=rows.downstream,
                       nodes=self._located(self.backend.get_versions_by_id(ids)),
                       edges=rows.edges)
        return out

    def lineage_graph(self: CatalogCore, ref: str | Artifact, direction: str = "both",
                      depth: int | None = None) -> LineageGraph:
        """The lineage around a version as a graph with Mermaid/DOT/JSON exports."""
        root = (self._resolve(ref) if not isinstance(ref, str) or not is_id(ref)
                else self._by_id(ref))
        rows = self.backend.lineage(root.id, direction_of(direction), depth_of(depth))
        ids = [root.id, *dict.fromkeys(rows.upstream + rows.downstream)]
        nodes = {a.id: a for a in self._located(self.backend.get_versions_by_id(ids))}
        return LineageGraph(root=root.id, nodes=nodes, edges=rows.edges)
