"""Changing tags and aliases from a version's page in a real browser: with a single-user
server and a ``write`` key the forms work (and ask before removing); a ``read`` key
gets no form, and a write sent by hand is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from archivist import ArtifactCatalog
from tests.fixtures.browser import screenshot
from tests.server.ui.conftest import Site, Watch, login

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.usefixtures("watch")


def section(page: Page, heading: str) -> Locator:
    return page.locator("section", has=page.get_by_role("heading", name=heading, exact=True))


def tag_rows(page: Page) -> dict[str, str]:
    rows = section(page, "Tags").locator("tbody tr")
    return {r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text()
            for r in rows.all() if r.locator("td").count() >= 2}


def history(page: Page) -> list[list[str]]:
    """The rows of the version's change history, newest first: when, what, key, from,
    to, by."""
    rows = section(page, "Tag and alias changes").locator("tbody tr")
    return [[c.strip() for c in r.locator("td").all_inner_texts()] for r in rows.all()]


def submit(page: Page, button: Locator) -> None:
    """Click a form's button and wait for the page the form leads to (the POST redirects
    back to the same URL, so waiting for the URL would not wait at all)."""
    with page.expect_navigation():
        button.click()


def edit_tags_and_aliases(page: Page, site: Site, ref: str, watch: Watch) -> None:
    """Set a tag and an alias through the forms, then remove both; check the page after
    every redirect and the history table."""
    url = site.version(ref)
    name = ref.split(":")[0]
    page.goto(url)

    form = page.locator("form.edit-tag")
    form.get_by_label("tag key").fill("owner")
    form.get_by_label("tag value").fill("alice")
    submit(page, form.get_by_role("button", name="Set tag"))
    assert page.url == url  # redirected back to the version
    assert tag_rows(page)["owner"] == "alice"
    assert history(page)[0][1:5] == ["tag", "owner", "—", "alice"]

    form = page.locator("form.edit-alias")
    form.get_by_label("alias").fill("candidate")
    submit(page, form.get_by_role("button", name="Point alias here"))
    assert page.url == url
    assert "@candidate" in page.locator("h1").inner_text()
    version_id = site.catalog.ids[ref]
    # an alias change names the version it points at as name:version
    assert history(page)[0][1:5] == ["alias", "candidate", "—", ref]
    with ArtifactCatalog(site.catalog.home) as catalog:
        assert catalog.get(f"{name}@candidate").id == version_id
    screenshot(page, f"edit-{name}")

    row = section(page, "Tags").locator("tr", has_text="owner")
    submit(page, row.get_by_role("button", name="remove"))
    assert page.url == url
    assert "owner" not in tag_rows(page)
    assert history(page)[0][1:5] == ["tag", "owner", "alice", "—"]

    submit(page, section(page, "Aliases").get_by_role("button", name="remove"))
    assert page.url == url
    assert "@candidate" not in page.locator("h1").inner_text()
    assert history(page)[0][1:5] == ["alias", "candidate", ref, "—"]
    # both removals asked first
    assert watch.dialogs == [("confirm", "Remove tag owner?"),
                             ("confirm", f"Remove alias candidate of {name}?")]
    with ArtifactCatalog(site.catalog.home) as catalog:
        version = catalog.get(ref)
        assert "owner" not in version.tags and version.aliases == []


def test_single_user_edits_tags_and_aliases(page: Page, single: Site, watch: Watch) -> None:
    edit_tags_and_aliases(page, single, "scratch_single:1", watch)


def test_a_write_key_edits_tags_and_aliases(page: Page, keyed: Site, watch: Watch) -> None:
    login(page, keyed, "write")
    edit_tags_and_aliases(page, keyed, "scratch_keyed:1", watch)
    assert {row[5] for row in history(page)[:4]} == {"ui-write"}  # the key's name


def test_a_read_key_gets_no_form_and_its_writes_are_refused(page: Page, keyed: Site) -> None:
    login(page, keyed, "read")
    url = keyed.version("scratch_keyed:1")
    page.goto(url)
    assert page.locator("h1").inner_text().startswith("scratch_keyed:1")
    assert page.locator("form[action$='/tags']").count() == 0
    assert page.locator("form[action$='/aliases']").count() == 0
    assert page.get_by_role("button", name="remove").count() == 0
    assert "(read)" in page.locator("header .who").inner_text()
    screenshot(page, "edit-read-key")

    # the session's own form token, taken from the logout form: the scope still refuses
    token = page.locator("form[action='/logout'] input[name=csrf]").input_value()
    posts: list[tuple[str, dict[str, str | float | bool]]] = [
        ("tags", {"key": "reviewer", "value": "mallory", "csrf": token}),
        ("aliases", {"alias": "hijacked", "csrf": token})]
    for path, form in posts:
        answer = page.request.post(f"{url}/{path}", form=form, max_redirects=0)
        assert answer.status == 403, path
        assert "can only read" in answer.text()
    with ArtifactCatalog(keyed.catalog.home) as catalog:
        version = catalog.get("scratch_keyed:1")
        assert "reviewer" not in version.tags and "hijacked" not in version.aliases


def test_a_form_without_its_token_is_refused(page: Page, single: Site) -> None:
    url = single.version("scratch_single:1")
    answer = page.request.post(f"{url}/tags", form={"key": "reviewer", "value": "x"},
                               max_redirects=0)
    assert answer.status == 403
    assert "stale" in answer.text()
    page.goto(url)
    assert "reviewer" not in tag_rows(page)
