"""Every route of the HTTP API, on its happy path, with the shapes the client decodes."""

from __future__ import annotations

import hashlib
import time
import uuid

from archivist import wire
from archivist.ids import new_id
from tests.server.conftest import Server

API = "/api/v1"


def _new_version(project: str = "p", name: str = "fresh", **fields: object) -> dict[str, object]:
    record: dict[str, object] = {"id": new_id(), "project": project, "name": name,
                                 "artifact_type": "model", "created_at": time.time()}
    record.update(fields)
    return record


def _upload(server: Server, data: bytes, who: str = "write") -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = server.client.put(f"{API}/projects/p/blobs/{digest}", content=data,
                          headers=server.auth(who))
    assert r.status_code == 201, r.text
    return digest


def test_health_needs_no_key(server: Server) -> None:
    r = server.client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_projects_lists_only_the_keys_project(server: Server) -> None:
    assert server.client.get(f"{API}/projects", headers=server.auth("read")).json() == {
        "data": ["p"]}


def test_create_versions_returns_the_records(server: Server) -> None:
    digest = _upload(server, b"weights")
    body = {"versions": [_new_version(kind="file", digest=digest, size=7,
                                      blob_digests=[digest], tags={"stage": "dev"},
                                      aliases=["candidate"],
                                      parent_ids=[server.ids["model:2"]])]}
    r = server.client.post(f"{API}/projects/p/versions", json=body, headers=server.auth("write"))
    assert r.status_code == 201, r.text
    [art] = wire.artifacts_from_list(r.json()["data"])
    assert (art.name, art.version, art.digest, art.aliases) == ("fresh", 1, digest,
                                                                ["candidate"])
    assert art.parent_ids == [server.ids["model:2"]]
    assert art.user == "write"  # no user sent: the key's name is recorded


def test_list_versions_filters_and_pages(server: Server) -> None:
    h = server.auth("read")
    r = server.client.get(f"{API}/projects/p/versions", params={"name": "model"}, headers=h)
    assert [a["version"] for a in r.json()["data"]] == [2, 1]
    assert r.json()["next_cursor"] is None
    first = server.client.get(f"{API}/projects/p/versions", params={"limit": 1}, headers=h)
    assert len(first.json()["data"]) == 1 and first.json()["next_cursor"]
    second = server.client.get(f"{API}/projects/p/versions",
                               params={"limit": 1, "cursor": first.json()["next_cursor"]},
                               headers=h)
    assert second.json()["data"][0]["id"] != first.json()["data"][0]["id"]
    tagged = server.client.get(f"{API}/projects/p/versions",
                               params=[("tag", "stage:prod"), ("type", "model")], headers=h)
    assert [a["id"] for a in tagged.json()["data"]] == [server.ids["model:2"]]
    oldest = server.client.get(f"{API}/projects/p/versions",
                               params={"order": "oldest", "name": "model"}, headers=h)
    assert [a["version"] for a in oldest.json()["data"]] == [1, 2]


def test_get_by_every_form_of_ref(server: Server) -> None:
    h = server.auth("read")
    for ref in ("model", "model:2", "model@prod", server.ids["model:2"]):
        r = server.client.get(f"{API}/projects/p/refs/{ref}", headers=h)
        assert r.status_code == 200, (ref, r.text)
        assert wire.artifact_from_dict(r.json()).id == server.ids["model:2"]


def test_lookup_skips_what_the_key_cannot_see(server: Server) -> None:
    ids = [server.ids["model:1"], server.ids["secret:1"], str(uuid.UUID(new_id()))]
    r = server.client.post(f"{API}/versions/lookup", json={"ids": ids},
                           headers=server.auth("read"))
    assert [a["id"] for a in r.json()["data"]] == [server.ids["model:1"]]


def test_search(server: Server) -> None:
    r = server.client.get(f"{API}/projects/p/search", params={"q": "tag.stage:prod"},
                          headers=server.auth("read"))
    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()["data"]] == [server.ids["model:2"]]


def test_spelling_and_digest(server: Server) -> None:
    h = server.auth("read")
    assert server.client.get(f"{API}/projects/p/spellings/MODEL", headers=h).json() == {
        "spelling": "model"}
    assert server.client.get(f"{API}/projects/p/spellings/none", headers=h).json() == {
        "spelling": None}
    digest = server.client.get(f"{API}/projects/p/refs/model:2", headers=h).json()["digest"]
    r = server.client.get(f"{API}/projects/p/digests/{digest}", headers=h)
    assert [a["id"] for a in r.json()["data"]] == [server.ids["model:2"]]


