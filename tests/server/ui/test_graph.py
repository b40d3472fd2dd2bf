"""The server-side graph drawings: the layered layout (layers, order, coordinates,
edge paths, speed), the step graph read back from a run's tasks, and the lineage and
runs pages that draw them, on a real catalog through TestClient."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from archivist import ArtifactCatalog, Flow, Parameter, pipeline, step
from archivist.model import RunRecord
from archivist.server import ServerSettings, create_app
from archivist.server.ui.graph import (
    FAN_REACH,
    Geometry,
    Layout,
    focus_layers,
    hop_distances,
    layout,
    longest_path_layers,
)
from archivist.server.ui.pages.runs import step_edges

LOOPBACK_URL = "http://127.0.0.1:8765"
GEO = Geometry()


def boxes(drawn: Layout) -> dict[str, tuple[int, int]]:
    return {p.id: (p.x, p.y) for p in drawn.nodes}


def ends(path: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """First and last point of an SVG path."""
    numbers = [int(n) for n in re.findall(r"-?\d+", path)]
    return (numbers[0], numbers[1]), (numbers[-2], numbers[-1])


def check_drawing(drawn: Layout) -> None:
    """Boxes inside the drawing, never overlapping in a column; each edge from its
    parent's right side to its child's left side."""
    where = boxes(drawn)
    columns: dict[int, list[int]] = {}
    for x, y in where.values():
        assert x >= 0 and x + GEO.box_width <= drawn.width
        assert y >= 0 and y + GEO.box_height <= drawn.height
        columns.setdefault(x, []).append(y)
    for ys in columns.values():
        ys.sort()
        assert all(b - a >= GEO.box_height + GEO.gap_y for a, b in pairwise(ys))
    for edge in drawn.edges:
        (x1, y1), (x2, y2) = ends(edge.path)
        px, py = where[edge.parent]
        cx, cy = where[edge.child]
        assert (x1, y1) == (px + GEO.box_width, py + GEO.box_height // 2)
        assert (x2, y2) == (cx, cy + GEO.box_height // 2)


# -- layers ------------------------------------------------------------------------------
def test_hop_distances_are_signed_and_leave_out_what_is_not_reached() -> None:
    nodes = ["f", "p", "gp", "c", "gc", "cousin"]
    edges = [("gp", "p"), ("p", "f"), ("f", "c"), ("c", "gc"), ("gp", "cousin")]
    assert hop_distances(nodes, edges, "f") == {"f": 0, "p": -1, "gp": -2, "c": 1, "gc": 2}


def test_focus_layers_push_a_grandparent_that_is_also_a_parent_further_left() -> None:
    nodes = ["f", "a", "b", "c", "d", "stray"]
    edges = [("a", "b"), ("b", "f"), ("a", "f"), ("f", "c"), ("c", "d"), ("f", "d")]
    layers = focus_layers(nodes, edges, "f")
    assert layers == {"f": 0, "b": -1, "a": -2, "c": 1, "d": 2, "stray": -3}
    assert all(layers[p] < layers[c] for p, c in edges)


def test_longest_path_layers_put_a_step_after_its_longest_way_in() -> None:
    steps = ["start", "a", "b", "end"]
    edges = [("start", "a"), ("a", "b"), ("b", "end"), ("start", "end")]
    assert longest_path_layers(steps, edges) == {"start": 0, "a": 1, "b": 2, "end": 3}
    # a cycle cannot be layered: its nodes come after the rest, one column each
    looped = longest_path_layers(["s", "x", "y"], [("s", "x"), ("x", "y"), ("y", "x")])
    assert looped["s"] == 0 and sorted(looped.values()) == [0, 1, 2]


# -- layout ------------------------------------------------------------------------------
def test_columns_go_left_to_right_and_the_drawing_holds_every_box() -> None:
    nodes = ["f", "p1", "p2", "c"]
    edges = [("p1", "f"), ("p2", "f"), ("f", "c")]
    drawn = layout(nodes, edges, focus_layers(nodes, edges, "f"))
    where = boxes(drawn)
    assert where["p1"][0] == where["p2"][0] < where["f"][0] < where["c"][0]
    assert [p.id for p in drawn.nodes] == nodes
    assert drawn.width == 2 * GEO.margin + 3 * GEO.box_width + 2 * GEO.gap_x
    check_drawing(drawn)


def test_barycenter_sweeps_undo_crossings() -> None:
    # given in an order where a->x and b->y cross: the layout uncrosses them
    nodes = ["a", "b", "y", "x", "z"]
    edges = [("a", "x"), ("b", "y"), ("b", "z")]
    drawn = layout(nodes, edges, longest_path_layers(nodes, edges))
    where = boxes(drawn)
    assert (where["a"][1] < where["b"][1]) == (where["x"][1] < where["y"][1])
    assert where["y"][1] < where["z"][1] or where["x"][1] > where["z"][1]
    check_drawing(drawn)


def test_layout_is_deterministic_whatever_the_order_of_edges() -> None:
    rng = random.Random(7)
    nodes = [f"v{i}" for i in range(120)]
    edges = [(nodes[rng.randrange(i)], nodes[i]) for i in range(1, 120) for _ in range(2)]
    first = layout(nodes, edges, focus_layers(nodes, edges, "v60"))
    shuffled = list(edges)
    rng.shuffle(shuffled)
    again = layout(nodes, shuffled, focus_layers(nodes, shuffled, "v60"))
    assert first == again
    check_drawing(first)


def test_a_long_edge_runs_between_the_boxes_of_the_columns_it_crosses() -> None:
    nodes = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]
    drawn = layout(nodes, edges, longest_path_layers(nodes, edges))
    long = next(e for e in drawn.edges if (e.parent, e.child) == ("a", "d"))
    crossings = re.findall(r"H(\d+)", long.path)
    assert len(crossings) == 2  # through the columns of b and c
    where = boxes(drawn)
    for waypoint in re.findall(r"C\d+ \d+ \d+ \d+ (\d+) (\d+)H", long.path):
        x, y = map(int, waypoint)
        column = [(bx, by) for bx, by in where.values() if bx == x]
        assert column and all(not by <= y <= by + GEO.box_height for _, by in column)
    check_drawing(drawn)


def test_500_parents_make_a_tall_column_with_the_focus_on_the_first_screen() -> None:
    parents = [f"p{i:03d}" for i in range(500)]
    nodes = ["f", *parents]
    edges = [(p, "f") for p in parents]
    drawn = layout(nodes, edges, focus_layers(nodes, edges, "f"))
    where = boxes(drawn)
    assert drawn.height >= 500 * (GEO.box_height + GEO.gap_y)
    assert where["f"][1] <= GEO.margin + FAN_REACH
    assert [where[p][1] for p in parents] == sorted(where[p][1] for p in parents)
    check_drawing(drawn)


def test_a_chain_of_500_is_one_row_500_columns_wide() -> None:
    chain = [f"n{i}" for i in range(500)]
    edges = [(chain[i], chain[i + 1]) for i in range(499)]
    drawn = layout(chain, edges, focus_layers(chain, edges, chain[-1]))
    assert {y for _, y in boxes(drawn).values()} == {GEO.margin}
    assert drawn.width == 2 * GEO.margin + 500 * GEO.box_width + 499 * GEO.gap_x
    check_drawing(drawn)


def test_a_thousand_nodes_lay_out_quickly() -> None:
    rng = random.Random(1)
    nodes = [f"v{i}" for i in range(1000)]
    edges = [(nodes[rng.randrange(i)], nodes[i]) for i in range(1, 1000) for _ in range(2)]
    started = time.perf_counter()
    drawn = layout(nodes, edges, focus_layers(nodes, edges, "v500"))
    assert time.perf_counter() - started < 1.0
    assert len(drawn.nodes) == 1000
    check_drawing(drawn)


def test_empty_and_single_node_drawings() -> None:
    assert layout([], [], {}).nodes == []
    one = layout(["x"], [("x", "x"), ("x", "missing")], {"x": 0})
    assert [(p.x, p.y) for p in one.nodes] == [(GEO.margin, GEO.margin)] and one.edges == []


# -- the step graph of a run ---------------------------------------------------------------
class BranchFlow(Flow):
    rates = Parameter("rates", default=[0.5, 2.0])

    @step
    def start(self) -> None:
        self.data = [1.0, 2.0]
        self.next(self.clean, self.describe)

    @step
    def clean(self) -> None:
        self.cleaned = [x / 2 for x in self.data]
        self.next(self.prepared)

    @step
    def describe(self) -> None:
        self.mean = sum(self.data) / len(self.data)
        self.next(self.prepared)

    @step
    def prepared(self, inputs: Any) -> None:
        self.merge_artifacts(inputs)  # stores nothing new
        self.next(self.score, foreach="rates")

    @step
    def score(self) -> None:
        self.loss = self.mean * self.input
        self.next(self.pick)

    @step
    def pick(self, inputs: Any) -> None:
        self.best = min(i.loss for i in inputs)
        self.next(self.check)

    @step
    def check(self) -> None:
        assert self.best >= 0  # reads, stores nothing
        self.next(self.end)

    @step
    def end(self) -> None:
        self.summary = f"best {self.best}"


class QuietJoinFlow(Flow):
    @step
    def start(self) -> None:
        self.items = ["a", "b"]
        self.next(self.work, foreach="items")

    @step
    def work(self) -> None:
        self.out = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.next(self.end)  # reads nothing: placed after the step started before it

    @step
    def end(self) -> None:
        pass


class BrokenFlow(Flow):
    @step
    def start(self) -> None:
        self.rows = [3, 1]
        self.next(self.train)

    @step
    def train(self) -> None:
        if self.rows:
            raise RuntimeError(f"no GPU for {len(self.rows)} rows <b>")
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


@step
def load() -> list[int]:
    return [1, 2]


@step
def double(rows: list[int]) -> list[int]:
    return [2 * r for r in rows]


@step
def fail(rows: list[int]) -> int:
    raise ValueError("the sums differ")


@pytest.fixture(scope="module")
def catalog_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A catalog with three flow runs (one failed), two pipeline runs (one failed) and
    a lineage: ``raw -> clean -> features`` plus ``raw -> features``, two models of
    ``features`` (one deleted)."""
    home = tmp_path_factory.mktemp("graph") / "home"
    with ArtifactCatalog(home) as catalog:
        BranchFlow().run(catalog=catalog)
        QuietJoinFlow().run(catalog=catalog)
        with pytest.raises(RuntimeError, match="no GPU"):
            BrokenFlow().run(catalog=catalog)
        with pipeline("etl", catalog=catalog, parameters={"day": "2024-01-02"}):
            double(load())
        with pytest.raises(ValueError, match="the sums differ"), \
                pipeline("etl", catalog=catalog):
            fail(double(load()))
        raw = catalog.register("raw", "Dataset", data={"x": 1})
        clean = catalog.register("clean", "Dataset", data={"x": 2}, parent_ids=[raw])
        features = catalog.register("features", "FeatureSet", data={"x": 3},
                                    parent_ids=[raw, clean])
        catalog.register("model", "Model", data={"x": 4}, parent_ids=[features])
        old = catalog.register("old_model", "Model", data={"x": 5}, parent_ids=[features])
        catalog.delete(old)
    yield home


