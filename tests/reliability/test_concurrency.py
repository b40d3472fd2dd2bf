"""Concurrency (reliability.md d.1) at the CI sizes: C1, C4, C5, C6, C8, C10, C12.

Several processes (``spawn``) share one local catalog home. Each test prints one line of
figures (``pytest -s`` shows them).
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from archivist import ArtifactCatalog, ConflictError
from tests.helpers import assert_store_consistent, snapshot
from tests.reliability import workers
from tests.reliability.support import (
    WorkerGroup,
    run_workers,
    stray_files_under_digests,
    table_count,
)

MakeCatalog = Callable[..., ArtifactCatalog]


def _per_process_increasing(results: list[dict[str, Any]], by_id: dict[str, int]) -> list[str]:
    problems = []
    for p, result in enumerate(results):
        numbers = [by_id.get(i, -1) for i in result["ids"]]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            problems.append(f"process {p}: returned versions not strictly increasing")
        if -1 in numbers:
            problems.append(f"process {p}: {numbers.count(-1)} returned ids not in versions()")
    return problems


@pytest.mark.slow
def test_c1_same_name_registration(spawn_ctx: Any, tmp_path: Path,
                                   make_catalog: MakeCatalog) -> None:
    """C1: 4 processes x 100 register(name="shared", data=unique) -> versions 1..400."""
    procs, each = 4, 100
    home = tmp_path / "home"
    catalog = make_catalog(home)
    barrier = spawn_ctx.Barrier(procs)
    start = time.perf_counter()
    results = run_workers(spawn_ctx, "register_many_unique",
                          [(str(home), barrier, each, "shared")] * procs)
    wall = time.perf_counter() - start
    errors = [e for r in results for e in r["errors"]]
    found = catalog.versions("shared")
    numbers = [a.version for a in found]
    by_id = {a.id: a.version for a in found}
    returned = [i for r in results for i in r["ids"]]
    order = _per_process_increasing(results, by_id)
    newest = catalog.get_latest("shared")
    listed_first = catalog.list(name="shared", limit=1)[0].version
    print(f"\nC1: {procs}x{each} registrations -> {len(found)} versions "
          f"(1..{max(numbers, default=0)}), {len(errors)} errors, "
          f"{len(returned) - len(set(returned))} duplicate ids, ordering problems {len(order)}, "
          f"write phase {max(r['seconds'] for r in results):.1f} s, wall {wall:.1f} s, "
          f"versions() in version order: {numbers == sorted(numbers)}, get_latest -> "
          f"v{newest.version if newest else None}, list()[0] -> v{listed_first}, "
          f"get(shared:latest) -> v{catalog.get('shared:latest').version}")
    assert errors == [], errors[:5]
    assert sorted(numbers) == list(range(1, procs * each + 1))
    assert sorted(returned) == sorted(by_id)
    assert order == []
    assert_store_consistent(catalog)
    # SPEC: versions(name) lists "all live versions, oldest first", and versions are
    # numbered in commit order; so the list must come back as 1, 2, 3...
    assert catalog.get("shared:latest").version == procs * each
    assert newest is not None and newest.version == procs * each, newest
    assert numbers == sorted(numbers), (
        "versions() is not in version order under concurrent writers: it sorts by "
        "created_at, which the client takes before the blob upload, not by version "
        f"(first 12: {numbers[:12]})")


@pytest.mark.slow
def test_c4_readers_during_writes(spawn_ctx: Any, tmp_path: Path,
                                  make_catalog: MakeCatalog) -> None:
    """C4: C1 plus 2 readers looping list/search/get(latest): every observed version set
    is a prefix 1..k, latest never decreases, 0 reader errors."""
    writers, readers, each = 4, 2, 100
    home = tmp_path / "home"
    catalog = make_catalog(home)
    barrier = spawn_ctx.Barrier(writers + readers)
    stop = spawn_ctx.Event()
    group = WorkerGroup(spawn_ctx)
    try:
        reader_ix = group.start("read_while_writing",
                                [(str(home), barrier, stop, "shared")] * readers)
        writer_ix = group.start("register_many_unique",
                                [(str(home), barrier, each, "shared")] * writers)
        written = group.collect(writer_ix)
        stop.set()
        read = group.collect(reader_ix)
    finally:
        stop.set()
        group.close()
    found = catalog.versions("shared")
    numbers = [a.version for a in found]
    by_id = {a.id: a.version for a in found}
    write_errors = [e for r in written for e in r["errors"]]
    order = _per_process_increasing(written, by_id)
    observations = sum(sum(r["counts"].values()) for r in read)
    print(f"\nC4: writers {writers}x{each} -> {len(found)} versions, {len(write_errors)} "
          f"write errors; readers: {observations} observations "
          f"({', '.join(str(r['counts']) for r in read)}), "
          f"{sum(r['error_count'] for r in read)} errors, "
          f"{sum(r['violation_count'] for r in read)} prefix/monotonicity violations, "
          f"distinct version counts seen per reader {[r['distinct_sizes'] for r in read]}")
    assert write_errors == [], write_errors[:5]
    assert sorted(numbers) == list(range(1, writers * each + 1))
    assert order == []
    for r in read:
        assert r["error_count"] == 0, r["errors"]
        assert r["violation_count"] == 0, r["violations"]
        assert r["final_latest"] == writers * each
        # the readers really overlapped the writers: they saw the count grow
        assert r["distinct_sizes"] >= 3, r


@pytest.mark.slow
def test_c5_dedupe_race(spawn_ctx: Any, tmp_path: Path, make_catalog: MakeCatalog) -> None:
    """C5: 4 processes x 50 registrations of identical bytes -> 200 versions, 1 blob."""
    procs, each = 4, 50
    home = tmp_path / "home"
    catalog = make_catalog(home)
    data = b"identical bytes for every writer\n" * 1000
    barrier = spawn_ctx.Barrier(procs)
    results = run_workers(spawn_ctx, "register_many_same",
                          [(str(home), barrier, each, "same", data)] * procs)
    errors = [e for r in results for e in r["errors"]]
    found = catalog.versions("same")
    digests = {a.digest for a in found}
    blobs = list(catalog.blobs.iter_digests())
    temps = catalog.blobs.temp_files()
    scratch = [p for p in (home / "tmp").iterdir()] if (home / "tmp").exists() else []
    print(f"\nC5: {procs}x{each} identical registrations -> {len(found)} versions, "
          f"{len(blobs)} blob file(s), {len(digests)} distinct digest(s), {len(temps)} temp "
          f"files, {len(scratch)} scratch leftovers, {len(errors)} errors")
    assert errors == [], errors[:5]
    assert sorted(a.version for a in found) == list(range(1, procs * each + 1))
    assert digests == {"sha256:" + hashlib.sha256(data).hexdigest()}
    assert blobs == [next(iter(digests))]
    assert temps == []
    assert stray_files_under_digests(catalog) == []
    assert scratch == []
    assert_store_consistent(catalog)


@pytest.mark.slow
def test_c6_alias_race(spawn_ctx: Any, tmp_path: Path, make_catalog: MakeCatalog) -> None:
    """C6: 4 processes x 100 set_alias("production") to different versions.

    Each process alternates between two versions of its own, so every call is a real move
    (moving an alias to the version it already points at records nothing): exactly 400
    history entries, forming one chain (each entry's old = the previous entry's new).
    """
    procs, each = 4, 100
    home = tmp_path / "home"
    catalog = make_catalog(home)
    ids = [catalog.register("model", data=f"model {i}".encode()) for i in range(2 * procs)]
    barrier = spawn_ctx.Barrier(procs)
    results = run_workers(spawn_ctx, "move_alias",
                          [(str(home), barrier, ids[2 * p:2 * p + 2], each, "production")
                           for p in range(procs)])
    errors = [e for r in results for e in r["errors"]]
    entries = [h for h in catalog.history("model") if h.kind == "alias"]
    broken = [i for i in range(1, len(entries)) if entries[i].old != entries[i - 1].new]
    current = catalog.get("model@production")
    engine: sa.Engine = catalog.backend.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM aliases WHERE alias = 'production'"
                                    )).scalar_one()
    print(f"\nC6: {procs}x{each} alias moves -> {len(entries)} alias history entries, "
          f"{len(broken)} chain breaks, {rows} alias row(s), resolves to "
          f"{current.ref} (live: {not current.deleted}), {len(errors)} errors")
    assert errors == [], errors[:5]
    assert len(entries) == procs * each
    assert entries[0].old is None
    assert broken == []
    assert {e.key for e in entries} == {"production"}
    assert rows == 1
    assert current.id == entries[-1].new
    assert current.id in ids and not current.deleted


@pytest.mark.slow
def test_c8_first_open_race(spawn_ctx: Any, tmp_path: Path, make_catalog: MakeCatalog) -> None:
    """C8: 8 processes open an empty home at once and register once each; 5 rounds (5
    fresh homes) with the same processes, so the race is tried 40 times."""
    procs, rounds = 8, 5
    homes = [str(tmp_path / f"fresh-home-{r}") for r in range(rounds)]  # not created yet
    barrier = spawn_ctx.Barrier(procs)
    results = run_workers(spawn_ctx, "first_open_register",
                          [(homes, barrier, i) for i in range(procs)])
    failures = [r for per_process in results for r in per_process if r["error"]]
    figures = []
    for r, home in enumerate(homes):
        catalog = make_catalog(Path(home))
        found = catalog.versions("first")
        ids = {per_process[r]["id"] for per_process in results} - {None}
        figures.append((len(found), table_count(catalog, "alembic_version"),
                        sorted(a.version for a in found) == list(range(1, len(found) + 1))
                        and {a.id for a in found} == ids))
        assert_store_consistent(catalog)
    print(f"\nC8: {rounds} rounds x {procs} simultaneous first opens -> versions per home "
          f"{[f[0] for f in figures]}, {len(failures)} errors "
          f"({sorted({f['error'][:90] for f in failures})}), alembic_version rows "
          f"{[f[1] for f in figures]}")
    assert failures == [], failures[0]["trace"]
    assert [f[0] for f in figures] == [procs] * rounds
    assert [f[1] for f in figures] == [1] * rounds
    assert all(f[2] for f in figures)


@pytest.mark.slow
def test_c10_lock_wait_then_typed_timeout(spawn_ctx: Any, tmp_path: Path,
                                          make_catalog: MakeCatalog) -> None:
    """C10: a foreign BEGIN IMMEDIATE held 2 s -> register waits and succeeds; held 3 s
    against busy_timeout=1.0 -> ConflictError (never OperationalError), nothing written."""
    home = tmp_path / "home"
    catalog = make_catalog(home)
    catalog.register("warm", data=b"warm-up")
    database = str(home / "catalog.db")

    group = WorkerGroup(spawn_ctx)
    try:
        ready = spawn_ctx.Event()
        holder = group.start("hold_write_lock", [(database, ready, 2.0)])
        assert ready.wait(60), "lock holder did not start"
        start = time.monotonic()
        version_id = catalog.register("waits", data=b"registered while locked")
        waited = time.monotonic() - start
        group.collect(holder)

        short = make_catalog(home, busy_timeout=1.0)
        before = snapshot(short)
        ready = spawn_ctx.Event()
        holder = group.start("hold_write_lock", [(database, ready, 3.0)])
        assert ready.wait(60), "lock holder did not start"
        start = time.monotonic()
        with pytest.raises(ConflictError) as refused:
            short.register("refused", data=b"never registered")
        gave_up = time.monotonic() - start
        during = snapshot(short)
        group.collect(holder)
    finally:
        group.close()
    after = snapshot(short)
    orphans = after.blobs - before.blobs
    freed = short.gc(dry_run=False, grace=0).freed
    print(f"\nC10: lock held 2 s -> register waited {waited:.2f} s and succeeded; "
          f"lock held 3 s vs busy_timeout 1 s -> {type(refused.value).__name__} after "
          f"{gave_up:.2f} s ({refused.value}); rows unchanged: {after.rows == before.rows}; "
          f"orphan blobs {len(orphans)} (freed by gc: {len(set(freed) & orphans)})")
    assert catalog.get(version_id).name == "waits"
    assert waited >= 1.0, "register did not wait for the lock"
    assert not isinstance(refused.value, sa.exc.SQLAlchemyError)
    assert gave_up < 3.0, "the 1 s busy timeout was not honoured"
    assert during.rows == before.rows
    assert after.rows == before.rows
    assert [a.name for a in short.list(name="refused")] == []
    assert len(orphans) <= 1 and orphans <= set(freed)
    assert_store_consistent(short)


@pytest.fixture(params=["local", "postgres-s3"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path,
                 make_catalog: MakeCatalog) -> tuple[ArtifactCatalog, str, str | None]:
    """A catalog, and what a worker process opens it with: (catalog, home or URL, blobs)."""
    if request.param == "local":
        return make_catalog(tmp_path / "home"), str(tmp_path / "home"), None
    url, blobs = request.getfixturevalue("postgres_url"), request.getfixturevalue("s3_blobs_url")
    catalog = ArtifactCatalog(url, blobs=blobs)
    request.addfinalizer(catalog.close)
    return catalog, url, blobs


@pytest.mark.slow
def test_c12_paused_registration_vs_gc(
        spawn_ctx: Any, shared_store: tuple[ArtifactCatalog, str, str | None]) -> None:
    """C12-lite: a registration paused after its blob landed while gc(grace=0) runs.

    Paused before its lease is taken, gc may free the blob and the registration must
    land it again; paused after the lease, gc must keep it. 10 iterations of each; every
    registration completes with its blob present and readable. On PostgreSQL + S3 too,
    where the writer's store must not trust a cached listing after gc freed its blob.
    """
    iterations = 10
    phases = ["lease", "commit"] * iterations
    catalog, home, blobs = shared_store
    catalog.register("warm", data=b"warm-up")
    parent_end, child_end = spawn_ctx.Pipe()
    proc = spawn_ctx.Process(target=workers.paused_registrations,
                             args=(home, child_end, phases, blobs))
    proc.start()
    figures = {phase: {"freed_while_paused": 0, "kept_leased": 0, "completed": 0,
                       "blob_present": 0, "bytes_ok": 0} for phase in ("lease", "commit")}
    errors: list[str] = []
    def receive() -> Any:
        deadline = time.monotonic() + 60
        while not parent_end.poll(0.2):
            assert proc.is_alive(), f"the writer died (exit code {proc.exitcode})"
            assert time.monotonic() < deadline, "the writer is stuck"
        return parent_end.recv()

    try:
        for phase in phases:
            kind, paused_phase, digests = receive()
            assert (kind, paused_phase) == ("paused", phase)
            report = catalog.gc(dry_run=False, grace=0)
            fig = figures[phase]
            fig["freed_while_paused"] += sum(d in report.freed for d in digests)
            fig["kept_leased"] += sum(report.kept.get(d) == "held by a registration in flight"
                                      for d in digests)
            parent_end.send("go")
            kind, version_id, sha = receive()
            if kind != "done":
                errors.append(version_id)
                continue
            fig["completed"] += 1
            art = catalog.get(version_id)
            assert art.digest is not None
            fig["blob_present"] += catalog.blobs.exists(art.digest)
            fig["bytes_ok"] += hashlib.sha256(catalog.load(version_id)).hexdigest() == sha
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
    print(f"\nC12: {iterations} paused before lease: {figures['lease']}; {iterations} paused "
          f"before commit: {figures['commit']}; errors {len(errors)}")
    assert errors == [], errors
    for phase in ("lease", "commit"):
        assert figures[phase]["completed"] == iterations
        assert figures[phase]["blob_present"] == iterations
        assert figures[phase]["bytes_ok"] == iterations
    assert figures["commit"]["kept_leased"] == iterations
    assert figures["commit"]["freed_while_paused"] == 0
    assert_store_consistent(catalog)
