"""What the UI must never do, in a real browser: run script from the catalog's data
(tags, column names, descriptions, the query box), allow inline script or style through
its Content-Security-Policy, accept a write sent from another site, or send a user to
another host after login."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from archivist import ArtifactCatalog
from tests.fixtures.browser import screenshot, serve_app
from tests.server.ui.conftest import (
    MODEL_VERSIONS,
    XSS_COLUMN,
    XSS_DESCRIPTION,
    XSS_TAG,
    Site,
    Watch,
    login,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.usefixtures("watch")
PAGES = Path(__file__).resolve().parents[3] / "src" / "archivist" / "server" / "ui" / "pages"
#: elements that would mean markup from the data reached the page as markup
INJECTED = "main script, main img[src=x], main b:text-is('bold')"
INLINE = """() => [...document.querySelectorAll('*')].flatMap((e) =>
    [...e.attributes].filter((a) => a.name.startsWith('on') || a.name === 'style')
    .map((a) => e.tagName + '[' + a.name + ']'))"""


def no_script_ran(page: Page, watch: Watch) -> None:
    assert watch.dialogs == []
    assert page.locator(INJECTED).count() == 0
    assert page.evaluate(INLINE) == []


def test_a_tag_payload_is_text_on_home_and_search(page: Page, single: Site,
                                                  watch: Watch) -> None:
    page.goto(single.at("/"))
    assert page.locator(".tag", has_text=XSS_TAG).first.is_visible()
    assert page.locator(".tag", has_text=XSS_TAG).first.inner_text() == f"note:{XSS_TAG}"
    no_script_ran(page, watch)
    screenshot(page, "xss-home")

    page.goto(single.at("/search?" + urlencode({"tag": f"note:{XSS_TAG}"})))
    rows = page.locator("table.versions tbody tr")
    assert rows.count() == 1
    assert rows.first.locator("a").first.inner_text() == "fraud_model"
    assert XSS_TAG in rows.first.locator(".tags").inner_text()
    assert XSS_TAG in page.locator("main p.muted code").first.inner_text()  # the query
    assert page.locator("input[name=tag]").first.input_value() == f"note:{XSS_TAG}"
    no_script_ran(page, watch)
    screenshot(page, "xss-search")

    page.goto(single.version(f"fraud_model:{MODEL_VERSIONS}"))
    tags = page.locator("section", has=page.get_by_role("heading", name="Tags", exact=True))
    assert tags.locator("tr", has_text="note").locator("td").nth(1).inner_text() == XSS_TAG
    no_script_ran(page, watch)


def test_a_column_named_like_markup_is_text_on_the_version_page(page: Page, single: Site,
                                                                watch: Watch) -> None:
    page.goto(single.version("customers:1"))
    header = page.locator("table.preview thead th")
    assert [h.strip() for h in header.all_inner_texts()] == ["customer", XSS_COLUMN]
    stats = page.locator("section.stats tbody tr td:first-child")
    assert XSS_COLUMN in [s.strip() for s in stats.all_inner_texts()]
    schema = page.locator("section", has=page.get_by_role("heading", name="Schema"))
    assert XSS_COLUMN in schema.inner_text()
    assert page.get_by_text(XSS_COLUMN, exact=True).first.is_visible()
    if page.locator("section.stats svg").count():  # histograms are labelled by column
        assert page.locator("section.stats svg").last.get_attribute(
            "aria-label") == f"histogram of {XSS_COLUMN}"
    no_script_ran(page, watch)
    screenshot(page, "xss-version-columns")

    if (PAGES / "compare.py").exists():
        page.goto(single.at("/compare?v=customers:1&v=transactions:1"))
        assert XSS_COLUMN in page.locator("main").inner_text()
        no_script_ran(page, watch)


def test_a_description_with_markup_is_text(page: Page, single: Site, watch: Watch) -> None:
    page.goto(single.version("transactions:2"))
    assert page.get_by_text(XSS_DESCRIPTION, exact=True).is_visible()
    no_script_ran(page, watch)


@pytest.mark.parametrize(("name", "path"), [
    ("query", "/search?q=" + quote(f"{XSS_TAG} ((")),
    ("name", "/artifacts/" + quote(XSS_COLUMN, safe="")),
    ("version-id", "/versions/" + quote(XSS_TAG, safe="")),
    ("compare", "/compare?" + urlencode({"v": [XSS_TAG, XSS_COLUMN]}, doseq=True)),
    ("lineage", "/versions/{fraud_model:1}/lineage?" + urlencode({"highlight": XSS_TAG})),
])
def test_markup_sent_in_the_url_comes_back_as_text(page: Page, single: Site, watch: Watch,
                                                   name: str, path: str) -> None:
    if name in ("compare", "lineage") and not (PAGES / f"{name}.py").exists():
        pytest.skip(f"pages/{name}.py does not exist yet")
    url = single.at(path.replace("{fraud_model:1}", single.catalog.ids["fraud_model:1"]))
    response = page.goto(url)
    assert response is not None and response.status < 500
    no_script_ran(page, watch)
    screenshot(page, f"xss-reflected-{name}")


def csp_directives(value: str) -> dict[str, list[str]]:
    parts = (d.split() for d in value.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def html_paths(site: Site) -> list[str]:
    ids = site.catalog.ids
    paths = ["/", "/search", "/search?q=type:Model", "/search?q=((", "/artifacts/fraud_model",
             "/versions/0000", "/artifacts/no_such_name"]
    paths += [f"/versions/{ids[ref]}" for ref in (
        "transactions:2", "customers:1", "roc:1", "images:1", "labels:1", "fraud_model:5")]
    if (PAGES / "lineage.py").exists():
        paths.append(f"/versions/{ids['fraud_model:5']}/lineage")
    if (PAGES / "compare.py").exists():
        paths += ["/compare", "/compare?v=transactions:1&v=transactions:2"]
    if (PAGES / "runs.py").exists():
        paths += ["/runs", f"/runs/{ids['run:etl/1']}", f"/runs/{ids['run:fraud_detection/1']}"]
    return paths


def test_every_html_page_has_a_strict_csp_and_obeys_it(page: Page, single: Site,
                                                       keyed: Site, watch: Watch) -> None:
    """Each page is loaded in the browser: the watch fixture fails the test on any CSP
    violation the console reports; here the header is checked, and that the page has no
    inline script, handler or style that the CSP would block."""
    checked = []
    for url in [single.at(p) for p in html_paths(single)] + [keyed.at("/login")]:
        response = page.goto(url)
        assert response is not None
        headers = response.headers
        assert headers["content-type"].startswith("text/html"), url
        policy = csp_directives(headers["content-security-policy"])
        assert policy["script-src"] == ["'self'"], url
        assert "'unsafe-inline'" not in policy.get("style-src", []), url
        assert policy["default-src"] == ["'none'"], url
        assert headers["x-content-type-options"] == "nosniff", url
        assert page.locator("script:not([src])").count() == 0, url
        assert page.evaluate(INLINE) == [], url
        assert all(re.match(r"/ui/static/", s or "") for s in
                   [e.get_attribute("src") for e in page.locator("script").all()]), url
        checked.append((url, response.status))
    assert {s for _, s in checked} == {200, 404, 422}
    assert watch.dialogs == []


def evil_site(target: str, fields: dict[str, str]) -> FastAPI:
    """Another site whose page holds a form that posts to ``target``."""
    app = FastAPI()
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())

    @app.get("/")
    def index() -> HTMLResponse:
        return HTMLResponse(f'<form method="post" action="{target}">{inputs}'
                            '<button>Win a prize</button></form>')

    return app


def test_a_form_on_another_site_cannot_write(page: Page, single: Site, watch: Watch) -> None:
    """The single-user form token is the same for everyone (there is no secret to derive
    it from): the same-origin check is what refuses another site's form."""
    version = single.version("fraud_model:1")
    page.goto(version)
    token = page.locator("form.edit-tag input[name=csrf]").input_value()
    fields = {"csrf": token, "key": "pwned", "value": "yes"}
    with serve_app(evil_site(f"{version}/tags", fields)) as evil:
        page.goto(evil.replace("127.0.0.1", "localhost"))  # another site than 127.0.0.1
        with page.expect_navigation() as answer:
            page.get_by_role("button", name="Win a prize").click()
        assert answer.value is not None and answer.value.status == 403
        # refused by the single-user server's own guard (a JSON error), before the UI
        assert "another site" in page.locator("body").inner_text()
        screenshot(page, "cross-site-form-refused")
    with ArtifactCatalog(single.catalog.home) as catalog:
        assert "pwned" not in catalog.get("fraud_model:1").tags
    assert watch.dialogs == []