def run_of(home: Path, ref: str) -> RunRecord:
    with ArtifactCatalog(home) as catalog:
        return catalog.get_run(ref)


def test_the_step_graph_of_a_flow_is_read_back_from_its_tasks(catalog_home: Path) -> None:
    run = run_of(catalog_home, "BranchFlow/1")
    assert set(step_edges(run.tasks, flow=True)) == {
        ("start", "clean"), ("start", "describe"), ("clean", "prepared"),
        ("describe", "prepared"), ("prepared", "score"), ("score", "pick"),
        ("pick", "check"), ("check", "end")}


def test_a_step_linked_to_nothing_follows_the_step_started_before_it(
        catalog_home: Path) -> None:
    run = run_of(catalog_home, "QuietJoinFlow/1")
    assert step_edges(run.tasks, flow=True) == [
        ("start", "work"), ("work", "join"), ("join", "end")]
    broken = run_of(catalog_home, "BrokenFlow/1")
    assert step_edges(broken.tasks, flow=True) == [("start", "train")]


def test_the_steps_of_a_pipeline_are_linked_by_what_they_read(catalog_home: Path) -> None:
    run = run_of(catalog_home, "etl/2")
    assert step_edges(run.tasks, flow=False) == [("load", "double"), ("double", "fail")]


