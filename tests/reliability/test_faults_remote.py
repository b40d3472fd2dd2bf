"""F-1 and F-4 through the remote backend, and answers lost on the way back (issue 16).

A remote catalog talks to an in-process server on PostgreSQL + S3 (a fresh copy of one
catalog per run, as in test_faults_pg.py). Server side, the Nth S3 request of the
server's store or the Nth SQL statement of its database fails; the client must end with
a typed ``ArchivistError`` (the server's 4xx/503 JSON mapped back) or, when its retries
absorb the fault, with the operation done exactly once; the server's catalog must equal
its before or after snapshot, with nothing left behind (test_faults_pg.judge). Odd runs
use a client without retries (the error reaches the caller), even runs the default
client (its retries must not duplicate anything).

Client side, the connection is cut after a request has reached the server and been
served (the answer is lost: an ambiguous write): for register, tag, set_alias and
delete, the client's retry must end in exactly-once — the call succeeds and the server
holds the after state, no second version, history entry or tombstone.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from archivist import ArtifactCatalog, RemoteCatalogBackend
from archivist.server.deps import STATE_KEY
from archivist.server.settings import ServerSettings
from tests.helpers import snapshot
from tests.reliability.faultseams import (
    FaultyS3,
    FaultySql,
    PgS3Template,
    psycopg_error,
    rows_of,
)
from tests.reliability.pgfaults import (
    OPERATIONS,
    Figures,
    Sources,
    judge,
    pick,
    reclaim,
    run_op,
)
from tests.remote.harness import in_process_server, remote_catalog

#: (a directory's registration is a file's, many times: its loop adds CI time, not paths)
REMOTE_OPERATIONS = ["register(path=file)", "tag", "set_alias", "delete"]
#: Faulted runs per operation and seam (pgfaults.pick; every COMMIT added): each run
#: starts a server on a database and bucket of its own.
RUNS = 4
#: Tables whose rows follow blobs rather than versions (see the judge's call).
BLOB_STATE = ("inflight", "blob_claims")


@contextlib.contextmanager
def _served(template: PgS3Template, cache: Path, *,
            retries: int = 4) -> Iterator[tuple[str, str, TestClient, ArtifactCatalog]]:
    url, blobs_url = template.copy()
    settings = ServerSettings(database=url, blobs=blobs_url, insecure_single_user=True)
    with in_process_server(settings) as client, remote_catalog(client, cache) as catalog:
        assert isinstance(catalog.backend, RemoteCatalogBackend)
        catalog.backend.transport.backoff = 0.01
        catalog.backend.transport.retries = retries
        yield url, blobs_url, client, catalog


def _server_state(client: TestClient) -> Any:
    return getattr(client.app.state, STATE_KEY)  # type: ignore[attr-defined]


Seam = Callable[[TestClient], Any]


def _s3_seam(client: TestClient) -> FaultyS3:
    return FaultyS3(_server_state(client).blobs("default")._fs)


def _sql_seam(client: TestClient) -> FaultySql:
    return FaultySql(_server_state(client).backend.engine, psycopg_error)


SEAMS: dict[str, Seam] = {"S3 request": _s3_seam, "SQL statement": _sql_seam}


def _calls(seam: Any) -> list[str]:
    return list(seam.calls if isinstance(seam, FaultyS3) else seam.statements)


@pytest.mark.slow
@pytest.mark.parametrize("seam_name", sorted(SEAMS))
@pytest.mark.parametrize("name", REMOTE_OPERATIONS)
def test_server_side_fault_reaches_the_client_typed_and_leaves_before_or_after(
        name: str, seam_name: str, pg_template: tuple[PgS3Template, Sources],
        spool_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template, sources = pg_template
    op = OPERATIONS[name]
    figures = Figures()
    with _served(template, tmp_path / "cache0") as (url, blobs_url, client, catalog):
        direct = ArtifactCatalog(url, blobs=blobs_url)
        before = snapshot(direct)
        seam = SEAMS[seam_name](client)
        seam.arm()
        error = run_op(op, catalog, sources)
        seam.disarm()
        seam.remove()
        assert error is None, f"{name} fails without faults: {error!r}"
        points = _calls(seam)
        after = snapshot(direct)
        direct.close()
    if seam_name == "S3 request" and name in ("tag", "set_alias", "delete"):
        assert points == []  # the server's store is not involved: nothing to fault
        return
    figures.points = len(points)
    picked = pick(points, RUNS)
    leases_left = 0
    for i, n in enumerate(picked):
        # alternate in the order faulted, not by the position's parity: the sampled
        # positions can all be odd (1, 3, 5, 9, 13), and then no retry is ever tried
        retries = 0 if i % 2 else 4
        with _served(template, tmp_path / f"cache{n}", retries=retries) as (
                url, blobs_url, client, catalog):
            seam = SEAMS[seam_name](client)
            seam.arm(n)
            error = run_op(op, catalog, sources)
            seam.disarm()
            seam.remove()
            label = (f"{name} {seam_name} {n} ({points[n - 1]}, retries {retries})")
            if not seam.fired:
                figures.problems.append(f"{label}: the fault was never reached")
        with ArtifactCatalog(url, blobs=blobs_url) as direct:
            # Blob state, not version state: a failed registration may leave the blobs it
            # uploaded (with the project's claims on them) for gc, and a lease whose
            # release failed with it expires (1 h): counted.
            judge(label, direct, error, before, after, figures, s3=template.s3,
                  blobs_url=blobs_url, spool_dir=spool_dir, ignore=BLOB_STATE)
            leases_left += snapshot(direct).rows["inflight"] - after.rows["inflight"]
            if error is None and rows_of(snapshot(direct), BLOB_STATE) != rows_of(
                    after, BLOB_STATE):
                figures.problems.append(f"{label}: succeeded but not exactly once")
            reclaim(direct, label, figures, monkeypatch)
    print(f"\nremote, server-side {seam_name} faults, {name}: {dict(Counter(points))}, "
          f"faulted {picked} -> {figures.line()}; leases left {leases_left}")
    assert figures.problems == [], "\n".join(figures.problems[:8])
    assert figures.points > 0
    assert sum(figures.errors.values()) >= 1, "no injected fault reached the client"
    assert figures.outcomes.get("fault absorbed", 0) >= 1 or len(picked) < 2, (
        "the client's retries never absorbed a fault")


class LostAnswers(httpx2.BaseTransport):
    """Serves every request, but the answer to the Nth write request (not GET/HEAD)
    never arrives: the connection is cut once the server has acted. (Starlette's
    TestClient is built on httpx2.)"""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner
        self.armed = False
        self.cut_at = 0
        self.writes: list[str] = []
        self.cut: list[str] = []

    def arm(self, cut_at: int = 0) -> None:
        self.armed, self.cut_at, self.writes, self.cut = True, cut_at, [], []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        if not self.armed or request.method in ("GET", "HEAD"):
            return response
        what = f"{request.method} {request.url.path.split('/projects/default')[-1]}"
        self.writes.append(what)
        if len(self.writes) == self.cut_at:
            response.read()
            response.close()
            self.cut.append(what)
            raise httpx2.ReadError("connection cut after the request was served (injected)",
                                  request=request)
        return response


def _changes(writes: list[str]) -> list[int]:
    """1-based positions of the requests that change something, the first blob upload
    standing for all (read-only POSTs — lookups, "which blobs are missing" — are left
    out: retrying them is plain)."""
    picked: list[int] = []
    for n, what in enumerate(writes, 1):
        if what.endswith(("/lookup", "/blobs/missing")):
            continue
        if what.startswith("PUT /blobs/") and any(
                writes[i - 1].startswith("PUT /blobs/") for i in picked):
            continue
        picked.append(n)
    return picked


@contextlib.contextmanager
def _cutting(client: TestClient) -> Iterator[LostAnswers]:
    original = client._transport
    lost = LostAnswers(original)
    client._transport = lost
    try:
        yield lost
    finally:
        client._transport = original


@pytest.mark.parametrize("name", ["register(path=file)", "register(path=dir)", "tag",
                                  "set_alias", "delete"])
def test_a_write_whose_answer_is_lost_is_retried_to_exactly_once(
        name: str, pg_template: tuple[PgS3Template, Sources], spool_dir: str,
        tmp_path: Path) -> None:
    template, sources = pg_template
    op = OPERATIONS[name]
    with _served(template, tmp_path / "cache0") as (url, blobs_url, client, catalog):
        direct = ArtifactCatalog(url, blobs=blobs_url)
        before = snapshot(direct)
        with _cutting(client) as lost:
            lost.arm()
            assert run_op(op, catalog, sources) is None
        writes = list(lost.writes)
        after = snapshot(direct)
        direct.close()
    assert writes, f"{name} sent no write request"
    problems: list[str] = []
    outcomes: Counter[str] = Counter()
    for n in _changes(writes):
        with _served(template, tmp_path / f"cache{n}") as (url, blobs_url, client, catalog):
            with _cutting(client) as lost:
                lost.arm(n)
                error = run_op(op, catalog, sources)
            label = f"{name}: answer to {writes[n - 1]} lost"
            if not lost.cut:
                problems.append(f"{label}: never cut")
        with ArtifactCatalog(url, blobs=blobs_url) as direct:
            state = snapshot(direct)
            if error is not None:
                problems.append(f"{label}: the client gave up: {type(error).__name__}: "
                                f"{error}")
            if state.rows != after.rows:
                problems.append(f"{label}: rows {state.rows}, exactly once is {after.rows} "
                                f"(before: {before.rows})")
            outcomes["exactly once" if state.rows == after.rows and error is None
                     else "wrong"] += 1
    print(f"\nremote, lost answers, {name}: writes {writes} -> {dict(outcomes)}")
    assert problems == [], "\n".join(problems[:8])
