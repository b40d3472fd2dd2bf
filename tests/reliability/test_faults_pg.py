"""F-1 and F-4 on PostgreSQL + S3 (issue 16; the SQLite runs are test_faults.py).

F-1: the Nth S3 request of the blob store fails — an I/O error before it is sent, a 500
answer, or an answer lost after S3 acted (:data:`~tests.reliability.faultseams.S3_KINDS`,
rotating with N). F-4: the Nth SQL statement, COMMIT included, fails with
``psycopg.OperationalError``. Every run starts from a copy of one catalog (database
cloned with ``CREATE DATABASE … TEMPLATE``, objects copied to a fresh bucket); the
oracle is test_faults.py's (pgfaults.judge), and a registration retried without faults
afterwards succeeds.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from archivist import ArtifactCatalog, StorageError
from archivist.store import open_blobs
from tests.helpers import assert_store_consistent, snapshot
from tests.reliability import workers
from tests.reliability.faultseams import (
    S3_KINDS,
    FaultyS3,
    FaultySql,
    PgS3Template,
    bucket_of,
    psycopg_error,
)
from tests.reliability.pgfaults import (
    MULTIPART,
    OPERATIONS,
    S3_OPERATIONS,
    SQL_OPERATIONS,
    Figures,
    Sources,
    judge,
    pick,
    reclaim,
    run_op,
)

#: Faulted runs per operation (pgfaults.pick).
RUNS = 6


def _after_run(name: str, label: str, catalog: ArtifactCatalog, s: Sources,
               figures: Figures, monkeypatch: pytest.MonkeyPatch) -> None:
    reclaim(catalog, label, figures, monkeypatch)
    if name.startswith("register"):
        retried = run_op(OPERATIONS[name], catalog, s)
        if retried is not None:
            figures.problems.append(f"{label}: retry without faults failed: {retried!r}")
    try:
        assert_store_consistent(catalog)
    except AssertionError as exc:
        figures.problems.append(f"{label}: after recovery: {exc}")


@pytest.mark.slow
@pytest.mark.parametrize("name", S3_OPERATIONS)
def test_f1_s3_fail_nth_request(name: str, pg_template: tuple[PgS3Template, Sources],
                                spool_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """F-1 on PostgreSQL + S3: the Nth S3 request fails (EIO, 500, lost answer)."""
    template, sources = pg_template
    op = OPERATIONS[name]
    figures = Figures()
    url, blobs_url = template.copy()
    with ArtifactCatalog(url, blobs=blobs_url) as catalog:
        before = snapshot(catalog)
        faults = FaultyS3(catalog.blobs._fs)  # type: ignore[attr-defined]
        faults.arm()
        error = run_op(op, catalog, sources)
        faults.disarm()
        faults.remove()
        assert error is None, f"{name} fails without faults: {error!r}"
        points = list(faults.calls)
        after = snapshot(catalog)
    figures.points = len(points)
    picked = pick(points, RUNS)
    for i, n in enumerate(picked):
        kind = S3_KINDS[i % len(S3_KINDS)]
        url, blobs_url = template.copy()
        with ArtifactCatalog(url, blobs=blobs_url) as catalog:
            faults = FaultyS3(catalog.blobs._fs)  # type: ignore[attr-defined]
            faults.arm(n, kind)
            error = run_op(op, catalog, sources)
            faults.disarm()
            faults.remove()
            label = f"{name} N={n} ({kind} at {faults.calls[n - 1] if faults.fired else '?'})"
            if not faults.fired:
                figures.problems.append(f"{label}: the fault was never reached")
            if error is not None and not isinstance(error, StorageError):
                figures.problems.append(f"{label}: the store failed, the caller got "
                                        f"{type(error).__name__}: {error}")
            judge(label, catalog, error, before, after, figures, s3=template.s3,
                  blobs_url=blobs_url, spool_dir=spool_dir)
            _after_run(name, label, catalog, sources, figures, monkeypatch)
    print(f"\nF-1 S3 {name}: {dict(Counter(points))}, faulted {picked} -> {figures.line()}")
    assert figures.problems == [], "\n".join(figures.problems[:8])
    assert figures.points > 0, "no S3 request went through the seam"
    assert sum(figures.errors.values()) >= 1, "no injected fault surfaced as an error"


def test_f1_s3_labels_and_delete_send_no_s3_request(
        pg_template: tuple[PgS3Template, Sources]) -> None:
    """Why F-1 leaves tag, set_alias and delete to F-4: they never reach the store."""
    template, sources = pg_template
    url, blobs_url = template.copy()
    with ArtifactCatalog(url, blobs=blobs_url) as catalog:
        faults = FaultyS3(catalog.blobs._fs)  # type: ignore[attr-defined]
        faults.arm()
        for name in ("tag", "set_alias", "delete"):
            assert run_op(OPERATIONS[name], catalog, sources) is None
        silent = list(faults.calls)
        assert run_op(OPERATIONS["register(path=file)"], catalog, sources) is None
        faults.remove()
    assert silent == []
    assert "put_object" in faults.calls  # the seam does see the store's requests


@pytest.mark.slow
@pytest.mark.parametrize("name", SQL_OPERATIONS)
def test_f4_postgres_fail_nth_sql_statement(name: str,
                                            pg_template: tuple[PgS3Template, Sources],
                                            spool_dir: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """F-4 on PostgreSQL: psycopg's OperationalError at the Nth statement (COMMIT too)
    -> rollback, typed error, at most orphan blobs (reclaimed by gc)."""
    template, sources = pg_template
    op = OPERATIONS[name]
    figures = Figures()
    url, blobs_url = template.copy()
    with ArtifactCatalog(url, blobs=blobs_url) as catalog:
        before = snapshot(catalog)
        faults = FaultySql(catalog.backend.engine, psycopg_error)  # type: ignore[attr-defined]
        faults.arm()
        error = run_op(op, catalog, sources)
        faults.disarm()
        faults.remove()
        assert error is None, f"{name} fails without faults: {error!r}"
        points = list(faults.statements)
        statements = Counter(points)
        after = snapshot(catalog)
    figures.points = len(points)
    picked = pick(points, RUNS)
    for n in picked:
        url, blobs_url = template.copy()
        with ArtifactCatalog(url, blobs=blobs_url) as catalog:
            faults = FaultySql(catalog.backend.engine, psycopg_error)  # type: ignore[attr-defined]
            faults.arm(n)
            error = run_op(op, catalog, sources)
            faults.disarm()
            faults.remove()
            label = f"{name} statement {n} ({faults.statements[n - 1] if faults.fired else '?'})"
            if not faults.fired:
                figures.problems.append(f"{label}: the fault was never reached")
            judge(label, catalog, error, before, after, figures, s3=template.s3,
                  blobs_url=blobs_url, spool_dir=spool_dir, ignore=("inflight",))
            _after_run(name, label, catalog, sources, figures, monkeypatch)
    print(f"\nF-4 PostgreSQL {name}: {dict(statements)}, faulted {picked} -> "
          f"{figures.line()}")
    assert figures.problems == [], "\n".join(figures.problems[:8])
    assert figures.points > 0
    assert statements["COMMIT"] >= 1, "the fault hook never saw the COMMIT"


@pytest.mark.parametrize("fail_at", [4, 6])  # a part's answer; complete's answer
def test_a_lost_answer_mid_multipart_upload_is_a_storage_error_not_missing_bytes(
        fail_at: int, s3_blobs_url: str, s3_client: Any, spool_dir: str,
        tmp_path: Path) -> None:
    """S3 acts but the answers of three requests in a row are lost (s3fs retries each
    once): the retried ``complete``/``abort`` finds no upload (NoSuchUpload). That is the
    store failing, not bytes missing from the catalog (``IntegrityError`` said "bytes
    missing at …" before), and nothing stays behind."""
    source = tmp_path / "large.bin"
    source.write_bytes(workers.file_bytes(9, MULTIPART))
    blobs = open_blobs(s3_blobs_url)
    faults = FaultyS3(blobs._fs)  # type: ignore[attr-defined]
    faults.arm(fail_at, "lost")
    with pytest.raises(StorageError, match="retry"):
        blobs.put_file(source)
    faults.remove()
    assert faults.calls[fail_at - 1] in ("upload_part", "complete_multipart_upload")
    bucket, _prefix = bucket_of(s3_blobs_url)
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert [d for d in blobs.iter_digests() if blobs.check(d) != "ok"] == []
    assert os.listdir(spool_dir) == []
