"""The run routes: create, list, get by id and pathspec, update, tasks, links, cache."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from archivist import wire
from archivist.ids import new_id
from archivist.model import TaskRecord
from tests.server.conftest import Server

API = "/api/v1"
KEY1, KEY2 = "sha256:" + "c" * 64, "sha256:" + "d" * 64


def _create(server: Server, pipeline: str = "train", who: str = "write") -> dict[str, object]:
    run = {"id": new_id(), "project": "p", "pipeline": pipeline, "started_at": time.time()}
    r = server.client.post(f"{API}/projects/p/runs", json={"run": run}, headers=server.auth(who))
    assert r.status_code == 201, r.text
    data: dict[str, object] = r.json()["data"]
    return data


def test_runs_lifecycle(server: Server) -> None:
    h = server.auth("write")
    first, second = _create(server), _create(server)
    assert (first["number"], second["number"]) == (1, 2)
    run_id = str(second["id"])
    task = TaskRecord(id=new_id(), run_id=run_id, step="fit", status="succeeded",
                      started_at=datetime.now(UTC), ended_at=datetime.now(UTC),
                      cache_key=KEY1, produced=[server.ids["model:2"]])
    r = server.client.put(f"{API}/runs/{run_id}/tasks/{task.id}", json=task.to_dict(), headers=h)
    assert r.status_code == 204, r.text
    r = server.client.post(f"{API}/runs/{run_id}/links",
                           json={"consumed": [server.ids["data:1"]], "produced": []}, headers=h)
    assert r.status_code == 204, r.text
    r = server.client.patch(f"{API}/runs/{run_id}",
                            json={"status": "succeeded", "ended_at": time.time(),
                                  "error": None, "details": {"note": 1}}, headers=h)
    assert r.status_code == 204, r.text
    for ref in (run_id, "train/2"):
        got = server.client.get(f"{API}/projects/p/runs/{ref}", headers=h)
        assert got.status_code == 200, got.text
        run = wire.run_from_dict(got.json()["data"])
        assert run.status == "succeeded" and run.details == {"note": 1}
        assert run.consumed == [server.ids["data:1"]]
        assert run.produced == [server.ids["model:2"]]
        assert [t.step for t in run.tasks] == ["fit"]
    page = server.client.get(f"{API}/projects/p/runs", params={"status": "succeeded"},
                             headers=h).json()
    assert [r["id"] for r in page["data"]] == [run_id] and page["next_cursor"] is None
    cached = server.client.get(f"{API}/projects/p/cached-tasks/{KEY1}", headers=h).json()
    assert cached["data"]["id"] == task.id
    assert server.client.get(f"{API}/projects/p/cached-tasks/{KEY2}", headers=h).json() == {
        "data": None}


def test_runs_are_scoped_by_project(server: Server) -> None:
    run = _create(server)
    other = server.auth("q_admin")
    assert server.client.get(f"{API}/projects/p/runs/{run['id']}", headers=other).status_code \
        == 404
    r = server.client.patch(f"{API}/runs/{run['id']}", json={"status": "failed"}, headers=other)
    missing = server.client.patch(f"{API}/runs/{new_id()}", json={"status": "failed"},
                                  headers=other)
    assert r.status_code == missing.status_code == 404
    assert r.json()["error"]["message"].replace(str(run["id"]), "X") == \
        missing.json()["error"]["message"].replace(missing.json()["error"]["details"]["ref"], "X")


def test_read_key_cannot_write_runs(server: Server) -> None:
    run = _create(server)
    r = server.client.patch(f"{API}/runs/{run['id']}", json={"status": "failed"},
                            headers=server.auth("read"))
    assert r.status_code == 403
    r = server.client.post(f"{API}/projects/p/runs", json={"run": {
        "id": new_id(), "project": "p", "pipeline": "x", "started_at": 1.0}},
        headers=server.auth("read"))
    assert r.status_code == 403
