"""Lineage: one hop, depth, direction, graphs and their exports."""

from __future__ import annotations

import json

import pytest

from archivist import ArtifactCatalog, InvalidInputError


@pytest.fixture
def chain(catalog: ArtifactCatalog) -> list[str]:
    """raw -> clean -> features -> model, plus raw -> audit."""
    raw = catalog.register("raw", "Dataset")
    clean = catalog.register("clean", "Dataset", parent_ids=[raw])
    features = catalog.register("features", "FeatureSet", parent_ids=[clean])
    model = catalog.register("model", "Model", parent_ids=[features])
    catalog.register("audit", "Dataset", parent_ids=[raw])
    return [raw, clean, features, model]


def test_one_hop(catalog: ArtifactCatalog, chain: list[str]) -> None:
    raw, clean, features, model = chain
    assert catalog.get_lineage(clean) == {"id": clean, "parents": [raw], "children": [features]}
    assert catalog.get_lineage(model, direction="up") == {
        "id": model, "parents": [features], "children": []}


def test_depth_and_direction(catalog: ArtifactCatalog, chain: list[str]) -> None:
    raw, clean, features, model = chain
    up = catalog.get_lineage(model, depth=2, direction="up")
    assert up["upstream"] == [features, clean]
    assert up["downstream"] == []
    down = catalog.get_lineage(raw, depth=10, direction="down")
    assert set(down["downstream"]) == {clean, features, model, catalog.get("audit").id}
    assert down["downstream"][0] in (clean, catalog.get("audit").id), "nearest first"
    assert {n.name for n in down["nodes"]} == {"raw", "clean", "features", "model", "audit"}
    assert (raw, clean) in down["edges"]
    with pytest.raises(InvalidInputError):
        catalog.get_lineage(raw, direction="sideways")


def test_graph_exports(catalog: ArtifactCatalog, chain: list[str]) -> None:
    graph = catalog.lineage_graph(chain[-1], direction="up")
    assert set(graph.nodes) == set(chain)
    mermaid = graph.to_mermaid()
    assert mermaid.startswith("graph LR") and mermaid.count("-->") == 3
    dot = graph.to_dot()
    assert dot.startswith("digraph") and dot.count("->") == 3
    data = json.loads(graph.to_json())
    assert len(data["nodes"]) == 4 and len(data["edges"]) == 3
    tree = graph.to_tree()
    assert tree[0].startswith("model:1") and any("raw:1" in line for line in tree)


def test_deleted_versions_stay_in_lineage(catalog: ArtifactCatalog, chain: list[str]) -> None:
    _raw, _clean, features, model = chain
    catalog.delete(features)
    graph = catalog.lineage_graph(model, direction="up")
    assert graph.nodes[features].deleted
    assert "(deleted)" in graph.to_mermaid()
