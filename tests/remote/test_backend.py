"""Backend methods the contract suite reaches only indirectly, called over HTTP directly."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from archivist import Artifact, ArtifactCatalog, RemoteCatalogBackend
from archivist.backends.base import NewRun, NewVersion
from archivist.ids import new_id
from tests.fixtures.http_target import HttpTarget

MakeRemote = Callable[..., ArtifactCatalog]


def backend_of(catalog: ArtifactCatalog) -> RemoteCatalogBackend:
    assert isinstance(catalog.backend, RemoteCatalogBackend)
    return catalog.backend


def test_leases_references_and_projects(make_remote: MakeRemote) -> None:
    catalog = make_remote()
    backend = backend_of(catalog)
    kept = catalog.get(catalog.register("kept", data=b"kept"))
    gone = catalog.get(catalog.register("gone", data=b"gone"))
    catalog.delete(gone)
    assert backend.blob_references() == {kept.digest: True, gone.digest: False}
    assert backend.projects() == ["default"]
    digest, _ = catalog.blobs.put_bytes(b"in flight")
    token = new_id()  # registrations lease under their version id
    backend.lease_blobs(token, [digest], time.time() + 60)
    assert digest in backend.leased_digests(time.time())
    assert digest not in backend.leased_digests(time.time() + 120)
    backend.release_blobs(token)
    assert digest not in backend.leased_digests(time.time())


def test_verify_checks_references_here_not_on_the_server(
        make_remote: MakeRemote, internal_service: HttpTarget) -> None:
    catalog = make_remote()
    backend = backend_of(catalog)
    same, moved = new_id(), new_id()
    backend.create_versions([
        NewVersion(id=vid, project="default", name=name, artifact_type="Dataset",
                   created_at=time.time(), kind="reference", size=5,
                   reference_uri=f"{internal_service.url}/{name}")
        for vid, name in ((same, "same"), (moved, "moved"))])
    server_report = backend.transport.json("POST", "/api/v1/projects/default/verify")
    assert sorted(server_report["unchecked_references"]) == sorted([same, moved])
    assert internal_service.hits == []  # the server read nothing
    internal_service.body = b"123456"  # both targets now answer 6 bytes
    report = catalog.verify()
    assert report.changed_references == sorted([same, moved])
    assert report.unchecked_references == []
    assert len(internal_service.hits) == 2  # checked from here, once each
    internal_service.body = b"12345"
    assert catalog.verify().changed_references == []


def test_lookups_keep_the_order_asked_and_skip_unknown_ids(make_remote: MakeRemote) -> None:
    catalog = make_remote()
    a, b = catalog.register("a"), catalog.register("b")
    catalog.delete(b)
    found = backend_of(catalog).get_versions_by_id([b, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", a])
    assert [(v.id, v.deleted) for v in found] == [(b, True), (a, False)]


def test_lists_longer_than_a_page_are_followed_page_by_page(
        make_remote: MakeRemote, requests_seen: list[tuple[str, str]]) -> None:
    catalog = make_remote()
    catalog.register_many([{"name": "n", "tags": {"i": i}} for i in range(1150)])
    before = len(requests_seen)
    versions = catalog.versions("n")
    assert [v.version for v in versions] == list(range(1, 1151))
    assert len(requests_seen) - before == 2  # 1000 + 150
    assert len(catalog.search("name:n", limit=1100)) == 1100
    assert [v.version for v in catalog.list(name="n", limit=3, offset=1000)] == [150, 149, 148]


def test_runs_round_trip(make_remote: MakeRemote) -> None:
    catalog = make_remote()
    backend = backend_of(catalog)
    run = backend.create_run(NewRun(id=new_id(), project="default", pipeline="train",
                                    started_at=time.time(), parameters={"lr": 0.1}))
    assert run.pathspec == "train/1"
    assert backend.get_run("train/1", "default") == backend.get_run(run.id, "default")
    backend.update_run(run.id, "succeeded", time.time(), None)
    assert [r.status for r in backend.list_runs("default", "train", None, 10, 0)] == [
        "succeeded"]
    assert backend.list_runs("default", None, "failed", 10, 0) == []


def _lost_answer_server(lands: bool) -> tuple[list[str], httpx.MockTransport]:
    """A server whose first answer to a create is lost (after, or before, it landed)."""
    stored: dict[str, dict[str, Any]] = {}
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        body = json.loads(request.read() or b"{}")
        if request.url.path.endswith("/versions"):
            first = seen.count(f"POST {request.url.path}") == 1
            if not first or lands:
                for record in body["versions"]:
                    stored[record["id"]] = record
            if first:
                raise httpx.ReadTimeout("the answer never came")
            return httpx.Response(201, json={"data": []})
        found = [Artifact(id=r["id"], name=r["name"], version=1, project=r["project"],
                          artifact_type=r["artifact_type"],
                          created_at=datetime.now(UTC)).to_dict()
                 for i in body["ids"] if (r := stored.get(i))]
        return httpx.Response(200, json={"data": found})

    return seen, httpx.MockTransport(handle)


def test_a_create_whose_answer_was_lost_is_checked_by_id_not_sent_twice() -> None:
    seen, mock = _lost_answer_server(lands=True)
    backend = RemoteCatalogBackend("http://catalog.test", client=httpx.Client(transport=mock))
    record = NewVersion(id=new_id(), project="default", name="n", artifact_type="File",
                        created_at=time.time())
    backend.create_versions([record])
    assert seen == ["POST /api/v1/projects/default/versions", "POST /api/v1/versions/lookup"]


def test_a_create_that_did_not_land_is_sent_again() -> None:
    seen, mock = _lost_answer_server(lands=False)
    backend = RemoteCatalogBackend("http://catalog.test", client=httpx.Client(transport=mock))
    record = NewVersion(id=new_id(), project="default", name="n", artifact_type="File",
                        created_at=time.time())
    backend.create_versions([record])
    assert seen == ["POST /api/v1/projects/default/versions", "POST /api/v1/versions/lookup",
                    "POST /api/v1/projects/default/versions"]


@pytest.mark.parametrize("lands", [True, False])
def test_a_delete_whose_answer_was_lost_is_looked_up_not_sent_blindly(lands: bool) -> None:
    """No answer to a DELETE (the connection cut after the server committed, or before):
    the client looks the version up, and sends the delete again only if it is not
    deleted — a second DELETE of a deleted version would be a 409."""
    version_id, seen, deleted = new_id(), [], []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if request.method == "DELETE":
            if deleted:
                return httpx.Response(409, json={"error": {
                    "type": "conflict", "message": "n:1 is deleted; cannot delete it"}})
            if lands or seen.count("DELETE") > 1:
                deleted.append(version_id)
            if seen.count("DELETE") == 1:
                raise httpx.ReadError("connection reset")
            return httpx.Response(204)
        found = Artifact(id=version_id, name="n", version=1, project="default",
                         artifact_type="File", created_at=datetime.now(UTC),
                         deleted=bool(deleted)).to_dict()
        return httpx.Response(200, json={"data": [found]})

    backend = RemoteCatalogBackend("http://catalog.test",
                                   client=httpx.Client(transport=httpx.MockTransport(handle)))
    backend.delete_version(version_id, None)
    assert seen == ["DELETE", "POST"] + (["DELETE"] if not lands else [])
    assert deleted == [version_id]


def test_a_time_partition_is_listed_in_one_request(
        make_remote: MakeRemote, requests_seen: list[tuple[str, str]]) -> None:
    catalog = make_remote()
    day = catalog.register("r", partitions={"dt": "2021-01-01", "dt.granularity": "day"})
    instant = catalog.register("r", partitions={"dt": "2021-01-01T13:05"})
    catalog.register("r", partitions={"dt": "2021-01-01"})  # no granularity: no match
    before = len(requests_seen)
    found = catalog.list(partitions={"dt": datetime(2021, 1, 1, 13, 5, tzinfo=UTC)})
    assert [a.id for a in found] == [instant, day]
    assert requests_seen[before:] == [("GET", "/api/v1/projects/default/versions")]


def test_bad_accepted_partition_spellings_are_refused(server: Any) -> None:
    listing = "/api/v1/projects/default/versions"
    for params in ([("partition_in", "dt:weekly:2021-01-01")],
                   [("partition_in", "bad key:day:2021-01-01")],
                   [("partition_in", f"dt::2021-01-0{n}") for n in range(1, 8)]):
        answer = server.get(listing, params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["error"]["type"] in ("invalid_input", "invalid_name")
    ok = server.get(listing, params=[("partition_in", "dt:day:2021-01-01"),
                                     ("partition_in", "dt::2021-01-01T13:05")])
    assert ok.status_code == 200 and ok.json()["data"] == []