# -- the pages ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(catalog_home: Path) -> Iterator[TestClient]:
    app = create_app(ServerSettings(home=str(catalog_home), insecure_single_user=True))
    with TestClient(app, base_url=LOOPBACK_URL) as test_client:
        yield test_client


def version_id(home: Path, ref: str) -> str:
    with ArtifactCatalog(home) as catalog:
        return catalog.get(ref).id


def test_the_lineage_page_draws_every_version_as_a_link(
        client: TestClient, catalog_home: Path) -> None:
    features = version_id(catalog_home, "features:1")
    answer = client.get(f"/versions/{features}/lineage",
                        params={"highlight": "type:Model"})
    assert answer.status_code == 200
    html = answer.text
    assert "<svg" in html and "style=" not in html and "<script>" not in html
    nodes = re.findall(r'<a class="node ([^"]*)" href="/versions/([^"]+)"', html)
    assert len(nodes) == 5
    classes = {node: cls.split() for cls, node in nodes}
    assert "focus" in classes[features]
    assert sum("hit" in c for c in classes.values()) == 1  # the deleted model is no hit
    assert sum("gone" in c for c in classes.values()) == 1
    assert html.count('class="edge"') == 5
    assert "2 up" not in html and "1 up" in html  # hops of the table: raw is a parent


