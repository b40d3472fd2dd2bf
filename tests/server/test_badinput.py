"""Bad input over HTTP (SPEC §9): each gets its 4xx and writes nothing.

Path traversal in every path parameter, oversize and malformed bodies, unknown fields,
wrong types, wrong content digests, names the catalog refuses, records for another
project, blobs that were never uploaded.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest

from archivist import ArtifactCatalog
from archivist.ids import new_id
from tests.helpers import Snapshot, snapshot
from tests.server.conftest import Server

API = "/api/v1"
TRAVERSALS = ["..%2F..%2Fetc", "..", "%2E%2E", "a%2F..%2F..%2Fb", "%00", "..%5C..%5Cwin",
              "%2Fetc%2Fpasswd", "a%20b", "x" * 300]


def _snap(server: Server) -> Snapshot:
    with ArtifactCatalog(server.home, project="p") as catalog:
        return snapshot(catalog)


def _record(**fields: Any) -> dict[str, Any]:
    out = {"id": new_id(), "project": "p", "name": "fine", "artifact_type": "model",
           "created_at": time.time()}
    out.update(fields)
    return out


def _templates(server: Server) -> list[tuple[str, str, dict[str, Any]]]:
    """Every route with a path parameter, ``{}`` standing for the parameter under test."""
    vid, digest = server.ids["model:1"], "sha256:" + "1" * 64
    return [
        ("GET", API + "/projects/{}/versions", {}),
        ("POST", API + "/projects/{}/versions", {"json": {"versions": [_record()]}}),
        ("GET", API + "/projects/p/refs/{}", {}),
        ("GET", API + "/projects/p/spellings/{}", {}),
        ("GET", API + "/projects/p/digests/{}", {}),
        ("PATCH", API + "/versions/{}/tags", {"json": {"set": {"a": 1}}}),
        ("PUT", API + f"/versions/{vid}/aliases/{{}}", {}),
        ("PUT", API + "/versions/{}/aliases/x", {}),
        ("DELETE", API + "/projects/p/artifacts/{}/aliases/x", {}),
        ("DELETE", API + "/projects/p/artifacts/model/aliases/{}", {}),
        ("DELETE", API + "/versions/{}", {}),
        ("GET", API + "/projects/p/artifacts/{}/history", {}),
        ("GET", API + "/versions/{}/lineage", {}),
        ("PUT", API + "/projects/p/leases/{}", {"json": {"digests": [], "expires_at": 1.0}}),
        ("DELETE", API + "/projects/p/leases/{}", {}),
        ("HEAD", API + "/projects/p/blobs/{}", {}),
        ("PUT", API + "/projects/p/blobs/{}", {"content": b"x"}),
        ("GET", API + "/projects/p/blobs/{}", {}),
        ("POST", API + "/projects/{}/verify", {}),
        ("POST", API + "/projects/{}/gc", {"json": {"dry_run": False, "grace": 0}}),
        ("GET", API + "/projects/p/runs/{}", {}),
        ("PATCH", API + "/runs/{}", {"json": {"status": "failed"}}),
        ("PUT", API + "/runs/{}/tasks/" + new_id(), {"json": {}}),
        ("DELETE", API + "/keys/{}", {}),
        ("GET", API + "/projects/p/cached-tasks/{}", {}),
        ("GET", API + f"/projects/p/blobs/{digest}", {}),
    ]


def test_path_traversal_in_every_parameter(server: Server) -> None:
    before = _snap(server)
    for method, template, kwargs in _templates(server):
        if "{}" not in template:
            continue
        for bad in TRAVERSALS:
            path = template.replace("{}", bad)
            r = server.client.request(method, path, headers=server.auth("admin"), **kwargs)
            assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
            if method != "HEAD":
                assert r.json()["error"]["type"] in ("invalid_name", "invalid_input",
                                                      "not_found", "method_not_allowed"), path
    assert _snap(server) == before


@pytest.mark.parametrize(("record", "kind"), [
    ({"name": "../etc"}, "invalid_name"), ({"name": "a" * 129}, "invalid_name"),
    ({"project": "q"}, "invalid_input"), ({"id": "not-an-id"}, "invalid_name"),
    ({"tags": {"bad key": 1}}, "invalid_name"), ({"tags": {"k": "\x00"}}, "invalid_input"),
    ({"metadata": {"deep": {"x": "a\x00"}}}, "invalid_input"),
    ({"partitions": {"k": ""}}, "invalid_input"), ({"aliases": ["latest"]}, "invalid_name"),
    ({"aliases": ["123"]}, "invalid_name"), ({"parent_ids": ["../x"]}, "invalid_name"),
    ({"parent_ids": [new_id()]}, "not_found"), ({"kind": "symlink"}, "invalid_input"),
    ({"digest": "md5:abc"}, "invalid_input"), ({"size": -1}, "invalid_input"),
    ({"blob_digests": ["sha256:" + "2" * 64]}, "invalid_input"),
    ({"reference_uri": "file:///etc/passwd", "kind": "reference"}, "invalid_input"),
    ({"reference_uri": "s3:/no-bucket", "kind": "reference"}, "invalid_input"),
    ({"created_at": "yesterday"}, "invalid_input"), ({"surprise": 1}, "invalid_input"),
    ({"version": 0}, "invalid_input"), ({"description": "x" * (1024 * 1024 + 1)}, "invalid_input"),
    ({"user": "tab\there"}, "invalid_input"), ({"artifact_type": ""}, "invalid_name"),
])
def test_bad_records_write_nothing(server: Server, record: dict[str, Any], kind: str) -> None:
    before = _snap(server)
    good = _record(name="good")
    r = server.client.post(f"{API}/projects/p/versions",
                           json={"versions": [good, _record(**record)]},
                           headers=server.auth("write"))
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["type"] == kind, r.text
    assert _snap(server) == before


def test_oversize_and_malformed_bodies(make_server: Any) -> None:
    server: Server = make_server(max_json_size=4096)
    before = _snap(server)
    h = {**server.auth("write"), "content-type": "application/json"}
    url = f"{API}/projects/p/versions"
    big = b'{"versions": [' + b" " * 5000 + b"]}"
    assert server.client.post(url, content=big, headers=h).status_code == 413

    def chunked() -> Any:  # no Content-Length: the limit is counted while streaming
        yield b'{"versions": ['
        for _ in range(10):
            yield b" " * 1000
        yield b"]}"

    r = server.client.post(url, content=chunked(), headers=h)
    assert r.status_code == 413 and r.json()["error"]["type"] == "too_large"
    for body in (b"{", b"[]", b"null", b'{"versions": "x"}', b'{"versions": [1]}',
                 b"\xff\xfe", b'{"versions": [], "more": 1}', b'{"versions": []}'):
        r = server.client.post(url, content=body, headers=h)
        assert r.status_code == 422, (body, r.text)
    r = server.client.post(url, content=b'{"versions": []}',
                           headers={**server.auth("write"), "content-type": "text/plain"})
    assert r.status_code == 422
    assert _snap(server) == before


def test_wrong_digest_and_oversize_blob_store_nothing(make_server: Any) -> None:
    server: Server = make_server(max_blob_size=100)
    before = _snap(server)
    h = server.auth("write")
    data = b"the real bytes"
    claimed = "sha256:" + hashlib.sha256(b"other bytes").hexdigest()
    r = server.client.put(f"{API}/projects/p/blobs/{claimed}", content=data, headers=h)
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert claimed in message and hashlib.sha256(data).hexdigest() in message
    right = "sha256:" + hashlib.sha256(b"y" * 101).hexdigest()
    r = server.client.put(f"{API}/projects/p/blobs/{right}", content=b"y" * 101, headers=h)
    assert r.status_code == 413

    def chunked() -> Any:
        for _ in range(11):
            yield b"y" * 10

    r = server.client.put(f"{API}/projects/p/blobs/{right}", content=chunked(), headers=h)
    assert r.status_code == 413
    assert _snap(server) == before
    assert server.client.head(f"{API}/projects/p/blobs/{claimed}", headers=h).status_code == 404


def test_bad_query_parameters(server: Server) -> None:
    h = server.auth("read")
    for params in ({"limit": "0"}, {"limit": "1001"}, {"limit": "x"}, {"cursor": "garbage"},
                   {"order": "sideways"}, {"since": "nan"}, {"tag": "nocolon"},
                   {"latest_only": "maybe"}, {"unknown": "1"}, {"type": ""},
                   {"name": "../x"}, {"tag": "bad key:1"}):
        r = server.client.get(f"{API}/projects/p/versions", params=params, headers=h)
        assert r.status_code == 422, (params, r.text)
    r = server.client.get(f"{API}/projects/p/search", headers=h)
    assert r.status_code == 422
    r = server.client.get(f"{API}/versions/{server.ids['model:1']}/lineage",
                          params={"depth": "0"}, headers=h)
    assert r.status_code == 422


def test_non_finite_json_numbers_are_refused(server: Server) -> None:
    before = _snap(server)
    h = {**server.auth("write"), "content-type": "application/json"}
    record = ('{{"id": "{}", "project": "p", "name": "n", "artifact_type": "t", '
              '"created_at": {}, "metadata": {{"x": {}}}}}')
    for created, meta in (("NaN", "1"), ("1.0", "Infinity"), ("-Infinity", "1")):
        body = '{"versions": [' + record.format(new_id(), created, meta) + "]}"
        r = server.client.post(f"{API}/projects/p/versions", content=body.encode(), headers=h)
        assert r.status_code == 422, (created, meta, r.text)
    r = server.client.put(f"{API}/projects/p/leases/{new_id()}",
                          content=b'{"digests": [], "expires_at": NaN}', headers=h)
    assert r.status_code == 422
    assert _snap(server) == before
