"""Lineage graphs and their exports (Mermaid, DOT, JSON).

Labels are user text (names, types) and are escaped for each format: a name cannot
inject Mermaid or DOT syntax (reliability.md UI3). Names follow the name rule, but the
escaping does not rely on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from archivist.model import Artifact


@dataclass(frozen=True)
class LineageGraph:
    """Versions (nodes) and parent→child edges around one root version.

    Obtain it from :meth:`ArtifactCatalog.lineage_graph`.
    """

    root: str
    nodes: dict[str, Artifact]
    edges: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "nodes": [_node_dict(a) for a in self.nodes.values()],
            "edges": [{"parent": p, "child": c} for p, c in self.edges],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_mermaid(self) -> str:
        lines = ["graph LR"]
        short = {node_id: f"n{i}" for i, node_id in enumerate(self.nodes)}
        for node_id, art in self.nodes.items():
            label = _mermaid_text(_label(art))
            shape = f'[["{label}"]]' if node_id == self.root else f'["{label}"]'
            lines.append(f"    {short[node_id]}{shape}")
        for parent, child in self.edges:
            if parent in short and child in short:
                lines.append(f"    {short[parent]} --> {short[child]}")
        for node_id, art in self.nodes.items():
            if art.deleted:
                lines.append(f"    style {short[node_id]} stroke-dasharray: 5 5")
        return "\n".join(lines)

    def to_dot(self) -> str:
        lines = ["digraph lineage {", "    rankdir=LR;", "    node [shape=box];"]
        for node_id, art in self.nodes.items():
            attrs = [f'label="{_dot_text(_label(art))}"']
            if node_id == self.root:
                attrs.append("penwidth=2")
            if art.deleted:
                attrs.append("style=dashed")
            lines.append(f'    "{node_id}" [{", ".join(attrs)}];')
        for parent, child in self.edges:
            lines.append(f'    "{parent}" -> "{child}";')
        lines.append("}")
        return "\n".join(lines)

    def to_tree(self) -> list[str]:
        """Plain-text lines: the root, its ancestors (↑) and its descendants (↓) by depth."""
        children: dict[str, list[str]] = {}
        parents: dict[str, list[str]] = {}
        for parent, child in self.edges:
            children.setdefault(parent, []).append(child)
            parents.setdefault(child, []).append(parent)
        lines = [_label(self.nodes[self.root])]
        lines += self._branch(self.root, parents, "↑ ", set())
        lines += self._branch(self.root, children, "↓ ", set())
        return lines

    def _branch(self, node: str, links: dict[str, list[str]], arrow: str,
                seen: set[str], indent: str = "  ") -> list[str]:
        out: list[str] = []
        for nxt in links.get(node, []):
            if nxt in seen or nxt not in self.nodes:
                continue
            seen.add(nxt)
            out.append(f"{indent}{arrow}{_label(self.nodes[nxt])}")
            out += self._branch(nxt, links, arrow, seen, indent + "  ")
        return out


def _label(art: Artifact) -> str:
    text = f"{art.name}:{art.version} ({art.artifact_type})"
    return text + " (deleted)" if art.deleted else text


def _node_dict(art: Artifact) -> dict[str, Any]:
    return {"id": art.id, "name": art.name, "version": art.version,
            "artifact_type": art.artifact_type, "deleted": art.deleted}


def _mermaid_text(text: str) -> str:
    # Mermaid reads "#quot;"-style entity codes inside quoted labels.
    out = []
    for ch in text:
        if ch.isalnum() or ch in " :._-()":
            out.append(ch)
        else:
            out.append(f"#{ord(ch)};")
    return "".join(out)


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