def test_the_lineage_page_refuses_bad_controls_and_reports_a_bad_query(
        client: TestClient, catalog_home: Path) -> None:
    raw = version_id(catalog_home, "raw:1")
    assert client.get(f"/versions/{raw}/lineage?direction=sideways").status_code == 422
    assert client.get(f"/versions/{raw}/lineage?depth=0").status_code == 422
    down = client.get(f"/versions/{raw}/lineage?direction=down&depth=1")
    assert down.status_code == 200 and down.text.count('class="node ') == 3  # clean, features
    broken = client.get(f"/versions/{raw}/lineage", params={"highlight": "created>"})
    assert broken.status_code == 200 and "query-error" in broken.text


def test_the_runs_page_lists_runs_with_their_status(client: TestClient) -> None:
    html = client.get("/runs").text
    assert html.count('<tr>\n    <td><a href="/runs?pipeline=') == 5
    assert 'class="status failed"' in html and 'class="status succeeded"' in html
    failed = client.get("/runs", params={"status": "failed"}).text
    assert "BrokenFlow/1" in failed and "BranchFlow/1" not in failed
    assert client.get("/runs?status=sideways").status_code == 422
    assert client.get("/runs?page=0").status_code == 422


def test_the_run_page_of_a_flow_draws_its_steps_and_shows_the_error(
        client: TestClient) -> None:
    html = client.get("/runs/BrokenFlow/1").text
    assert "no GPU for 2 rows &lt;b&gt;" in html and "<b>" not in html.split("no GPU")[1][:20]
    assert 'href="#step-train"' in html and 'id="step-train"' in html
    assert re.search(r'class="node step failed"', html)
    branch = client.get("/runs/BranchFlow/1").text
    assert branch.count('class="node step') == 8 and branch.count('class="edge"') == 8
    assert "BranchFlow.summary:1" in branch


def test_the_run_page_of_a_pipeline_links_inputs_and_outputs(
        client: TestClient, catalog_home: Path) -> None:
    html = client.get("/runs/etl/2").text
    assert "the sums differ" in html
    # the second run recomputed an unchanged double: it links the version the first made
    assert f'href="/versions/{version_id(catalog_home, "double:1")}">double:1</a>' in html
    assert client.get("/runs/etl/9").status_code == 404
    assert client.get("/runs/not a run").status_code == 422
