"""``archivist server --root-path /prefix``: the API, the UI and its links under a prefix,
whether the reverse proxy strips the prefix or passes it on."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from archivist import ArtifactCatalog, InvalidInputError, RemoteCatalogBackend
from archivist.backends.remote.cache import BlobCache
from archivist.cli import app
from archivist.server.app import create_app
from archivist.server.rootpath import check_root_path, prefix_links
from archivist.server.settings import ServerSettings
from tests.server.processes import server_process

PREFIX = "/tools/catalog"
_HREF = re.compile(r'(?:href|src|action)="([^"]*)"')


def links(html: str) -> list[str]:
    return [link for link in _HREF.findall(html) if link.startswith("/")]


def test_a_real_server_answers_the_api_and_every_ui_link_under_the_prefix(
        tmp_path: Path) -> None:
    with ArtifactCatalog(tmp_path / "home") as local:
        raw = local.register("raw", "Dataset", data=b"raw")
        local.register("model", "Model", data=b"m", parent_ids=[raw], aliases=["prod"])
    with server_process(["--home", str(tmp_path / "home"), "--insecure-single-user",
                         "--root-path", PREFIX], tmp_path / "server.log") as server:
        backend = RemoteCatalogBackend(server.url + PREFIX,
                                       cache=BlobCache(tmp_path / "cache", 1 << 20))
        with ArtifactCatalog(backend) as remote:
            assert remote.load("model@prod") == b"m"
            assert remote.get_lineage("model")["parents"] == [raw]
        with httpx.Client(base_url=server.url) as http:
            seen: set[str] = set()
            pages = [f"{PREFIX}/", f"{PREFIX}/search?q=model", f"{PREFIX}/artifacts/model"]
            for url in pages:
                answer = http.get(url)
                assert answer.status_code == 200, url
                found = links(answer.text)
                assert found and all(link.startswith(PREFIX + "/") for link in found), found
                seen.update(link for link in found if "/logout" not in link)
            for link in sorted(seen):
                assert http.get(link).status_code == 200, link
            assert http.get(f"{PREFIX}/openapi.json").json()["info"]["title"] == "archivist"


def test_the_prefix_is_answered_whether_the_proxy_strips_it_or_not(tmp_path: Path) -> None:
    settings = ServerSettings(home=str(tmp_path / "home"), insecure_single_user=True,
                              root_path=PREFIX + "/")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8765") as client:
        kept = client.get(f"{PREFIX}/api/v1/projects")
        stripped = client.get("/api/v1/projects")
        assert kept.status_code == stripped.status_code == 200
        assert links(client.get("/search").text)[0].startswith(PREFIX + "/"), \
            "a stripped request still gets links under the prefix"


def test_redirects_stay_under_the_prefix(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = CliRunner().invoke(app, ["--home", str(home), "keys", "create", "--project",
                                    "default", "--scope", "read", "--json"])
    assert made.exit_code == 0, made.stderr
    settings = ServerSettings(home=str(home), root_path=PREFIX)
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8765") as client:
        answer = client.get(f"{PREFIX}/runs", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"{PREFIX}/login?next={PREFIX}/runs"
        login = client.get(answer.headers["location"])
        assert login.status_code == 200
        assert f'action="{PREFIX}/login"' in login.text


def test_prefix_links_and_root_path_rules() -> None:
    page = '<a href="/search">s</a><img src="/ui/static/x.png"><a href="//cdn/x">c</a>'
    assert prefix_links(page, "/p") == (
        '<a href="/p/search">s</a><img src="/p/ui/static/x.png"><a href="//cdn/x">c</a>')
    assert prefix_links(page, "") == page
    assert check_root_path("/api/v1/catalog/") == "/api/v1/catalog"
    assert check_root_path("") == ""
    for bad in ("catalog", "/a/../b", "https://host/x", "/a//b", "/a?b=1"):
        with pytest.raises(InvalidInputError, match="--root-path"):
            check_root_path(bad)
    refused = CliRunner().invoke(app, ["server", "--root-path", "no-slash"])
    assert refused.exit_code == 1 and "--root-path" in refused.stderr
