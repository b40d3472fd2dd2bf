"""The lineage graph, the compare page and the runs pages in a real browser (each skips
while its page module is not written yet)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fixtures.browser import screenshot
from tests.server.ui.conftest import FAILED_STEP_ERROR, MODEL_VERSIONS, Site

if TYPE_CHECKING:
    from playwright.sync_api import Page

PAGES = Path(__file__).resolve().parents[3] / "src" / "archivist" / "server" / "ui" / "pages"


def needs_page(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not (PAGES / f"{name}.py").exists(),
                              reason=f"the {name} page (ui/pages/{name}.py) is not written yet")


pytestmark = pytest.mark.usefixtures("watch")


@needs_page("lineage")
def test_lineage_graph_links_to_each_version(page: Page, single: Site) -> None:
    ids = single.catalog.ids
    focus = f"fraud_model:{MODEL_VERSIONS - 1}"
    page.goto(single.at(f"/versions/{ids[focus]}/lineage"))
    graph = page.locator(".graph svg")
    assert graph.is_visible()
    nodes = graph.locator("a.node")
    labels = {n.locator("text").first.text_content() for n in nodes.all()}
    # parent and grandparent upstream, the plot made from it downstream
    assert {focus, "transactions:2", "transactions:1", "roc:1"} <= labels
    assert graph.locator("a.node.focus").locator("text").first.text_content() == focus
    assert graph.locator("path.edge").count() >= 3
    table = page.locator("table.lineage-nodes")
    assert "1 up" in table.locator("tr", has_text="transactions:2").inner_text()
    screenshot(page, "lineage")

    graph.locator("a.node", has_text="transactions:2").click()
    page.wait_for_url(single.version("transactions:2"))
    assert page.locator("h1").inner_text().startswith("transactions:2")


@needs_page("lineage")
def test_lineage_highlights_a_query_and_follows_one_direction(page: Page,
                                                              single: Site) -> None:
    ids = single.catalog.ids
    page.goto(single.at(f"/versions/{ids['transactions:1']}/lineage"))
    page.locator("select[name=direction]").select_option("down")
    page.locator("select[name=depth]").select_option("all")
    page.locator("input[name=highlight]").fill("type:Model")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**direction=down**")
    labels = {t.text_content() for t in page.locator(".graph a.node text:first-of-type").all()}
    assert {f"fraud_model:{n}" for n in range(1, MODEL_VERSIONS + 1)} <= labels
    assert page.locator(".graph a.node.hit").count() == MODEL_VERSIONS
    screenshot(page, "lineage-highlight")


@needs_page("compare")
def test_compare_marks_what_differs_between_two_datasets(page: Page, single: Site) -> None:
    ids = single.catalog.ids
    page.goto(single.at(f"/compare?v={ids['transactions:1']}&v={ids['transactions:2']}"))
    heading = page.locator("h1").inner_text()
    assert "transactions:1" in heading and "transactions:2" in heading
    differing = page.locator("td.diff")
    assert differing.count() > 0
    assert differing.first.is_visible()
    schema = page.locator("section", has=page.get_by_role("heading", name="Schema"))
    assert "merchant" in schema.inner_text() and "shop" in schema.inner_text()
    assert schema.locator("tr.differs").count() >= 2  # one column gone, one new
    screenshot(page, "compare-datasets")

    page.get_by_role("link", name="Show only differences").click()
    page.wait_for_url("**changes=1*")
    # the summary stays whole; the other tables keep only the rows that differ
    sections = page.locator("table.compare:not(.summary)")
    assert sections.locator("tbody tr.differs").count() > 0
    assert sections.locator("tbody tr:not(.differs):not(.group)").count() == 0


@needs_page("compare")
def test_compare_takes_references_typed_in_its_form(page: Page, single: Site) -> None:
    page.goto(single.at("/compare"))
    page.get_by_label("version 1").fill("fraud_model@staging")
    page.get_by_label("version 2").fill("fraud_model@production")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/compare?v=*")
    metrics = page.locator("section", has=page.get_by_role("heading", name="Metrics"))
    assert metrics.locator("tr", has_text="accuracy").locator("td.diff").count() >= 1
    screenshot(page, "compare-models")


@needs_page("runs")
def test_runs_list_and_the_failed_run(page: Page, single: Site) -> None:
    page.goto(single.at("/runs"))
    rows = page.locator("table.runs tbody tr")
    statuses = {r.locator("td").nth(1).inner_text(): r.locator(".status").inner_text()
                for r in rows.all()}
    assert statuses == {"etl/1": "failed", "fraud_detection/1": "succeeded"}
    screenshot(page, "runs")

    page.locator("select[name=status]").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=failed*")
    assert page.locator("table.runs tbody tr").count() == 1

    page.get_by_role("link", name="etl/1").click()
    page.wait_for_url(single.at(f"/runs/{single.catalog.ids['run:etl/1']}"))
    assert page.locator("h1 .status").inner_text() == "failed"
    assert FAILED_STEP_ERROR in page.locator(".run-error").inner_text()
    failed = page.locator("table.tasks tr.task.failed")
    assert failed.locator("td").first.inner_text() == "reconcile"
    assert FAILED_STEP_ERROR in page.locator("tr.task-error").inner_text()
    assert page.locator("table.tasks tr.task.succeeded td").first.inner_text() == "extract"
    parameters = page.locator("section", has=page.get_by_role("heading", name="Parameters"))
    assert "2024-01-02" in parameters.inner_text()
    screenshot(page, "run-failed")


@needs_page("runs")
def test_a_version_links_to_the_run_that_made_it(page: Page, single: Site) -> None:
    page.goto(single.version("extract:1"))
    producer = page.locator("section", has=page.get_by_role("heading", name="Producer"))
    link = producer.get_by_role("link", name="fraud_detection/1")
    link.click()
    page.wait_for_url(single.at(f"/runs/{single.catalog.ids['run:fraud_detection/1']}"))
    assert page.locator("h1 .status").inner_text() == "succeeded"
