"""The auth matrix: every route of ``/openapi.json``, with no key, each scope, another
project's key, on a blob store shared by the projects and on one store per project.

Each route's needed scope is written down in :data:`NEEDS`; a route the app serves that is
missing there fails the suite, so a new route cannot ship unclassified. Requests are built
fresh for each caller (a version to delete, a blob to read, a run to end), so every
caller meets the same state.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archivist import ArtifactCatalog
from archivist.ids import new_id
from archivist.model import TaskRecord
from tests.server.conftest import Server

API = "/api/v1"
RANK = {"read": 0, "write": 1, "admin": 2}
#: Routes whose path names no project: the caller's own project is implied.
OPEN = "open"

#: (method, path template) -> scope needed (``open``: no key at all).
NEEDS: dict[tuple[str, str], str] = {
    ("GET", "/health"): OPEN,
    ("GET", "/health/ready"): OPEN,
    ("GET", "/metrics"): "read",
    ("GET", "/api/v1/projects"): "read",
    ("POST", "/api/v1/projects/{project}/versions"): "write",
    ("GET", "/api/v1/projects/{project}/versions"): "read",
    ("GET", "/api/v1/projects/{project}/refs/{ref}"): "read",
    ("POST", "/api/v1/versions/lookup"): "read",
    ("DELETE", "/api/v1/versions/{version_id}"): "write",
    ("PATCH", "/api/v1/versions/{version_id}/tags"): "write",
    ("PATCH", "/api/v1/versions/{version_id}/metadata"): "write",
    ("PUT", "/api/v1/versions/{version_id}/aliases/{alias}"): "write",
    ("DELETE", "/api/v1/projects/{project}/artifacts/{name}/aliases/{alias}"): "write",
    ("PATCH", "/api/v1/versions/{version_id}"): "write",
    ("POST", "/api/v1/projects/{project}/artifacts/{name}/rename"): "write",
    ("GET", "/api/v1/projects/{project}/artifacts/{name}/history"): "read",
    ("GET", "/api/v1/projects/{project}/spellings/{name}"): "read",
    ("GET", "/api/v1/projects/{project}/digests/{digest}"): "read",
    ("GET", "/api/v1/projects/{project}/search"): "read",
    ("GET", "/api/v1/versions/{version_id}/lineage"): "read",
    ("GET", "/api/v1/projects/{project}/blobs"): "admin",
    ("POST", "/api/v1/projects/{project}/blobs/missing"): "read",
    ("HEAD", "/api/v1/projects/{project}/blobs/{digest}"): "read",
    ("PUT", "/api/v1/projects/{project}/blobs/{digest}"): "write",
    ("GET", "/api/v1/projects/{project}/blobs/{digest}"): "read",
    ("PUT", "/api/v1/projects/{project}/leases/{token}"): "write",
    ("DELETE", "/api/v1/projects/{project}/leases/{token}"): "write",
    ("GET", "/api/v1/projects/{project}/leases"): "read",
    ("POST", "/api/v1/projects/{project}/verify"): "admin",
    ("POST", "/api/v1/projects/{project}/gc"): "admin",
    ("GET", "/api/v1/projects/{project}/blob-references"): "read",
    ("POST", "/api/v1/projects/{project}/runs"): "write",
    ("GET", "/api/v1/projects/{project}/runs"): "read",
    ("GET", "/api/v1/projects/{project}/runs/{run_ref}"): "read",
    ("GET", "/api/v1/projects/{project}/cached-tasks/{cache_key}"): "read",
    ("PATCH", "/api/v1/runs/{run_id}"): "write",
    ("PUT", "/api/v1/runs/{run_id}/tasks/{task_id}"): "write",
    ("POST", "/api/v1/runs/{run_id}/links"): "write",
    ("GET", "/api/v1/keys"): "admin",
    ("POST", "/api/v1/keys"): "admin",
    ("DELETE", "/api/v1/keys/{key_id}"): "admin",
}


@dataclass
class Call:
    method: str
    template: str
    path: str
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] | None = None

    @property
    def of_project(self) -> bool:
        """Whether the call names project p's things (by path, or a version/run id)."""
        return "{project}" in self.template or "{version_id}" in self.template or (
            "{run_id}" in self.template)

    def send(self, server: Server, headers: dict[str, str]) -> Any:
        return server.client.request(self.method, self.path, json=self.json,
                                     content=self.content, params=self.params,
                                     headers=headers)


