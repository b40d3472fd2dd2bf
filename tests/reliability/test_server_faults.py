"""Faults under a catalog server on PostgreSQL (issue 16): K5 and the server's answers.

K5, the ambiguous commit: PostgreSQL commits a registration but the server never reads
"COMMIT" (a proxy drops that answer and cuts the connection, tests/fixtures/pgproxy.py).
The server answers 503; the oracle is the database itself. A retry of the same request
(the client-made version ids are its idempotency key) must answer as the first attempt
would have — 201 with the stored records, never 409 — and the remote client must get
there on its own. No answer may name the database, its host or its port.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from archivist import (
    ArtifactCatalog,
    RemoteCatalogBackend,
    StorageError,
    StorageUnavailableError,
)
from archivist.backends.remote.cache import BlobCache
from archivist.backends.remote.transport import Transport
from archivist.server.settings import ServerSettings
from tests.fixtures.pgproxy import CommitCutter
from tests.fixtures.postgres import PostgresCluster
from tests.fixtures.s3 import clear_s3fs_instances, s3_environment
from tests.remote.harness import in_process_server, remote_catalog
from tests.server.processes import server_process

WRITE_MARKER = b"INSERT INTO versions"
MIB = 1024 * 1024


@pytest.fixture
def proxied(postgres_cluster: PostgresCluster) -> Iterator[tuple[CommitCutter, str]]:
    """A proxy in front of the session's PostgreSQL, and a fresh database's name."""
    name = postgres_cluster.create_database()
    try:
        with CommitCutter(postgres_cluster.port) as proxy:
            yield proxy, name
    finally:
        postgres_cluster.drop_database(name)


@pytest.fixture
def server(proxied: tuple[CommitCutter, str], tmp_path: Path) -> Iterator[TestClient]:
    proxy, name = proxied
    settings = ServerSettings(database=proxy.url(name), blobs=str(tmp_path / "blobs"),
                              insecure_single_user=True)
    with in_process_server(settings) as client:
        yield client


def _leaks(text: str, proxy: CommitCutter, database: str) -> list[str]:
    return [s for s in (database, str(proxy.port), str(proxy.upstream_port), "127.0.0.1",
                        "versions_id_key", "psycopg") if s in text]


def _version_rows(cluster: PostgresCluster, database: str) -> list[tuple[str, str, int]]:
    engine = sa.create_engine(cluster.url(database))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(  # type: ignore[misc]
                "SELECT id, name, version FROM versions ORDER BY seq"))]
    finally:
        engine.dispose()


def test_k5_a_retried_register_whose_commit_answer_was_lost_returns_the_original(
        server: TestClient, proxied: tuple[CommitCutter, str],
        postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    proxy, database = proxied
    sent: list[tuple[str, bytes]] = []

    def record(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/versions"):
            sent.append((request.url.path, request.read()))

    server.event_hooks["request"] = [record]
    with remote_catalog(server, tmp_path / "cache") as catalog:
        catalog.register("warmup", data={"a": 1})
        _transport(catalog).retries = 0  # the first answer reaches the caller
        proxy.arm(WRITE_MARKER)
        with pytest.raises(StorageError) as info:
            catalog.register("model", data={"weights": [1, 2, 3]}, tags={"stage": "a"})
    assert proxy.cut == 1
    assert _leaks(str(info.value), proxy, database) == []
    rows = _version_rows(postgres_cluster, database)
    assert [(n, v) for _, n, v in rows] == [("warmup", 1), ("model", 1)]  # it committed

    path, body = sent[-1]
    again = server.post(path, content=body, headers={"Content-Type": "application/json"})
    assert again.status_code == 201, again.text
    stored = again.json()["data"]
    assert [(a["id"], a["name"], a["version"], a["tags"]) for a in stored] == [
        (rows[1][0], "model", 1, {"stage": "a"})]
    assert _version_rows(postgres_cluster, database) == rows  # nothing written twice

    # the same id for other content is a conflict that names no constraint
    other = json.loads(body)
    other["versions"][0]["name"] = "other"
    clash = server.post(path, json=other)
    assert clash.status_code == 409
    assert clash.json()["error"]["type"] == "conflict"
    assert _leaks(clash.text, proxy, database) == []
    assert _version_rows(postgres_cluster, database) == rows


def test_k5_the_remote_client_retries_a_503_register_to_exactly_one_version(
        server: TestClient, proxied: tuple[CommitCutter, str],
        postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    proxy, database = proxied
    answers: list[int] = []

    def status(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/versions"):
            answers.append(response.status_code)

    server.event_hooks["response"] = [status]
    with remote_catalog(server, tmp_path / "cache") as catalog:
        _transport(catalog).backoff = 0.01
        proxy.arm(WRITE_MARKER)
        version_id = catalog.register("model", data=b"bytes", aliases=["prod"])
        assert catalog.get("model@prod").id == version_id
    assert proxy.cut == 1
    assert answers[0] == 503
    rows = _version_rows(postgres_cluster, database)
    assert rows == [(version_id, "model", 1)]


#: Each write after registration, and what it leaves: (call, check of the end state).
_WRITES: dict[str, tuple[Callable[[ArtifactCatalog, str], object],
                         Callable[[ArtifactCatalog, str], bool]]] = {
    "delete": (lambda c, v: c.delete(v), lambda c, v: c.get(v).deleted),
    "tag": (lambda c, v: c.tag(v, stage="prod", gone=None),
            lambda c, v: c.get(v).tags == {"stage": "prod", "old": 1, "gone": None}),
    "untag": (lambda c, v: c.untag(v, "old"), lambda c, v: c.get(v).tags == {}),
    "remove_alias": (lambda c, v: c.remove_alias("model", "prod"),
                     lambda c, v: c.get(v).aliases == []),
    "set_alias": (lambda c, v: c.set_alias(v, "champion"),
                  lambda c, v: c.get(v).aliases == ["champion", "prod"]),
    "describe": (lambda c, v: c.update_description(v, "new words"),
                 lambda c, v: c.get(v).description == "new words"),
    "metadata": (lambda c, v: c.update_metadata(v, {"k": 2}),
                 lambda c, v: c.get(v).metadata == {"k": 2}),
    "rename": (lambda c, v: c.rename("model", "fraud_model"),
               lambda c, v: c.get(v).name == "fraud_model"),
}
#: the name the write leaves the version under (its history is read there)
_NAME_AFTER = {"rename": "fraud_model"}


@pytest.mark.parametrize("write", sorted(_WRITES))
def test_k5_a_write_whose_commit_answer_was_lost_is_retried_to_its_one_change(
        write: str, server: TestClient, proxied: tuple[CommitCutter, str],
        tmp_path: Path) -> None:
    """Issue 16: the server answers 503 after PostgreSQL committed a delete, a tag change,
    an alias, a description or a rename; the remote client must retry it on its own (not raise
    the 503), and the retry must neither fail (a second delete is a 409 "is deleted")
    nor record the change twice."""
    proxy, _ = proxied
    call, done = _WRITES[write]
    answers: list[tuple[str, int]] = []

    def status(response: httpx.Response) -> None:
        if response.request.method != "GET" and "/lookup" not in response.request.url.path:
            answers.append((response.request.method, response.status_code))

    with remote_catalog(server, tmp_path / "cache") as catalog:
        version_id = catalog.register("model", tags={"old": 1}, metadata={"k": 1},
                                      aliases=["prod"])
        before = len(catalog.history("model"))
        _transport(catalog).backoff = 0.01
        server.event_hooks["response"] = [status]
        proxy.arm(b"INSERT INTO history")
        call(catalog, version_id)
        server.event_hooks["response"] = []
        assert proxy.cut == 1
        assert answers[0][1] == 503, answers
        assert done(catalog, version_id)
        changes = [(h.kind, h.key, h.old, h.new)
                   for h in catalog.history(_NAME_AFTER.get(write, "model"))[before:]]
    assert len(changes) == len(set(changes)), changes  # none recorded twice
    assert changes, "the change is in the history"


def test_a_database_the_server_cannot_reach_is_a_503_naming_no_host(
        proxied: tuple[CommitCutter, str], tmp_path: Path) -> None:
    proxy, database = proxied
    settings = ServerSettings(database=proxy.url(database), blobs=str(tmp_path / "blobs"),
                              insecure_single_user=True)
    with in_process_server(settings) as client:
        proxy.upstream_port = _closed_port()  # new connections now fail
        client.app.state.archivist.backend.engine.dispose()  # type: ignore[attr-defined]
        answer = client.get("/api/v1/projects/default/versions")
    assert answer.status_code == 503
    error: dict[str, Any] = answer.json()["error"]
    assert error["type"] == "storage_error"
    assert "cannot reach the catalog database" in error["message"]
    assert _leaks(answer.text, proxy, database) == []


def _transport(catalog: ArtifactCatalog) -> Transport:
    assert isinstance(catalog.backend, RemoteCatalogBackend)
    return catalog.backend.transport


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- a database that hangs (SIGSTOP) ----------------------------------------------------------
def _cluster_pids(cluster: PostgresCluster) -> list[int]:
    """The postmaster and every process it started (the backends of open connections)."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(stat.parent.name))
    return pids