def test_a_post_with_another_origin_is_refused(page: Page, keyed: Site) -> None:
    login(page, keyed, "write")
    version = keyed.version("fraud_model:1")
    page.goto(version)
    token = page.locator("form.edit-tag input[name=csrf]").input_value()
    evil = {"Origin": "http://evil.example"}
    posts: list[tuple[str, dict[str, str | float | bool]]] = [
        (f"{version}/tags", {"csrf": token, "key": "pwned", "value": "yes"}),
        (f"{version}/aliases", {"csrf": token, "alias": "pwned"}),
        (keyed.at("/logout"), {"csrf": token}),
        (keyed.at("/login"), {"key": keyed.secrets["read"], "next": "/"})]
    for url, form in posts:
        answer = page.request.post(url, form=form, headers=evil, max_redirects=0)
        assert answer.status == 403, url
        assert "another origin" in answer.text(), url
    # the same request from this origin goes through: the Origin header made the refusal
    same = page.request.post(f"{version}/tags", form={"csrf": token, "key": "ok", "value": "1"},
                             headers={"Origin": keyed.url}, max_redirects=0)
    assert same.status == 303
    with ArtifactCatalog(keyed.catalog.home) as catalog:
        found = catalog.get("fraud_model:1")
        assert "pwned" not in found.tags and "pwned" not in found.aliases
        assert found.tags["ok"] == 1
        catalog.untag("fraud_model:1", "ok")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_login_never_sends_the_user_to_another_host(page: Page, keyed: Site, watch: Watch,
                                                    target: str) -> None:
    login(page, keyed, "read", quote(target, safe=""))
    assert page.url == keyed.at("/")
    assert watch.dialogs == []