def calls(server: Server) -> list[Call]:
    """One call of every route in project p, on things made for it."""
    admin = server.auth("admin")
    with ArtifactCatalog(server.home, project="p") as catalog:
        victim = catalog.register("victim", "Model", aliases=["old"])
        doomed = catalog.register("doomed", "Model")  # the one DELETE /versions/{id} ends
        mover = f"mover_{new_id()[-12:]}"  # the one POST …/rename renames
        catalog.register(mover, "Model")
    data = f"blob for {new_id()}".encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert server.client.put(f"{API}/projects/p/blobs/{digest}", content=data,
                             headers=admin).status_code == 201
    run = {"id": new_id(), "project": "p", "pipeline": "train", "started_at": time.time()}
    assert server.client.post(f"{API}/projects/p/runs", json={"run": run},
                              headers=admin).status_code == 201
    task = TaskRecord(id=new_id(), run_id=run["id"], step="fit", status="running",
                      started_at=datetime.now(UTC))
    new_key = server.client.post(f"{API}/keys", json={"project": "p", "scope": "read"},
                                 headers=admin).json()["id"]
    record = {"id": new_id(), "project": "p", "name": "n", "artifact_type": "t",
              "created_at": time.time()}
    values = {"project": "p", "ref": "model", "version_id": victim, "alias": "x",
              "name": "victim", "digest": digest, "token": new_id(), "run_ref": run["id"],
              "cache_key": "sha256:" + "c" * 64, "run_id": run["id"], "task_id": task.id,
              "key_id": new_key}
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/v1/projects/{project}/versions"): {"json": {"versions": [record]}},
        ("POST", "/api/v1/versions/lookup"): {"json": {"ids": [victim]}},
        ("PATCH", "/api/v1/versions/{version_id}/tags"): {"json": {"set": {"a": 1}}},
        ("PATCH", "/api/v1/versions/{version_id}/metadata"): {"json": {"set": {"a": 1}}},
        ("DELETE", "/api/v1/projects/{project}/artifacts/{name}/aliases/{alias}"): {},
        ("PATCH", "/api/v1/versions/{version_id}"): {"json": {"description": "checked"}},
        ("POST", "/api/v1/projects/{project}/artifacts/{name}/rename"): {
            "json": {"new_name": f"moved_{new_id()[-12:]}"}},
        ("GET", "/api/v1/projects/{project}/search"): {"params": {"q": "model"}},
        ("POST", "/api/v1/projects/{project}/blobs/missing"): {"json": {"digests": [digest]}},
        ("PUT", "/api/v1/projects/{project}/blobs/{digest}"): {"content": data},
        ("PUT", "/api/v1/projects/{project}/leases/{token}"): {
            "json": {"digests": [digest], "expires_at": time.time() + 60}},
        ("GET", "/api/v1/projects/{project}/leases"): {"params": {"now": 0}},
        ("POST", "/api/v1/projects/{project}/gc"): {"json": {"dry_run": True}},
        ("POST", "/api/v1/projects/{project}/runs"): {"json": {"run": {
            **run, "id": new_id()}}},
        ("PATCH", "/api/v1/runs/{run_id}"): {"json": {"status": "succeeded",
                                                       "ended_at": time.time()}},
        ("PUT", "/api/v1/runs/{run_id}/tasks/{task_id}"): {"json": task.to_dict()},
        ("POST", "/api/v1/runs/{run_id}/links"): {"json": {"consumed": [victim],
                                                            "produced": []}},
        ("POST", "/api/v1/keys"): {"json": {"project": "p", "scope": "read"}},
    }
    alias_of = {"DELETE": "old"}
    made = []
    for (method, template), _ in NEEDS.items():
        filled = dict(values)
        if template.endswith("/aliases/{alias}"):
            filled["alias"] = alias_of.get(method, "x")
        if template.endswith("/rename"):
            filled["name"] = mover
        if (method, template) == ("DELETE", "/api/v1/versions/{version_id}"):
            filled["version_id"] = doomed
        made.append(Call(method, template, template.format(**filled),
                         **bodies.get((method, template), {})))
    return made


@pytest.fixture(params=["shared-store", "store-per-project"])
def matrix_server(request: pytest.FixtureRequest, make_server: Callable[..., Server],
                  tmp_path: Path) -> Server:
    if request.param == "shared-store":
        return make_server()
    return make_server(blobs=str(tmp_path / "stores" / "{{project}}"))


def test_every_route_is_classified(matrix_server: Server) -> None:
    spec = matrix_server.client.get("/openapi.json").json()
    served = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert served == set(NEEDS), (sorted(served - set(NEEDS)), sorted(set(NEEDS) - served))


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Bearer ak_nope"},
    {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer " + "ak_" + "x" * 43},
], ids=["none", "empty", "malformed", "basic", "unknown"])
def test_no_valid_key_is_401_everywhere(matrix_server: Server,
                                        headers: dict[str, str]) -> None:
    for call in calls(matrix_server):
        r = call.send(matrix_server, headers)
        if NEEDS[call.method, call.template] == OPEN:
            assert r.status_code == 200, (call.method, call.path, r.text)
            continue
        assert r.status_code == 401, (call.method, call.path, r.text)
        if call.method != "HEAD":
            assert r.json()["error"]["type"] == "unauthenticated"
        assert r.headers["www-authenticate"] == "Bearer"