@contextlib.contextmanager
def _frozen(cluster: PostgresCluster) -> Iterator[None]:
    """PostgreSQL stopped (SIGSTOP) inside the block, always continued after it."""
    pids = _cluster_pids(cluster)
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _timed(call: Callable[[], httpx.Response], limit: float) -> tuple[httpx.Response, float]:
    """``call()`` and its seconds; fails (instead of hanging) after ``limit``. The call
    runs in a daemon thread that is not waited for: one stuck on a stopped database must
    not keep the test from continuing it."""
    done: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: done.append(call()), daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        pytest.fail(f"no answer within {limit} s")
    assert done, "the call raised (see the thread's traceback above)"
    return done[0], time.monotonic() - start


def test_k5_a_hung_database_answers_503_within_the_timeouts_and_health_stays_live(
        postgres_cluster: PostgresCluster, postgres_url: str, tmp_path: Path) -> None:
    settings = ServerSettings(database=postgres_url, blobs=str(tmp_path / "blobs"),
                              insecure_single_user=True, database_connect_timeout=2,
                              database_statement_timeout=1)
    with in_process_server(settings) as client:
        with remote_catalog(client, tmp_path / "cache") as catalog:
            catalog.register("before", data=b"x")
        assert client.get("/health/ready").json() == {
            "status": "ok", "checks": {"database": "ok", "store": "ok"}}
        listing = "/api/v1/projects/default/versions"
        with _frozen(postgres_cluster):
            answer, took = _timed(lambda: client.get(listing), 20)
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["type"] == "storage_error"
            assert "did not answer within 1 s" in answer.json()["error"]["message"]
            assert took < 6, took
            live, took = _timed(lambda: client.get("/health"), 5)
            assert live.status_code == 200 and took < 1
            ready, took = _timed(lambda: client.get("/health/ready"), 20)
            assert ready.status_code == 503 and took < 10, (ready.text, took)
            assert ready.headers["Retry-After"].isdigit()
            checks = ready.json()["checks"]
            assert checks["store"] == "ok" and checks["database"] != "ok"
            assert str(postgres_cluster.port) not in ready.text
        assert client.get("/health/ready").status_code == 200
        assert client.get(listing).status_code == 200
        with remote_catalog(client, tmp_path / "cache2") as catalog:
            catalog.register("after", data=b"y")
            assert [a.name for a in catalog.list()] == ["after", "before"]