def test_tags_aliases_history_delete(server: Server) -> None:
    h = server.auth("write")
    vid = server.ids["model:1"]
    r = server.client.patch(f"{API}/versions/{vid}/tags",
                            json={"set": {"stage": "qa", "n": 3}, "remove": ["missing"]},
                            headers=h)
    assert r.status_code == 204, r.text
    assert server.client.put(f"{API}/versions/{vid}/aliases/best", headers=h).status_code == 204
    art = server.client.get(f"{API}/projects/p/refs/model@best", headers=h).json()
    assert art["tags"] == {"stage": "qa", "n": 3} and art["aliases"] == ["best"]
    r = server.client.delete(f"{API}/projects/p/artifacts/model/aliases/best", headers=h)
    assert r.status_code == 204
    history = server.client.get(f"{API}/projects/p/artifacts/model/history", headers=h).json()
    entries = [wire.history_entry_from_dict(e) for e in history["data"]]
    assert [(e.kind, e.key) for e in entries][-4:] == [("tag", "stage"), ("tag", "n"),
                                                        ("alias", "best"), ("alias", "best")]
    assert entries[-1].user == "write"
    assert server.client.delete(f"{API}/versions/{vid}", headers=h).status_code == 204
    r = server.client.get(f"{API}/projects/p/refs/model:1", headers=h)
    assert r.status_code == 404


def test_lineage(server: Server) -> None:
    r = server.client.get(f"{API}/versions/{server.ids['model:2']}/lineage",
                          params={"direction": "up", "depth": 3}, headers=server.auth("read"))
    rows = wire.lineage_from_dict(r.json())
    assert rows.parents == [server.ids["data:1"]]
    assert rows.edges == [(server.ids["data:1"], server.ids["model:2"])]


def test_leases(server: Server) -> None:
    h = server.auth("write")
    token, digest = new_id(), "sha256:" + "a" * 64
    r = server.client.put(f"{API}/projects/p/leases/{token}",
                          json={"digests": [digest], "expires_at": time.time() + 60}, headers=h)
    assert r.status_code == 204, r.text
    leased = server.client.get(f"{API}/projects/p/leases", params={"now": time.time()},
                               headers=h).json()
    assert leased == {"digests": [digest]}
    assert server.client.delete(f"{API}/projects/p/leases/{token}", headers=h).status_code == 204
    assert server.client.get(f"{API}/projects/p/leases", params={"now": time.time()},
                             headers=h).json() == {"digests": []}


def test_blob_references(server: Server) -> None:
    refs = server.client.get(f"{API}/projects/p/blob-references",
                             headers=server.auth("read")).json()["data"]
    digest = server.client.get(f"{API}/projects/p/refs/model:2",
                               headers=server.auth("read")).json()["digest"]
    assert refs[digest] is True and len(refs) == 3  # data, model:1, model:2 (not q's)


def test_verify_and_gc(server: Server) -> None:
    h = server.auth("admin")
    report = server.client.post(f"{API}/projects/p/verify", headers=h).json()
    # p's three blobs: the store is shared with q, whose blob p's admin does not see
    assert report["ok"] is True and report["checked"] == 3 and report["unreferenced"] == []
    gc = server.client.post(f"{API}/projects/p/gc", json={"dry_run": True, "grace": "0s"},
                            headers=h).json()
    assert gc["dry_run"] is True and gc["freed"] == []


def test_keys_over_http(server: Server) -> None:
    h = server.auth("admin")
    r = server.client.post(f"{API}/keys", json={"project": "p", "scope": "read", "name": "ci"},
                           headers=h)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["key"].startswith("ak_") and made["scope"] == "read"
    listed = server.client.get(f"{API}/keys", headers=h).json()["data"]
    assert made["id"] in {k["id"] for k in listed}
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    assert {k["project"] for k in listed} == {"p"}
    new_key = {"Authorization": f"Bearer {made['key']}"}
    assert server.client.get(f"{API}/projects", headers=new_key).status_code == 200
    assert server.client.delete(f"{API}/keys/{made['id']}", headers=h).status_code == 204
    assert server.client.get(f"{API}/projects", headers=new_key).status_code == 401


def test_metrics(server: Server) -> None:
    h = server.auth("read")
    server.client.get(f"{API}/projects/p/versions", headers=h)
    _upload(server, b"counted bytes")
    text = server.client.get("/metrics", headers=h).text
    assert ('archivist_http_requests_total{method="GET",route="/api/v1/projects/{project}/'
            'versions",status="200"} 1.0') in text
    assert "archivist_http_request_duration_seconds_bucket" in text
    assert "archivist_blob_bytes_in_total 13.0" in text
    assert "archivist_versions 4.0" in text
