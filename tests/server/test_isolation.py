"""Isolation: what a key of one project can learn about another's blobs (nothing), what
the server fetches when told to (nothing), whom a single-user server answers (its own
machine), and what a directory manifest may hold.

Every blob test runs on a store shared by the projects and on one store per project, on
SQLite with a local folder and on PostgreSQL with S3 (moto).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from archivist import keys
from archivist.ids import new_id
from archivist.server import ServerSettings, create_app
from archivist.server.state import ServerState
from tests.fixtures.http_target import HttpTarget
from tests.server.conftest import LOOPBACK_URL

API = "/api/v1"
A_BYTES = b"project a's private model weights " * 100
B_BYTES = b"project b's own bytes"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Team:
    """A server holding projects ``a`` and ``b``, keys of every scope for each."""

    client: TestClient
    state: ServerState
    secrets: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}

    def put(self, project: str, data: bytes, who: str | None = None) -> str:
        digest = digest_of(data)
        r = self.client.put(f"{API}/projects/{project}/blobs/{digest}", content=data,
                            headers=self.h(who or f"{project}_write"))
        assert r.status_code == 201, r.text
        return digest

    def register(self, project: str, digest: str, size: int, who: str | None = None,
                 **extra: Any) -> Any:
        record = {"id": new_id(), "project": project, "name": extra.pop("name", "m"),
                  "artifact_type": "Model", "created_at": time.time(), "kind": "file",
                  "digest": digest, "size": size, "blob_digests": [digest], **extra}
        return self.client.post(f"{API}/projects/{project}/versions",
                                json={"versions": [record]},
                                headers=self.h(who or f"{project}_write"))

    def versions(self, project: str) -> list[dict[str, Any]]:
        r = self.client.get(f"{API}/projects/{project}/versions",
                            headers=self.h(f"{project}_read"))
        assert r.status_code == 200, r.text
        data: list[dict[str, Any]] = r.json()["data"]
        return data


STORES = ["sqlite-shared", "sqlite-per-project", "postgres-shared", "postgres-per-project"]


@pytest.fixture(params=STORES)
def team(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Team]:
    database, layout = str(request.param).split("-", 1)
    if database == "sqlite":
        url, blobs = f"sqlite:///{tmp_path / 'catalog.db'}", str(tmp_path / "blobs")
    else:
        url = request.getfixturevalue("postgres_url")
        blobs = request.getfixturevalue("s3_blobs_url")
    if layout == "per-project":
        blobs += "/{{project}}"
    app = create_app(ServerSettings(database=url, blobs=blobs))
    state: ServerState = app.state.archivist
    secrets = {f"{project}_{scope}": keys.create_key(state.store, project, scope)[1]
               for project in ("a", "b") for scope in ("read", "write", "admin")}
    with TestClient(app, raise_server_exceptions=False, base_url=LOOPBACK_URL) as client:
        yield Team(client=client, state=state, secrets=secrets)


@pytest.fixture
def a_blob(team: Team) -> str:
    """Bytes of project ``a``, uploaded and registered."""
    digest = team.put("a", A_BYTES)
    assert team.register("a", digest, len(A_BYTES)).status_code == 201
    return digest


def test_another_projects_digests_are_never_listed(team: Team, a_blob: str) -> None:
    mine = team.put("b", B_BYTES)
    listed = team.client.get(f"{API}/projects/b/blobs", headers=team.h("b_admin")).json()
    assert listed["data"] == [mine]
    report = team.client.post(f"{API}/projects/b/verify", headers=team.h("b_admin")).json()
    assert report["checked"] == 0 and report["unreferenced"] == [mine]
    assert a_blob not in json.dumps(report)
    gc = team.client.post(f"{API}/projects/b/gc", json={"dry_run": True, "grace": 0},
                          headers=team.h("b_admin")).json()
    assert gc["freed"] == [mine] and a_blob not in json.dumps(gc)
    assert team.client.get(f"{API}/projects/b/leases", params={"now": 0},
                           headers=team.h("b_read")).json() == {"digests": []}


def test_knowing_a_digest_opens_nothing(team: Team, a_blob: str) -> None:
    url = f"{API}/projects/b/blobs/{a_blob}"
    for method in ("GET", "HEAD"):
        assert team.client.request(method, url, headers=team.h("b_admin")).status_code == 404
    missing = team.client.post(f"{API}/projects/b/blobs/missing",
                               json={"digests": [a_blob]}, headers=team.h("b_read")).json()
    assert missing == {"missing": [a_blob]}
    # a lease keeps bytes from gc; it never lets its holder read them
    r = team.client.put(f"{API}/projects/b/leases/{new_id()}",
                        json={"digests": [a_blob], "expires_at": time.time() + 60},
                        headers=team.h("b_write"))
    assert r.status_code == 204
    assert team.client.get(url, headers=team.h("b_admin")).status_code == 404
    # nor does naming the digest in a version
    r = team.register("b", a_blob, len(A_BYTES))
    assert r.status_code == 422 and "PUT its bytes" in r.json()["error"]["message"]
    assert team.versions("b") == []
    assert team.client.get(url, headers=team.h("b_admin")).status_code == 404


def test_another_projects_leases_are_neither_seen_nor_released(team: Team) -> None:
    digest = team.put("a", A_BYTES)
    token = new_id()
    r = team.client.put(f"{API}/projects/a/leases/{token}",
                        json={"digests": [digest], "expires_at": time.time() + 60},
                        headers=team.h("a_write"))
    assert r.status_code == 204
    seen = team.client.get(f"{API}/projects/b/leases", params={"now": 0},
                           headers=team.h("b_read")).json()
    assert seen == {"digests": []}
    assert team.client.delete(f"{API}/projects/b/leases/{token}",
                              headers=team.h("b_write")).status_code == 204
    r = team.client.put(f"{API}/projects/b/leases/{token}",  # a's token is a's
                        json={"digests": [], "expires_at": time.time() + 60},
                        headers=team.h("b_write"))
    assert r.status_code == 409
    ours = team.client.get(f"{API}/projects/a/leases", params={"now": 0},
                           headers=team.h("a_read")).json()
    assert ours == {"digests": [digest]}
    assert digest in team.state.backend.leased_digests(time.time())  # gc still keeps it


def test_uploading_the_bytes_proves_holding_them(team: Team, a_blob: str) -> None:
    assert team.put("b", A_BYTES) == a_blob
    assert team.client.get(f"{API}/projects/b/blobs/{a_blob}",
                           headers=team.h("b_read")).content == A_BYTES
    assert team.register("b", a_blob, len(A_BYTES)).status_code == 201
    assert [v["digest"] for v in team.versions("b")] == [a_blob]


def test_a_projects_gc_never_frees_what_another_needs(team: Team, a_blob: str) -> None:
    assert team.put("b", A_BYTES) == a_blob  # b holds the same bytes, but no version of b
    gc = team.client.post(f"{API}/projects/b/gc", json={"dry_run": False, "grace": 0},
                          headers=team.h("b_admin")).json()
    if team.state.settings.blobs_per_project:
        assert gc["freed"] == [a_blob]  # b's own copy
    else:
        assert gc["freed"] == [] and gc["kept"] == {a_blob: "referenced by a live version"}
    assert team.client.get(f"{API}/projects/a/blobs/{a_blob}",
                           headers=team.h("a_read")).content == A_BYTES


def test_a_freed_blob_is_forgotten_by_its_uploader(team: Team) -> None:
    digest = team.put("b", B_BYTES)
    gc = team.client.post(f"{API}/projects/b/gc", json={"dry_run": False, "grace": 0},
                          headers=team.h("b_admin")).json()
    assert gc["freed"] == [digest]
    assert team.client.get(f"{API}/projects/b/blobs",
                           headers=team.h("b_admin")).json()["data"] == []
    assert team.put("b", B_BYTES) == digest  # and may be sent again
    assert team.register("b", digest, len(B_BYTES)).status_code == 201


# -- what a record claims about its bytes ------------------------------------------------
def manifest(*entries: dict[str, Any]) -> bytes:
    doc = {"format": 1, "entries": sorted(entries, key=lambda e: e["path"])}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("ascii")


def entry(path: str, data: bytes = B_BYTES, mode: int = 0o644) -> dict[str, Any]:
    return {"digest": digest_of(data), "mode": mode, "path": path, "size": len(data)}


@pytest.mark.parametrize("bad", [
    entry("../escape"), entry("/etc/passwd"), entry(".git/config"), entry("a/.GIT/hooks"),
    entry("run.sh", mode=0o4755), entry("ok/../../x"),
], ids=["dotdot", "absolute", "git", "git-alias", "setuid", "inner-dotdot"])
def test_a_manifest_the_client_would_refuse_is_refused(team: Team, bad: dict[str, Any]) -> None:
    file_digest = team.put("b", B_BYTES)
    body = manifest(entry("fine.txt"), bad)
    listing = team.put("b", body)
    r = team.register("b", listing, len(B_BYTES) * 2, kind="directory",
                      blob_digests=[listing, file_digest])
    assert r.status_code == 422, r.text
    assert "manifest" in r.json()["error"]["message"]
    assert team.versions("b") == []


def test_a_manifest_may_list_only_the_records_own_blobs(team: Team, a_blob: str) -> None:
    mine = team.put("b", B_BYTES)
    body = manifest(entry("mine.txt"), entry("theirs.bin", A_BYTES))
    listing = team.put("b", body)
    r = team.register("b", listing, len(A_BYTES) + len(B_BYTES), kind="directory",
                      blob_digests=[listing, mine])
    assert r.status_code == 422 and a_blob in r.json()["error"]["message"]
    r = team.register("b", listing, len(A_BYTES) + len(B_BYTES), kind="directory",
                      blob_digests=[listing, mine, a_blob])
    assert r.status_code == 422  # naming a's blob needs a's bytes
    assert team.versions("b") == []


def test_a_good_manifest_and_sizes_that_match(team: Team) -> None:
    mine = team.put("b", B_BYTES)
    listing = team.put("b", manifest(entry("x/one.txt"), entry("two.txt")))
    r = team.register("b", listing, len(B_BYTES), kind="directory",
                      blob_digests=[listing, mine])
    assert r.status_code == 422 and "add up to" in r.json()["error"]["message"]
    r = team.register("b", listing, 2 * len(B_BYTES), kind="directory",
                      blob_digests=[listing, mine])
    assert r.status_code == 201, r.text


def test_a_files_size_must_be_its_blobs(team: Team) -> None:
    digest = team.put("b", B_BYTES)
    r = team.register("b", digest, len(B_BYTES) + 1)
    assert r.status_code == 422 and f"holds {len(B_BYTES)}" in r.json()["error"]["message"]
    r = team.register("b", digest, len(B_BYTES), blob_digests=[])
    assert r.status_code == 422 and "its digest as its only blob" in r.json()["error"]["message"]
    assert team.versions("b") == []


# -- the server fetches nothing it is told to ----------------------------------------------
def test_verify_never_fetches_references(team: Team, internal_service: HttpTarget) -> None:
    made = []
    for uri in (f"{internal_service.url}/admin/secret", "s3://someone-elses-bucket/key"):
        record = {"id": new_id(), "project": "b", "name": "ref", "artifact_type": "Dataset",
                  "created_at": time.time(), "kind": "reference", "reference_uri": uri,
                  "size": 5}
        r = team.client.post(f"{API}/projects/b/versions", json={"versions": [record]},
                             headers=team.h("b_write"))
        assert r.status_code == 201, r.text
        made.append(record["id"])
    report = team.client.post(f"{API}/projects/b/verify", headers=team.h("b_admin")).json()
    assert internal_service.hits == []
    assert sorted(report["unchecked_references"]) == sorted(made)
    assert report["changed_references"] == []


# -- a single-user server answers only its own machine ---------------------------------------
@pytest.fixture
def single_user(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ServerSettings(home=str(tmp_path / "home"), insecure_single_user=True))
    with TestClient(app, raise_server_exceptions=False, base_url=LOOPBACK_URL) as client:
        yield client


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8765", "127.0.0.1.nip.io",
                                  "localhost.attacker.example", "", "192.168.1.10:8765"])
def test_single_user_refuses_other_host_names(single_user: TestClient, host: str) -> None:
    for method, path in (("GET", f"{API}/projects"), ("POST", f"{API}/projects/default/verify"),
                         ("GET", "/health")):
        r = single_user.request(method, path, headers={"Host": host})
        assert r.status_code == 403, (host, method, r.text)
        assert r.json()["error"]["type"] == "permission_denied"
        assert "answers only its own machine" in r.json()["error"]["message"]


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "localhost",
                                  "127.0.0.2"])
def test_single_user_answers_loopback_names(single_user: TestClient, host: str) -> None:
    assert single_user.get(f"{API}/projects", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("headers", [
    {"Origin": "http://attacker.example"}, {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
    {"Origin": "http://127.0.0.1:8765", "Sec-Fetch-Site": "cross-site"},
], ids=["origin", "null-origin", "cross-site", "same-site", "rebound-origin"])
def test_single_user_refuses_cross_site_writes(single_user: TestClient,
                                               headers: dict[str, str]) -> None:
    record = {"id": new_id(), "project": "default", "name": "planted",
              "artifact_type": "Model", "created_at": time.time()}
    r = single_user.post(f"{API}/projects/default/versions", json={"versions": [record]},
                         headers=headers)
    assert r.status_code == 403, r.text
    r = single_user.post(f"{API}/projects/default/verify", headers=headers)
    assert r.status_code == 403
    assert single_user.get(f"{API}/projects/default/versions").json()["data"] == []
    # reading is not a write: a page elsewhere still cannot read the answer (no CORS)
    assert single_user.get(f"{API}/projects", headers=headers).status_code == 200


@pytest.mark.parametrize("headers", [
    {}, {"Origin": "http://127.0.0.1:8765", "Sec-Fetch-Site": "same-origin"},
    {"Origin": "http://localhost:8765"}, {"Sec-Fetch-Site": "none"},
], ids=["python-client", "same-origin-page", "localhost-origin", "typed-by-user"])
def test_single_user_takes_its_own_writes(single_user: TestClient,
                                          headers: dict[str, str]) -> None:
    record = {"id": new_id(), "project": "default", "name": "mine", "artifact_type": "Model",
              "created_at": time.time()}
    r = single_user.post(f"{API}/projects/default/versions", json={"versions": [record]},
                         headers=headers)
    assert r.status_code == 201, r.text