# -- the blob store down (moto stopped) -------------------------------------------------------
@pytest.fixture
def own_s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A moto server of this test's own (it is stopped mid-test), and a bucket on it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in s3_environment(endpoint, tmp_path).items():
        monkeypatch.setenv(name, value)
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="outage")
    clear_s3fs_instances()
    try:
        yield server, str(port)
    finally:
        clear_s3fs_instances()
        with contextlib.suppress(Exception):
            server.stop()


def test_s3_down_blob_routes_answer_503_storage_unavailable_fast(
        own_s3: tuple[Any, str], tmp_path: Path) -> None:
    moto, port = own_s3
    settings = ServerSettings(database=f"sqlite:///{tmp_path / 'catalog.db'}",
                              blobs="s3://outage/blobs", insecure_single_user=True)
    with in_process_server(settings) as client:
        with remote_catalog(client, tmp_path / "cache") as catalog:
            stored = catalog.register("model", data=b"weights")
        digest = client.get(f"/api/v1/projects/default/refs/{stored}").json()["digest"]
        blob = f"/api/v1/projects/default/blobs/{digest}"
        other = "sha256:" + hashlib.sha256(b"x" * 10).hexdigest()
        moto.stop()
        calls = {
            "GET": lambda: client.get(blob),
            "HEAD": lambda: client.head(blob),
            "PUT": lambda: client.put(f"/api/v1/projects/default/blobs/{other}",
                                      content=b"x" * 10),
            "missing": lambda: client.post("/api/v1/projects/default/blobs/missing",
                                           json={"digests": [digest]}),
        }
        for what, call in calls.items():
            answer, took = _timed(call, 30)
            assert answer.status_code == 503, (what, answer.status_code, answer.text)
            assert answer.headers["Retry-After"].isdigit(), what
            assert took < 5, (what, took)
            if what != "HEAD":
                assert answer.json()["error"]["type"] == "storage_unavailable", what
                assert port not in answer.text, what
        ready, took = _timed(lambda: client.get("/health/ready"), 30)
        assert ready.status_code == 503 and took < 5
        checks = ready.json()["checks"]
        assert checks["database"] == "ok" and "unavailable" in checks["store"]
        assert port not in ready.text
        with remote_catalog(client, tmp_path / "cache2") as catalog:
            _transport(catalog).retries = 0
            with pytest.raises(StorageUnavailableError):
                catalog.register("next", data=b"other bytes")
            assert [a.name for a in catalog.list()] == ["model"]  # metadata still answers


