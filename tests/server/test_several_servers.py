"""Several server processes on one catalog register concurrently and serve one
consistent catalog: SQLite home, and PostgreSQL + S3."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from archivist import keys
from archivist.backends.sql.backend import SqlBackend
from archivist.ids import new_id
from tests.server.processes import server_process

PER_SERVER = 15


def _key(database: str) -> dict[str, str]:
    store = SqlBackend(database)
    try:
        _, secret = keys.create_key(store, "p", "write")
    finally:
        store.close()
    return {"Authorization": f"Bearer {secret}"}


def _register(url: str, headers: dict[str, str], count: int) -> list[int]:
    numbers = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for i in range(count):
            record = {"id": new_id(), "project": "p", "name": "shared", "artifact_type": "m",
                      "created_at": time.time(), "tags": {"i": i}}
            r = client.post("/api/v1/projects/p/versions", json={"versions": [record]})
            assert r.status_code == 201, r.text
            numbers.append(r.json()["data"][0]["version"])
    return numbers


def _run_two(args: list[str], database: str, tmp_path: Path) -> None:
    headers = _key(database)
    with server_process(args, tmp_path / "a.log") as a, \
            server_process(args, tmp_path / "b.log") as b:
        with ThreadPoolExecutor(4) as pool:
            jobs = [pool.submit(_register, s.url, headers, PER_SERVER) for s in (a, b, a, b)]
            numbers = sorted(n for job in jobs for n in job.result())
        assert numbers == list(range(1, 4 * PER_SERVER + 1))  # gap-free, none twice
        data = b"bytes sent to one server, read from the other"
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        assert httpx.put(f"{a.url}/api/v1/projects/p/blobs/{digest}", content=data,
                         headers=headers).status_code == 201
        record = {"id": new_id(), "project": "p", "name": "file", "artifact_type": "f",
                  "created_at": time.time(), "kind": "file", "digest": digest,
                  "size": len(data), "blob_digests": [digest]}
        assert httpx.post(f"{b.url}/api/v1/projects/p/versions", json={"versions": [record]},
                          headers=headers).status_code == 201
        assert httpx.get(f"{b.url}/api/v1/projects/p/blobs/{digest}",
                         headers=headers).content == data
        views = []
        for server in (a, b):
            r = httpx.get(f"{server.url}/api/v1/projects/p/versions",
                          params={"name": "shared", "limit": 1000}, headers=headers)
            views.append([(v["id"], v["version"]) for v in r.json()["data"]])
        assert views[0] == views[1] and len(views[0]) == 4 * PER_SERVER


def test_two_servers_on_one_sqlite_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    _run_two(["--home", str(home)], f"sqlite:///{home / 'catalog.db'}", tmp_path)


def test_two_servers_on_postgres_and_s3(tmp_path: Path, postgres_url: str,
                                        s3_blobs_url: str) -> None:
    _run_two(["--database", postgres_url, "--blobs", s3_blobs_url], postgres_url, tmp_path)


def test_workers_serve_one_catalog(tmp_path: Path) -> None:
    """--workers N: uvicorn imports the app factory; each worker reads its settings from
    ARCHIVIST_SERVER_SETTINGS."""
    home = tmp_path / "home"
    home.mkdir()
    headers = _key(f"sqlite:///{home / 'catalog.db'}")
    with server_process(["--home", str(home), "--workers", "2"], tmp_path / "w.log") as server:
        with ThreadPoolExecutor(4) as pool:
            jobs = [pool.submit(_register, server.url, headers, 5) for _ in range(4)]
            numbers = sorted(n for job in jobs for n in job.result())
        assert numbers == list(range(1, 21))
    log = server.log.read_text()
    assert log.count("Started server process") == 2
    assert log.count('"status": 201') == 20
