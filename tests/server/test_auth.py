"""The auth matrix: no key, bad and revoked keys, scopes, and other projects."""

from __future__ import annotations

import time
from typing import Any

import pytest

from archivist.ids import new_id
from tests.server.conftest import Server

API = "/api/v1"


def _routes(server: Server) -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """(method, path, scope needed, json body) for a route of each kind, in project p."""
    vid = server.ids["model:1"]
    record = {"id": new_id(), "project": "p", "name": "n", "artifact_type": "t",
              "created_at": time.time()}
    return [
        ("GET", f"{API}/projects/p/versions", "read", None),
        ("GET", f"{API}/projects/p/refs/model", "read", None),
        ("GET", f"{API}/projects/p/search?q=model", "read", None),
        ("GET", f"{API}/projects/p/artifacts/model/history", "read", None),
        ("GET", f"{API}/versions/{vid}/lineage", "read", None),
        ("GET", f"{API}/projects/p/runs", "read", None),
        ("POST", f"{API}/projects/p/versions", "write", {"versions": [record]}),
        ("PATCH", f"{API}/versions/{vid}/tags", "write", {"set": {"a": 1}}),
        ("PUT", f"{API}/versions/{vid}/aliases/x", "write", None),
        ("DELETE", f"{API}/versions/{vid}", "write", None),
        ("PUT", f"{API}/projects/p/leases/{new_id()}", "write",
         {"digests": [], "expires_at": time.time()}),
        ("POST", f"{API}/projects/p/verify", "admin", None),
        ("POST", f"{API}/projects/p/gc", "admin", {"dry_run": True}),
        ("GET", f"{API}/keys", "admin", None),
        ("POST", f"{API}/keys", "admin", {"project": "p", "scope": "read"}),
    ]


RANK = {"read": 0, "write": 1, "admin": 2}


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Bearer ak_nope"},
    {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer " + "ak_" + "x" * 43},
], ids=["none", "empty", "malformed", "basic", "unknown"])
def test_no_valid_key_is_401_everywhere(server: Server, headers: dict[str, str]) -> None:
    for method, path, _, body in _routes(server):
        r = server.client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["error"]["type"] == "unauthenticated"
        assert r.headers["www-authenticate"] == "Bearer"


def test_revoked_key_is_401(server: Server) -> None:
    r = server.client.get(f"{API}/projects/p/versions", headers=server.auth("revoked"))
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthenticated"


def test_health_needs_no_key(server: Server) -> None:
    assert server.client.get("/health").status_code == 200


@pytest.mark.parametrize("who", ["read", "write", "admin"])
def test_scopes(server: Server, who: str) -> None:
    for method, path, needed, body in _routes(server):
        r = server.client.request(method, path, json=body, headers=server.auth(who))
        if RANK[who] >= RANK[needed]:
            assert r.status_code < 400, (who, method, path, r.text)
        else:
            assert r.status_code == 403, (who, method, path, r.text)
            assert r.json()["error"]["type"] == "permission_denied"


def test_other_projects_look_missing(server: Server) -> None:
    """q's admin asking for p's things gets the 404 of a project that does not exist."""
    other = server.auth("q_admin")
    for method, path, _, body in _routes(server):
        if "/projects/p/" not in path:
            continue
        seen = server.client.request(method, path, json=body, headers=other)
        ghost = server.client.request(method, path.replace("/projects/p/", "/projects/zz/"),
                                      json=body, headers=other)
        assert seen.status_code == ghost.status_code == 404, (method, path, seen.text)
        assert seen.content == ghost.content


def test_other_projects_versions_by_id_look_missing(server: Server) -> None:
    other = server.auth("q_admin")
    vid, ghost = server.ids["model:1"], new_id()
    for method, template, body in (
            ("GET", "{}/versions/{}/lineage", None), ("DELETE", "{}/versions/{}", None),
            ("PATCH", "{}/versions/{}/tags", {"set": {"a": 1}}),
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