# -- K4: leftovers of a server killed mid-upload ---------------------------------------------
def _upload_until_killed(url: str, digest: str, started: threading.Event) -> None:
    """PUT a blob whose body stalls after 1 MiB (until the server dies)."""
    def body() -> Iterator[bytes]:
        yield b"s" * MIB
        started.set()
        time.sleep(60)  # the server is killed meanwhile; the client then gives up
        yield b""

    with contextlib.suppress(httpx.HTTPError):
        httpx.put(f"{url}/api/v1/projects/default/blobs/{digest}", content=body(),
                  timeout=30)


def _kill_mid_upload(args: list[str], log: Path, spools: Path,
                     pattern: str = "archivist-upload-*") -> list[Path]:
    """Start a server, stall an upload after 1 MiB, kill -9 the server; the spools."""
    with server_process(args, log) as server:
        started = threading.Event()
        digest = "sha256:" + hashlib.sha256(b"never finished").hexdigest()
        threading.Thread(target=_upload_until_killed, args=(server.url, digest, started),
                         daemon=True).start()
        assert started.wait(30)
        deadline = time.monotonic() + 30
        while not list(spools.glob(pattern)):  # (its bytes may be buffered)
            assert time.monotonic() < deadline, list(spools.parent.rglob("*"))
            time.sleep(0.05)
        time.sleep(0.2)  # the server is in the middle of the upload
        os.kill(server.pid, signal.SIGKILL)
        os.waitpid(server.pid, 0)
    return sorted(spools.glob(pattern))