def test_revoked_key_is_401(server: Server) -> None:
    r = server.client.get(f"{API}/projects/p/versions", headers=server.auth("revoked"))
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthenticated"


@pytest.mark.parametrize("who", ["read", "write", "admin"])
def test_scopes(matrix_server: Server, who: str) -> None:
    for call in calls(matrix_server):
        needed = NEEDS[call.method, call.template]
        r = call.send(matrix_server, matrix_server.auth(who))
        if needed == OPEN or RANK[who] >= RANK[needed]:
            assert r.status_code < 400, (who, call.method, call.path, r.text)
        else:
            assert r.status_code == 403, (who, call.method, call.path, r.text)
            if call.method != "HEAD":
                assert r.json()["error"]["type"] == "permission_denied"


def test_other_projects_look_missing(matrix_server: Server) -> None:
    """q's admin naming p's things gets the 404 of a thing that does not exist: for a
    project, the answer of a project no one made; for an id, that of an unknown id."""
    other = matrix_server.auth("q_admin")
    for call in calls(matrix_server):
        if not call.of_project:
            continue
        seen = call.send(matrix_server, other)
        ghost_path = call.path.replace("/projects/p/", "/projects/zz/")
        if "{project}" not in call.template:  # /versions/<id>/… or /runs/<id>/…
            ghost_path = call.path.replace(call.path.split("/")[4], new_id())
        ghost = Call(call.method, call.template, ghost_path, call.json, call.content,
                     call.params).send(matrix_server, other)
        assert seen.status_code == ghost.status_code == 404, (call.method, call.path,
                                                              seen.text)
        if "{project}" in call.template:
            assert seen.content == ghost.content
    assert matrix_server.client.get(f"{API}/projects/p/refs/victim",
                                    headers=matrix_server.auth("read")).status_code == 200


def test_other_projects_versions_by_id_look_missing(server: Server) -> None:
    other = server.auth("q_admin")
    vid, ghost = server.ids["model:1"], new_id()
    for method, template, body in (
            ("GET", "{}/versions/{}/lineage", None), ("DELETE", "{}/versions/{}", None),
            ("PATCH", "{}/versions/{}/tags", {"set": {"a": 1}}),
            ("PATCH", "{}/versions/{}", {"description": "x"}),
            ("PUT", "{}/versions/{}/aliases/x", None)):
        seen = server.client.request(method, template.format(API, vid), json=body,
                                     headers=other)
        missing = server.client.request(method, template.format(API, ghost), json=body,
                                        headers=other)
        assert seen.status_code == missing.status_code == 404, (method, seen.text)
        assert seen.content.replace(vid.encode(), b"X") == \
            missing.content.replace(ghost.encode(), b"X")
    r = server.client.get(f"{API}/projects/q/refs/{vid}", headers=other)
    assert r.status_code == 404
    assert server.client.get(f"{API}/projects/p/refs/model:1", headers=server.auth("read")).json()[
        "tags"] == {"stage": "dev"}  # nothing was changed through q's key


def test_admin_manages_only_its_projects_keys(server: Server) -> None:
    h = server.auth("admin")
    r = server.client.post(f"{API}/keys", json={"project": "q", "scope": "admin"}, headers=h)
    assert r.status_code == 404
    q_keys = server.client.get(f"{API}/keys", headers=server.auth("q_admin")).json()["data"]
    r = server.client.delete(f"{API}/keys/{q_keys[0]['id']}", headers=h)
    assert r.status_code == 404
    assert server.client.get(f"{API}/projects", headers=server.auth("q_admin")).status_code == 200


def test_insecure_single_user_needs_no_key(make_server: Any) -> None:
    server = make_server(insecure_single_user=True)
    r = server.client.get(f"{API}/projects")
    assert r.status_code == 200 and r.json() == {"data": ["p", "q"]}
    assert server.client.post(f"{API}/projects/q/verify").status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.com", "::"])
def test_insecure_single_user_refuses_other_hosts(make_server: Any, host: str) -> None:
    from archivist.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="loopback"):
        make_server(insecure_single_user=True, host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_insecure_single_user_binds_loopback(make_server: Any, host: str) -> None:
    assert make_server(insecure_single_user=True, host=host).client.get(
        f"{API}/projects").status_code == 200
