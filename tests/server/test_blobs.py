"""Blob routes: ask which are missing, upload, HEAD, download with ranges, visibility,
per-project stores, and presigned redirects on S3."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from archivist import keys
from archivist.ids import new_id
from archivist.server import ServerSettings, create_app
from archivist.server.state import ServerState
from tests.server.conftest import Server

API = "/api/v1"
DATA = bytes(range(256)) * 40  # 10,240 bytes


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put(client: TestClient, project: str, data: bytes, headers: dict[str, str]) -> str:
    digest = _digest(data)
    r = client.put(f"{API}/projects/{project}/blobs/{digest}", content=data, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json() == {"digest": digest, "size": len(data)}
    return digest


def _register(client: TestClient, project: str, digest: str, size: int,
              headers: dict[str, str]) -> None:
    record = {"id": new_id(), "project": project, "name": "blobbed", "artifact_type": "file",
              "created_at": time.time(), "kind": "file", "digest": digest, "size": size,
              "blob_digests": [digest]}
    r = client.post(f"{API}/projects/{project}/versions", json={"versions": [record]},
                    headers=headers)
    assert r.status_code == 201, r.text


def test_upload_is_idempotent_and_missing_tells_what_to_send(server: Server) -> None:
    h = server.auth("write")
    absent = _digest(b"never sent")
    digest = _put(server.client, "p", DATA, h)
    assert _put(server.client, "p", DATA, h) == digest
    r = server.client.post(f"{API}/projects/p/blobs/missing",
                           json={"digests": [digest, absent, absent]}, headers=h)
    assert r.json() == {"missing": [absent]}
    head = server.client.head(f"{API}/projects/p/blobs/{digest}", headers=h)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(DATA))
    assert server.client.head(f"{API}/projects/p/blobs/{absent}", headers=h).status_code == 404


def test_download_whole_and_ranges(server: Server) -> None:
    h = server.auth("write")
    digest = _put(server.client, "p", DATA, h)
    url = f"{API}/projects/p/blobs/{digest}"
    # its uploader may read it back; another project, which never sent it, may not
    assert server.client.get(url, headers=h).content == DATA
    assert server.client.get(url.replace("/p/", "/q/"),
                             headers=server.auth("q_admin")).status_code == 404
    _register(server.client, "p", digest, len(DATA), h)
    r = server.client.get(url, headers=server.auth("read"))
    assert r.status_code == 200 and r.content == DATA
    assert r.headers["accept-ranges"] == "bytes" and r.headers["etag"] == f'"{digest}"'
    for header, start, end in (("bytes=0-9", 0, 9), ("bytes=100-", 100, len(DATA) - 1),
                               ("bytes=-16", len(DATA) - 16, len(DATA) - 1),
                               ("bytes=10000-99999", 10000, len(DATA) - 1)):
        r = server.client.get(url, headers={**h, "Range": header})
        assert r.status_code == 206, header
        assert r.content == DATA[start:end + 1], header
        assert r.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"
        assert r.headers["content-length"] == str(end - start + 1)
    for header in (f"bytes={len(DATA)}-", "bytes=-0", "bytes=20-10"):
        r = server.client.get(url, headers={**h, "Range": header})
        assert r.status_code == 416, header
        assert r.headers["content-range"] == f"bytes */{len(DATA)}"
        assert r.json()["error"]["type"] == "invalid_input"
    for ignored in ("items=0-1", "bytes=0-1,5-6", "bytes=x-y"):
        r = server.client.get(url, headers={**h, "Range": ignored})
        assert r.status_code == 200 and r.content == DATA, ignored


def test_a_leased_blob_can_be_read_before_its_version_commits(server: Server) -> None:
    h = server.auth("write")
    digest = _put(server.client, "p", DATA, h)
    token = new_id()
    server.client.put(f"{API}/projects/p/leases/{token}",
                      json={"digests": [digest], "expires_at": time.time() + 60}, headers=h)
    assert server.client.get(f"{API}/projects/p/blobs/{digest}", headers=h).content == DATA


def test_other_projects_blobs_are_not_served(server: Server) -> None:
    h = server.auth("write")
    digest = _put(server.client, "p", DATA, h)
    _register(server.client, "p", digest, len(DATA), h)
    r = server.client.get(f"{API}/projects/q/blobs/{digest}", headers=server.auth("q_admin"))
    assert r.status_code == 404


def test_a_corrupt_blob_is_refused(server: Server) -> None:
    h = server.auth("write")
    digest = _put(server.client, "p", DATA, h)
    _register(server.client, "p", digest, len(DATA), h)
    local = server.state.blobs("p").local_path(digest)
    assert local is not None
    Path(local).chmod(0o644)
    Path(local).write_bytes(b"X" + DATA[1:])
    r = server.client.get(f"{API}/projects/p/blobs/{digest}", headers=h)
    assert r.status_code == 409 and r.json()["error"]["type"] == "integrity_error"


@pytest.fixture
def per_project(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], Path]]:
    settings = ServerSettings(database=f"sqlite:///{tmp_path / 'catalog.db'}",
                              blobs=str(tmp_path / "stores" / "{{project}}"))
    app = create_app(settings)
    state: ServerState = app.state.archivist
    heads = {p: {"Authorization": f"Bearer {keys.create_key(state.store, p, 'admin')[1]}"}
             for p in ("p", "q")}
    with TestClient(app) as client:
        yield client, heads, tmp_path


def test_each_project_has_its_own_store(per_project: tuple[TestClient, dict[str, dict[str, str]],
                                                           Path]) -> None:
    client, heads, root = per_project
    digest = _put(client, "p", DATA, heads["p"])
    assert (root / "stores" / "p" / "sha256" / digest[7:9] / digest[9:]).is_file()
    assert client.head(f"{API}/projects/q/blobs/{digest}", headers=heads["q"]).status_code == 404
    _register(client, "p", digest, len(DATA), heads["p"])
    assert client.get(f"{API}/projects/p/blobs/{digest}", headers=heads["p"]).content == DATA
    other = _put(client, "q", b"q's bytes", heads["q"])
    report = client.post(f"{API}/projects/q/verify", headers=heads["q"]).json()
    assert report["ok"] and report["checked"] == 0 and report["unreferenced"] == [other]
    report = client.post(f"{API}/projects/p/verify", headers=heads["p"]).json()
    assert report["ok"] and report["checked"] == 1 and report["unreferenced"] == []
    gc = client.post(f"{API}/projects/q/gc", json={"dry_run": False, "grace": 0},
                     headers=heads["q"]).json()
    assert gc["freed"] == [other]
    assert client.head(f"{API}/projects/p/blobs/{digest}", headers=heads["p"]).status_code == 200


def test_per_project_stores_on_postgres_and_s3(tmp_path: Path, postgres_url: str,
                                               s3_blobs_url: str) -> None:
    app = create_app(ServerSettings(database=postgres_url,
                                    blobs=s3_blobs_url + "/{{project}}"))
    state: ServerState = app.state.archivist
    heads = {p: {"Authorization": f"Bearer {keys.create_key(state.store, p, 'write')[1]}"}
             for p in ("p", "q")}
    with TestClient(app) as client:
        digest = _put(client, "p", DATA, heads["p"])
        assert state.blobs("p").path(digest).startswith(s3_blobs_url + "/p/sha256/")
        assert client.head(f"{API}/projects/q/blobs/{digest}",
                           headers=heads["q"]).status_code == 404
        _register(client, "p", digest, len(DATA), heads["p"])
        assert client.get(f"{API}/projects/p/blobs/{digest}", headers=heads["p"]).content == DATA
        # no local file to seek in: the range is read through the store's stream
        r = client.get(f"{API}/projects/p/blobs/{digest}",
                       headers={**heads["p"], "Range": "bytes=5000-5009"})
        assert r.status_code == 206 and r.content == DATA[5000:5010]


def test_home_with_another_blob_store(tmp_path: Path) -> None:
    app = create_app(ServerSettings(home=str(tmp_path / "home"), blobs=str(tmp_path / "elsewhere")))
    state: ServerState = app.state.archivist
    h = {"Authorization": f"Bearer {keys.create_key(state.store, 'p', 'write')[1]}"}
    with TestClient(app) as client:
        digest = _put(client, "p", DATA, h)
    assert (tmp_path / "elsewhere" / "sha256" / digest[7:9] / digest[9:]).is_file()


def test_presigned_redirect_on_s3(tmp_path: Path, s3_blobs_url: str) -> None:
    settings = ServerSettings(database=f"sqlite:///{tmp_path / 'catalog.db'}",
                              blobs=s3_blobs_url, presign=True)
    app = create_app(settings)
    state: ServerState = app.state.archivist
    h = {"Authorization": f"Bearer {keys.create_key(state.store, 'p', 'write')[1]}"}
    with TestClient(app) as client:
        digest = _put(client, "p", DATA, h)
        _register(client, "p", digest, len(DATA), h)
        r = client.get(f"{API}/projects/p/blobs/{digest}", headers=h, follow_redirects=False)
        assert r.status_code == 307, r.text
        location = r.headers["location"]
        assert "Signature" in location or "X-Amz-Signature" in location
    assert httpx.get(location).content == DATA


def test_admin_lists_the_store_page_by_page(server: Server) -> None:
    h = server.auth("admin")
    sent = sorted(_put(server.client, "p", bytes([i]) * 10, h) for i in range(3))
    everything: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = server.client.get(f"{API}/projects/p/blobs", params=params, headers=h).json()
        everything += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert set(sent) <= set(everything) and everything == sorted(everything)
    # p's seeded versions' blobs and these; never q's, though the store is shared
    assert len(everything) == 3 + len(sent)
    q_blob = server.client.get(f"{API}/projects/q/refs/secret",
                               headers=server.auth("q_admin")).json()["digest"]
    assert q_blob not in everything
    r = server.client.get(f"{API}/projects/p/blobs", headers=server.auth("write"))
    assert r.status_code == 403


def test_an_empty_blob(server: Server) -> None:
    h = server.auth("write")
    digest = _put(server.client, "p", b"", h)
    _register(server.client, "p", digest, 0, h)
    r = server.client.get(f"{API}/projects/p/blobs/{digest}", headers=h)
    assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == "0"
    r = server.client.get(f"{API}/projects/p/blobs/{digest}", headers={**h, "Range": "bytes=0-"})
    assert r.status_code == 416