def test_k4_a_killed_servers_spools_are_reported_and_reclaimed_by_gc_and_restart(
        s3_blobs_url: str, s3_client: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the server's temp folder
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # and this process's
    spools = temp / "archivist-spools"
    database = f"sqlite:///{tmp_path / 'catalog.db'}"
    args = ["--database", database, "--blobs", s3_blobs_url, "--insecure-single-user"]

    left = _kill_mid_upload(args, tmp_path / "s1.log", spools)
    assert len(left) == 1  # under the spool folder, named for its dead owner
    assert [p for p in temp.iterdir() if p != spools] == []  # nothing loose in TMPDIR
    with ArtifactCatalog(database, blobs=s3_blobs_url) as catalog:
        assert catalog.verify().stale_temp == [str(left[0])]
        assert catalog.gc(dry_run=False, grace="1d").temp_removed == [str(left[0])]
    assert list(spools.iterdir()) == []

    left = _kill_mid_upload(args, tmp_path / "s2.log", spools)
    assert len(left) == 1
    with server_process(args, tmp_path / "s3.log") as server:
        assert list(spools.iterdir()) == []  # the restart reclaimed it
        backend = RemoteCatalogBackend(server.url, cache=BlobCache(tmp_path / "cache", MIB))
        with ArtifactCatalog(backend) as catalog:
            catalog.register("after", data=b"fine")
            assert catalog.verify().ok

    # an S3 multipart upload a killed writer left open is reported, then aborted by gc
    bucket, _, prefix = s3_blobs_url.removeprefix("s3://").partition("/")
    key = f"{prefix}/sha256/ab/{'c' * 62}"
    upload = s3_client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    # No part: its age is its Initiated, which moto dates 2010-11-10 (an upload with a
    # part uploaded now is young: tests/reliability/test_multipart.py)
    with ArtifactCatalog(database, blobs=s3_blobs_url) as catalog:
        stale = [p for p in catalog.verify().stale_temp if upload in p]
        assert len(stale) == 1
        assert catalog.gc(dry_run=False, grace="1h").temp_removed == stale
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_k4_a_killed_home_servers_temp_is_reclaimed_at_once_not_after_a_day(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    args = ["--home", str(home), "--insecure-single-user"]
    temps = home / "blobs" / "tmp"
    left = _kill_mid_upload(args, tmp_path / "s1.log", temps, "*.tmp")
    assert len(left) == 1
    with ArtifactCatalog(str(home)) as catalog:
        assert catalog.verify().stale_temp == [str(left[0])]  # reported at once
        assert catalog.gc(dry_run=False).temp_removed == [str(left[0])]  # default grace
    assert list(temps.iterdir()) == []
    left = _kill_mid_upload(args, tmp_path / "s2.log", temps, "*.tmp")
    assert len(left) == 1
    with server_process(args, tmp_path / "s3.log"):
        assert list(temps.iterdir()) == []  # the restart reclaimed it


def test_k4_spool_dir_puts_a_servers_spools_in_the_folder_given(tmp_path: Path) -> None:
    """``archivist server --spool-dir DIR``: uploads are spooled there (not the store's
    ``tmp/``), and a killed server's spool there is reclaimed by the next start."""
    home, spools = tmp_path / "home", tmp_path / "spools" / "new"  # made by the server
    args = ["--home", str(home), "--insecure-single-user", "--spool-dir", str(spools)]
    left = _kill_mid_upload(args, tmp_path / "s1.log", spools)
    assert len(left) == 1 and left[0].name.startswith("archivist-upload-")
    assert list((home / "blobs" / "tmp").glob("*")) == []
    with server_process(args, tmp_path / "s2.log") as server:
        assert list(spools.iterdir()) == []  # the restart reclaimed it
        backend = RemoteCatalogBackend(server.url, cache=BlobCache(tmp_path / "cache", MIB))
        with ArtifactCatalog(backend) as catalog:
            stored = catalog.register("after", data=b"fine" * 1000)
            assert catalog.load(stored) == b"fine" * 1000
            assert catalog.verify().ok


def test_spool_dir_that_is_a_file_stops_the_server_at_start(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from archivist.cli import app

    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    result = CliRunner().invoke(app, ["server", "--home", str(tmp_path / "home"),
                                      "--insecure-single-user", "--spool-dir", str(taken)])
    assert result.exit_code == 1
    assert "--spool-dir" in result.output and "not a folder" in result.output
