"""The read-only pages in a real browser: home, search, an artifact's versions, a
version's content and downloads (single-user server on the rich catalog of conftest)."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest

from archivist import ArtifactCatalog
from archivist.errors import InvalidQueryError
from archivist.query.parser import parse_query
from tests.fixtures.browser import screenshot
from tests.server.ui.conftest import BULK, IMAGE_FILES, LABELS, MODEL_VERSIONS, Site

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.usefixtures("watch")
LOADED = "(img) => img.complete && img.naturalWidth > 0"


def texts(locator: Locator) -> list[str]:
    return [t.strip() for t in locator.all_inner_texts()]


def result_names(page: Page | Locator) -> list[str]:
    """The ``name:version`` of each row of the shared versions table."""
    rows = page.locator("table.versions tbody tr")
    return [f"{r.locator('td').nth(0).locator('a').inner_text()}:"
            f"{r.locator('td').nth(2).inner_text()}" for r in rows.all()]


# -- home ----------------------------------------------------------------------------------


def test_home_shows_counts_aliases_recent_versions_and_runs(page: Page, single: Site) -> None:
    page.goto(single.at("/"))
    assert page.locator("h1").inner_text() == "Project default"
    cards = texts(page.locator(".cards .card"))
    for expected in (f"{MODEL_VERSIONS}\nModel", "3\nDataset", f"{BULK}\nSample",
                     "1\nPlot", "1\nDirectory"):
        assert expected in cards
    aliases = page.locator("section", has=page.get_by_role("heading", name="Aliases"))
    production = aliases.locator("tr", has_text="@production")
    assert production.locator("td").last.inner_text() == f"fraud_model:{MODEL_VERSIONS - 1}"
    staging = aliases.locator("tr", has_text="@staging")
    assert staging.locator("td").last.inner_text() == f"fraud_model:{MODEL_VERSIONS}"
    runs = page.locator("section", has=page.get_by_role("heading", name="Recent runs"))
    assert runs.locator("tr", has_text="etl/1").locator(".status").inner_text() == "failed"
    assert runs.locator("tr", has_text="fraud_detection/1").locator(
        ".status").inner_text() == "succeeded"
    recent = result_names(page.locator("section", has=page.get_by_role(
        "heading", name="Recent versions")))
    assert {"roc:1", "images:1", "labels:1", f"fraud_model:{MODEL_VERSIONS}"} <= set(recent)
    screenshot(page, "home")

    production.get_by_role("link").last.click()
    page.wait_for_url(single.version(f"fraud_model:{MODEL_VERSIONS - 1}"))
    assert page.locator("h1").inner_text().startswith(f"fraud_model:{MODEL_VERSIONS - 1}")


def test_an_empty_catalog_shows_the_first_steps(page: Page, empty: Site) -> None:
    page.goto(empty.at("/"))
    section = page.locator("section.empty")
    assert section.get_by_role("heading", name="Nothing registered yet").is_visible()
    assert "catalog.register(" in section.locator("pre").inner_text()
    assert page.locator(".cards").count() == 0
    screenshot(page, "home-empty")


# -- search --------------------------------------------------------------------------------


def test_search_by_type(page: Page, single: Site) -> None:
    page.goto(single.at("/search?q=type:Model"))
    found = result_names(page)
    # project other holds a Model too: not shown in project default
    assert sorted(found) == sorted(f"fraud_model:{n}" for n in range(1, MODEL_VERSIONS + 1))
    assert set(texts(page.locator("table.versions tbody td:nth-child(2)"))) == {"Model"}
    assert page.locator(".query-error").count() == 0
    screenshot(page, "search-type-model")


def test_a_malformed_query_shows_where_it_fails(page: Page, single: Site) -> None:
    text = "type:Model (("
    with pytest.raises(InvalidQueryError) as raised:
        parse_query(text)
    response = page.goto(single.at("/search?q=type:Model%20(("))
    assert response is not None and response.status == 422
    box = page.locator(".query-error")
    assert box.is_visible()
    assert "does not parse" in box.inner_text()
    assert raised.value.message in box.inner_text()
    shown, caret = box.locator("pre").inner_text().split("\n")[:2]
    assert shown == text
    assert caret.index("^") == raised.value.position
    assert page.locator("form.search input[name=q]").input_value() == text  # fix it there
    screenshot(page, "search-error")


def test_facets_narrow_the_results(page: Page, single: Site, browser: Browser) -> None:
    page.goto(single.at("/search"))
    page.locator("select[name=type]").select_option("Model")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/search?*type=Model*")
    assert len(result_names(page)) == MODEL_VERSIONS

    page.locator("input[name=tag]").last.fill("stage:prod")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**tag=stage%3Aprod*")
    assert result_names(page) == [f"fraud_model:{MODEL_VERSIONS - 1}"]
    assert "tag.stage:prod" in page.locator("main p.muted code").first.inner_text()
    screenshot(page, "search-facets")

    # the URL holds the whole search: another browser context gets the same results
    shared = browser.new_context()
    try:
        other = shared.new_page()
        other.goto(page.url)
        assert result_names(other) == result_names(page)
        assert other.locator("select[name=type] option:checked").inner_text().startswith(
            "Model")
        # the facet inputs show the search again, one empty input to add a tag
        assert [i.input_value() for i in other.locator("input[name=tag]").all()] == [
            "stage:prod", ""]
    finally:
        shared.close()


def test_a_column_header_sorts(page: Page, single: Site) -> None:
    page.goto(single.at("/search?q=name:fraud_model"))
    page.locator("table.versions thead a", has_text="version").click()
    page.wait_for_url("**sort=version*")
    assert result_names(page) == [f"fraud_model:{n}" for n in range(1, MODEL_VERSIONS + 1)]
    assert "▲" in page.locator("table.versions thead a", has_text="version").inner_text()

    page.locator("table.versions thead a", has_text="version").click()
    page.wait_for_url("**sort=-version*")
    assert result_names(page) == [f"fraud_model:{n}" for n in range(MODEL_VERSIONS, 0, -1)]
    screenshot(page, "search-sorted")


def test_more_than_a_page_of_results_has_a_next_page(page: Page, single: Site) -> None:
    page.goto(single.at("/search?q=type:Sample"))
    first = result_names(page)
    assert len(first) == 50
    assert page.locator(".pager").inner_text().startswith("1\u201350")  # 1 to 50 (en dash)
    page.get_by_role("link", name="next →").click()
    page.wait_for_url("**page=2*")
    second = result_names(page)
    assert len(second) == BULK - 50
    assert not set(first) & set(second)
    assert {f"bulk:{n}" for n in range(1, BULK + 1)} == set(first) | set(second)
    assert page.get_by_role("link", name="← previous").is_visible()
    assert page.get_by_role("link", name="next →").count() == 0
    screenshot(page, "search-page-2")


# -- an artifact's versions ----------------------------------------------------------------


def test_artifact_page_lists_versions_with_aliases_and_a_metric_chart(
        page: Page, single: Site) -> None:
    page.goto(single.at("/artifacts/fraud_model"))
    rows = page.locator("table.versions tbody tr")
    assert rows.count() == MODEL_VERSIONS
    aliases = {row.locator("td").nth(1).inner_text(): row.locator("td").nth(2).inner_text()
               for row in rows.all()}
    assert aliases[f"fraud_model:{MODEL_VERSIONS - 1}"].strip() == "@production"
    assert aliases[f"fraud_model:{MODEL_VERSIONS}"].strip() == "@staging"
    assert aliases["fraud_model:1"].strip() == ""
    assert page.get_by_role("heading", name="accuracy across versions").is_visible()
    chart = page.locator("svg.chart")
    assert chart.is_visible()
    assert chart.locator("circle.dot").count() == MODEL_VERSIONS
    assert chart.locator("path.line").get_attribute("d")
    screenshot(page, "artifact")

    page.get_by_label("compare fraud_model:2").check()
    page.get_by_label(f"compare fraud_model:{MODEL_VERSIONS - 1}").check()
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url("**/compare?*")
    chosen = parse_qs(urlsplit(page.url).query)["v"]
    ids = single.catalog.ids
    assert sorted(chosen) == sorted([ids["fraud_model:2"],
                                     ids[f"fraud_model:{MODEL_VERSIONS - 1}"]])
    if page.locator("table.compare").count():  # the compare page exists
        heading = page.locator("h1").inner_text()
        assert "fraud_model:2" in heading and f"fraud_model:{MODEL_VERSIONS - 1}" in heading
        screenshot(page, "artifact-compare-selected")


def test_the_metric_chart_switches_metric(page: Page, single: Site) -> None:
    page.goto(single.at("/artifacts/fraud_model"))
    page.locator("select[name=metric]").select_option("loss")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**metric=loss*")
    assert page.get_by_role("heading", name="loss across versions").is_visible()
    titles = [t.text_content() for t in page.locator("svg.chart circle.dot title").all()]
    assert len(titles) == MODEL_VERSIONS
    assert titles[0] == "fraud_model:1 = 0.8"


# -- a version's page ----------------------------------------------------------------------


def test_dataset_version_shows_schema_preview_and_statistics(page: Page, single: Site) -> None:
    with ArtifactCatalog(single.catalog.home) as catalog:
        stats = catalog.get("transactions:2").metadata["stats"]
    page.goto(single.version("transactions:2"))
    schema = page.locator("section", has=page.get_by_role("heading", name="Schema"))
    assert "40 rows · 3 columns" in schema.locator("h2").inner_text()
    assert [r.split("\t")[0] for r in texts(schema.locator("tbody tr"))] == [
        "amount", "shop", "fraud"]
    preview = page.locator("table.preview")
    assert texts(preview.locator("thead th")) == ["amount", "shop", "fraud"]
    assert preview.locator("tbody tr").count() == 20  # the first 20 of 40 rows
    assert texts(preview.locator("tbody tr").first.locator("td")) == ["100", "shop", "1"]

    table = page.locator("section.stats table")
    assert texts(table.locator("tbody tr td:first-child")) == list(stats)
    amount = table.locator("tbody tr", has_text="amount").first
    assert amount.locator("td").nth(1).inner_text() == "40"  # count
    if "histogram" in stats["amount"]:
        bars = amount.locator("svg[aria-label='histogram of amount'] rect.bar")
        assert bars.count() == len(stats["amount"]["histogram"]["counts"])
        assert amount.locator("svg").is_visible()
    shop = table.locator("tbody tr", has_text="shop").first
    assert "4 ·" in shop.locator("td").nth(7).inner_text()  # distinct · top
    screenshot(page, "version-dataset")


def test_plot_version_shows_its_image(page: Page, single: Site) -> None:
    page.goto(single.version("roc:1"))
    image = page.locator("section.plot img")
    image.wait_for()
    page.wait_for_load_state("load")
    assert image.evaluate(LOADED) is True
    assert image.evaluate("(img) => img.naturalWidth") > 100
    screenshot(page, "version-plot")


def test_model_version_shows_its_metrics(page: Page, single: Site) -> None:
    page.goto(single.version("fraud_model:3"))
    metrics = page.locator("section", has=page.get_by_role("heading", name="Metrics"))
    rows = {r.split("\t")[0]: r.split("\t")[1] for r in texts(metrics.locator("tbody tr"))}
    assert rows == {"accuracy": "0.82", "loss": "0.6"}
    producer = page.locator("section", has=page.get_by_role("heading", name="Producer"))
    assert "transactions:2" in producer.inner_text()  # made from
    screenshot(page, "version-model")


def test_directory_version_lists_files_and_downloads_each(page: Page, single: Site,
                                                         tmp_path: Path) -> None:
    page.goto(single.version("images:1"))
    files = page.locator("section", has=page.get_by_role("heading", name="Files"))
    assert texts(files.locator("tbody td:first-child")) == sorted(IMAGE_FILES)
    screenshot(page, "version-directory")
    for name, content in IMAGE_FILES.items():
        with page.expect_download() as info:
            files.get_by_role("link", name=name).click()
        target = tmp_path / name.replace("/", "_")
        info.value.save_as(target)
        assert target.read_bytes() == content
        assert info.value.suggested_filename == name.rsplit("/", 1)[-1]

    with page.expect_download() as info:
        page.get_by_role("link", name="Download (.tar)").click()
    info.value.save_as(tmp_path / "all.tar")
    with tarfile.open(tmp_path / "all.tar") as archive:
        found = {m.name.split("/", 1)[1]: archive.extractfile(m).read()  # type: ignore[union-attr]
                 for m in archive.getmembers() if m.isfile()}
    assert found == IMAGE_FILES


def test_file_version_downloads_what_was_registered(page: Page, single: Site,
                                                    tmp_path: Path) -> None:
    page.goto(single.version("labels:1"))
    with page.expect_download() as info:
        page.locator("p.tabs").get_by_role("link", name="Download").click()
    info.value.save_as(tmp_path / "labels")
    assert (tmp_path / "labels").read_bytes() == LABELS


def test_copy_buttons_copy_the_reference(page: Page, single: Site) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                   origin=single.url)
    page.goto(single.version("transactions:2"))
    copies = page.locator("button.copy")
    assert copies.count() >= 4  # reference, URI, id, digest
    copied = [copies.nth(i).get_attribute("data-copy") for i in range(copies.count())]
    assert "transactions:2" in copied and single.catalog.ids["transactions:2"] in copied
    copies.first.click()
    page.wait_for_function("() => document.querySelector('button.copy').textContent"
                           " === 'copied'")
    assert page.evaluate("() => navigator.clipboard.readText()") == "transactions:2"
