"""Logging in to a server with API keys in a real browser: the redirect to the login
page, a wrong key, the cookie (HttpOnly, SameSite=Strict, unreadable by scripts),
logging out, a key of another project, and the REST API's own authentication."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from tests.fixtures.browser import screenshot
from tests.server.ui.conftest import Site, login

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.usefixtures("watch")
KEY_COOKIE = "archivist_key"


def key_cookies(page: Page) -> list[dict[str, object]]:
    return [dict(c) for c in page.context.cookies() if c["name"] == KEY_COOKIE]


def test_without_a_key_every_page_leads_to_the_login(page: Page, keyed: Site) -> None:
    wanted = f"/versions/{keyed.catalog.ids['fraud_model:2']}"
    for path in ("/", "/search?q=type:Model", wanted):
        page.goto(keyed.at(path))
        assert page.url == keyed.at(f"/login?next={quote(path, safe='/')}")
        assert page.get_by_role("heading", name="Log in").is_visible()
    screenshot(page, "login")


def test_a_wrong_key_is_refused_with_a_message(page: Page, keyed: Site) -> None:
    page.goto(keyed.at("/login"))
    page.fill("input[name=key]", "ak_" + "x" * 43)
    with page.expect_navigation() as answer:
        page.click("form[action='/login'] button")
    assert answer.value is not None and answer.value.status == 401
    assert page.locator(".login .bad").inner_text() == "that API key is not valid"
    assert key_cookies(page) == []
    screenshot(page, "login-wrong-key")


def test_the_right_key_logs_in_with_a_cookie_scripts_cannot_read(page: Page,
                                                                 keyed: Site) -> None:
    wanted = f"/versions/{keyed.catalog.ids['fraud_model:2']}"
    login(page, keyed, "read", wanted)
    assert page.url == keyed.at(wanted)  # back where the login started
    assert page.locator("h1").inner_text().startswith("fraud_model:2")
    assert "project default · ui-read (read)" in page.locator("header .who").inner_text()

    [cookie] = key_cookies(page)
    assert cookie["value"] == keyed.secrets["read"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    seen = page.evaluate("() => document.cookie")
    assert KEY_COOKIE not in seen and keyed.secrets["read"] not in seen
    screenshot(page, "logged-in")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(keyed.at("/login"))
    assert key_cookies(page) == []
    page.goto(keyed.at("/"))
    assert page.url.startswith(keyed.at("/login"))


def test_a_key_of_another_project_does_not_see_this_one(page: Page, keyed: Site) -> None:
    login(page, keyed, "other_read")
    assert "project other" in page.locator("header .who").inner_text()
    assert "secret_model" in page.locator("main").inner_text()
    assert "fraud_model" not in page.locator("main").inner_text()
    for path in (f"/versions/{keyed.catalog.ids['fraud_model:2']}",
                 f"/versions/{keyed.catalog.ids['images:1']}/content",
                 "/artifacts/fraud_model"):
        response = page.goto(keyed.at(path))
        assert response is not None and response.status == 404, path
        assert page.locator("h1").inner_text() == "Not found"
    screenshot(page, "other-project-404")


def test_the_cookie_does_not_authenticate_the_rest_api(page: Page, keyed: Site) -> None:
    login(page, keyed, "read")
    api = keyed.at("/api/v1/projects/default/versions")
    assert page.request.get(api).status == 401  # the browser's cookie is sent, not used
    bearer = {"Authorization": f"Bearer {keyed.secrets['read']}"}
    answer = page.request.get(api, headers=bearer)
    assert answer.status == 200
    assert {a["project"] for a in answer.json()["data"]} == {"default"}
