"""``/docs`` works with no internet: Swagger UI comes from the installed package, the page
names no other host, and a real browser that may reach nothing but 127.0.0.1 renders it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from archivist.server import ServerSettings, create_app
from archivist.server.docs import ASSETS, STATIC_PATH, install_docs, swagger_ui_folder
from tests.fixtures.browser import block_external, screenshot, serve_app

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: Every URL a page loads or links to: src=, href=, url: (Swagger UI's OpenAPI document).
LOADED = re.compile(r"""(?:src|href)="([^"]*)"|url: '([^']*)'""")


def small_app() -> FastAPI:
    app = FastAPI(title="Offline demo", docs_url=None, redoc_url=None)

    @app.get("/items/{item_id}", summary="Read one item")
    def read_item(item_id: int, q: str | None = None) -> dict[str, object]:
        return {"item_id": item_id, "q": q}

    install_docs(app)
    return app


def loaded_urls(html: str) -> list[str]:
    return [a or b for a, b in LOADED.findall(html)]


def test_the_page_loads_only_local_files() -> None:
    with TestClient(small_app()) as client:
        r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "http://" not in r.text and "https://" not in r.text and "//cdn" not in r.text
    assert sorted(loaded_urls(r.text)) == sorted([
        f"{STATIC_PATH}/swagger-ui.css", f"{STATIC_PATH}/favicon-32x32.png",
        f"{STATIC_PATH}/swagger-ui-bundle.js", "/openapi.json"])
    assert "/docs" not in client.get("/openapi.json").json()["paths"]  # not an API route


@pytest.mark.parametrize(("name", "content_type"), [
    ("swagger-ui-bundle.js", "javascript"),
    ("swagger-ui.css", "text/css"),
    ("favicon-32x32.png", "image/png"),
])
def test_the_files_it_loads_are_served(name: str, content_type: str) -> None:
    with TestClient(small_app()) as client:
        r = client.get(f"{STATIC_PATH}/{name}")
    assert r.status_code == 200, r.text
    assert content_type in r.headers["content-type"]
    assert r.content == (swagger_ui_folder() / name).read_bytes()


@pytest.mark.parametrize("path", ["index.html", "swagger-initializer.js", "", "../__init__.py",
                                  "%2e%2e/__init__.py", "nothing.js"])
def test_nothing_else_of_the_package_is_served(path: str) -> None:
    # index.html and swagger-initializer.js would load a demo API from the internet
    with TestClient(small_app()) as client:
        assert client.get(f"{STATIC_PATH}/{path}").status_code == 404


def test_every_asset_named_is_in_the_package() -> None:
    assert all((swagger_ui_folder() / name).is_file() for name in ASSETS)


def test_the_bundled_swagger_ui_reads_the_apps_openapi_version() -> None:
    # FastAPI writes OpenAPI 3.1, which Swagger UI reads from version 5 on: 4.x shows
    # "Unable to render this definition" instead of the API.
    assert small_app().openapi()["openapi"].startswith("3.1.")
    found = re.fullmatch(r"swagger-ui-(\d+)\.\d+\.\d+", swagger_ui_folder().name)
    assert found, swagger_ui_folder()
    assert int(found.group(1)) >= 5, f"Swagger UI {swagger_ui_folder().name} reads no OAS 3.1"


def test_oauth2_redirect_page() -> None:
    with TestClient(small_app()) as client:
        r = client.get("/docs/oauth2-redirect")
        assert r.status_code == 200 and "swaggerUIRedirectOauth2" in r.text
        assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in (
            client.get("/docs").text)


def test_behind_a_path_prefix_the_page_loads_from_under_it() -> None:
    # a proxy serves the app under /archivist and says so in the ASGI scope's root_path
    with TestClient(small_app(), root_path="/archivist") as client:
        html = client.get("/docs").text
        assert {url.split("/")[1] for url in loaded_urls(html)} == {"archivist"}
        assert client.get(f"/archivist{STATIC_PATH}/swagger-ui.css").status_code == 200


def test_no_openapi_no_docs() -> None:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    install_docs(app)
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 404
        assert client.get(f"{STATIC_PATH}/swagger-ui.css").status_code == 404


def _real_app(home: Path) -> FastAPI:
    return create_app(ServerSettings(home=str(home), insecure_single_user=True))


def test_the_servers_docs_are_offline(tmp_path: Path) -> None:
    app = _real_app(tmp_path / "home")
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        r = client.get("/docs")
        assert r.status_code == 200
        assert "https://" not in r.text and "http://" not in r.text
        for url in loaded_urls(r.text):
            assert client.get(url).status_code == 200, url
        assert client.get("/redoc").status_code == 404


# -- in a browser that can reach nothing but 127.0.0.1 -------------------------------------


def _render(page: Page, url: str) -> list[str]:
    """Open Swagger UI at ``url`` with every other host blocked; what the page tried to
    reach elsewhere, and fail on any page error."""
    from playwright.sync_api import expect

    blocked = block_external(page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    response = page.goto(f"{url}/docs")
    assert response is not None and response.ok
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
    assert page.locator(".swagger-ui").get_by_text("Unable to render").count() == 0
    assert errors == []
    return blocked


def test_a_browser_offline_renders_the_docs(page: Page) -> None:
    from playwright.sync_api import expect

    with serve_app(small_app()) as url:
        blocked = _render(page, url)
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Offline demo")
        operation = page.locator(".swagger-ui .opblock-get")
        expect(operation).to_contain_text("/items/{item_id}")
        expect(operation).to_contain_text("Read one item")
        operation.locator(".opblock-summary").click()  # opens; its parameters show
        expect(operation.locator(".parameters")).to_contain_text("item_id")
        screenshot(page, "docs-offline")
    assert blocked == []


def test_under_a_host_name_nothing_leaves_either(page: Page) -> None:
    # Swagger UI shows some things (its validator badge: an image from swagger.io) only
    # when the page is not on localhost/127.0.0.1: the browser sees a name here, which
    # the route below answers from the server on loopback.
    from playwright.sync_api import Route, expect

    name = "http://archivist.example"
    blocked: list[str] = []
    with serve_app(small_app()) as url:

        def as_named_host(route: Route) -> None:
            asked = route.request.url
            if asked.startswith(f"{name}/"):
                route.fulfill(response=route.fetch(url=url + asked.removeprefix(name)))
            else:
                blocked.append(asked)
                route.abort("blockedbyclient")

        page.route("**/*", as_named_host)
        page.goto(f"{name}/docs")
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
        page.locator(".swagger-ui .opblock-summary").first.click()
        expect(page.locator(".swagger-ui .parameters")).to_contain_text("item_id")
        page.wait_for_load_state("networkidle")
    assert blocked == []


def test_a_browser_offline_renders_the_servers_docs(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with serve_app(_real_app(tmp_path / "home")) as url:
        blocked = _render(page, url)
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("archivist")
        expect(page.locator(".swagger-ui .opblock-summary-path").filter(
            has_text=re.compile(r"^/health$"))).to_have_count(1)
        screenshot(page, "docs-offline-server")
    assert blocked == []
