"""Fault injection, "fail the Nth call" (reliability.md d.3): F-1, F-2 (lite), F-4.

Every write path is run once to count the calls it makes through a seam — the blob
store's :class:`~archivist.store.localfs.FsCalls` for filesystem calls, SQLAlchemy's
``before_cursor_execute`` for SQL statements — then once per N = 1…count on a fresh copy
of the same catalog, with call N failing. The oracle, for every N:

* the call raises a typed ``ArchivistError`` (never a raw ``OSError`` / SQLAlchemy error),
  or absorbs the fault and ends exactly in the "after" state;
* the rows equal the snapshot from before or from after the operation;
* the blob set lies between the two snapshots: a failed registration may leave complete,
  unreferenced blobs (``gc``'s work, removed below), never a row without its blob;
* no new temp file, no stray file under a digest path, no other new file in the home;
  ``verify().ok``; versions gap-free;
* afterwards ``gc(grace=0)`` brings the blobs back to exactly what live rows reference,
  and for registrations a retry without faults succeeds.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from archivist import ArchivistError, ArtifactCatalog, DuplicateArtifactWarning, maintenance
from archivist.store import open_blobs
from archivist.store.localfs import FsCalls
from tests.helpers import Snapshot, assert_store_consistent, snapshot
from tests.reliability import workers
from tests.reliability.support import age, consistency_problems, live_blob_refs

#: Calls that can fail with ENOSPC: creating or growing something. Reads, stats,
#: directory listings and unlinks cannot (an "open" counts only when it creates a temp).
SPACE_OPS = {"open", "write", "fsync", "syncfs", "link", "mkdir", "rename"}


class FaultyFs(FsCalls):
    """The blob store's filesystem seam, failing the Nth call when armed.

    ``persistent``: call N and every later one fail (only calls in ``SPACE_OPS`` are
    counted and failed, as a full disk would).
    """

    def __init__(self, tmp_dir: str) -> None:
        self.tmp_dir = tmp_dir
        self.armed = False
        self.fail_at = 0
        self.code = errno.EIO
        self.persistent = False
        self.calls: list[str] = []
        self.fired = 0

    def arm(self, fail_at: int = 0, *, code: int = errno.EIO, persistent: bool = False) -> None:
        self.armed, self.fail_at, self.code, self.persistent = True, fail_at, code, persistent
        self.calls, self.fired = [], 0

    def disarm(self) -> None:
        self.armed = False

    def hook(self, op: str, target: str | int) -> None:
        if not self.armed:
            return
        if self.persistent and (op not in SPACE_OPS or (
                op == "open" and not str(target).startswith(self.tmp_dir))):
            return
        self.calls.append(f"{op} {target}")
        n = len(self.calls)
        if n == self.fail_at or (self.persistent and n > self.fail_at > 0):
            self.fired += 1
            raise OSError(self.code, os.strerror(self.code), str(target))


class FaultySql:
    """Counts SQL statements on an engine, COMMITs included (the driver's ``commit()``
    runs no cursor), and fails the Nth with a driver error (SQLAlchemy wraps it as
    ``sqlalchemy.exc.OperationalError``, as for a real one)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.armed = False
        self.fail_at = 0
        self.statements: list[str] = []
        self.fired = 0
        sa.event.listen(engine, "before_cursor_execute", self._before)
        self._commit = engine.dialect.do_commit
        engine.dialect.do_commit = self._do_commit  # type: ignore[method-assign]

    def _do_commit(self, dbapi_connection: Any) -> None:
        if self.armed:
            self.statements.append("COMMIT")
            if len(self.statements) == self.fail_at:
                self.fired += 1
                raise sqlite3.OperationalError("disk I/O error (injected at COMMIT)")
        self._commit(dbapi_connection)

    def arm(self, fail_at: int = 0) -> None:
        self.armed, self.fail_at, self.statements, self.fired = True, fail_at, [], 0

    def disarm(self) -> None:
        self.armed = False

    def remove(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        self.engine.dialect.do_commit = self._commit  # type: ignore[method-assign]

    def _before(self, _conn: Any, _cursor: Any, statement: str, parameters: Any,
                _context: Any, _many: bool) -> tuple[str, Any]:
        if self.armed:
            self.statements.append(statement.split()[0] if statement.strip() else "?")
            if len(self.statements) == self.fail_at:
                self.fired += 1
                raise sqlite3.OperationalError("disk I/O error (injected)")
        return statement, parameters


# -- the catalog every run starts from --------------------------------------------------
@dataclass
class Template:
    home: Path
    sources: Path
    ids: dict[str, str]
    before: Snapshot
    temps: set[str]
    work: Path
    runs: int = 0

    def copy(self) -> Path:
        self.runs += 1
        home = self.work / f"run{self.runs}"
        shutil.copytree(self.home, home, symlinks=True)
        return home


@pytest.fixture
def template(tmp_path: Path) -> Template:
    """Two versions of ``base``, a directory, a deleted version, two orphan blobs and a
    stale temp file, everything aged three days; plus the sources the operations use."""
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "a.bin").write_bytes(workers.file_bytes(1, 3000))
    (sources / "b.bin").write_bytes(workers.file_bytes(2, 3000))
    (sources / "file.bin").write_bytes(workers.file_bytes(3, 10_000))
    (sources / "large.bin").write_bytes(workers.file_bytes(4, 5 * 1024 * 1024 + 123))
    workers.write_tree(sources / "tree0", 5, 3, 100, 2000)
    workers.write_tree(sources / "tree", 6, 6, 100, 5000)
    home = tmp_path / "template"
    catalog = ArtifactCatalog(home)
    ids = {
        "base1": catalog.register("base", path=sources / "a.bin"),
        "base2": catalog.register("base", path=sources / "b.bin"),
        "olddir": catalog.register("olddir", path=sources / "tree0"),
        "gone": catalog.register("gone", data=b"deleted version's bytes"),
    }
    catalog.delete(ids["gone"])
    catalog.blobs.put_bytes(b"orphan one")
    catalog.blobs.put_bytes(b"orphan two")
    age([catalog.blobs.path(d) for d in catalog.blobs.iter_digests()], 3 * 86_400)
    stale = home / "blobs" / "tmp" / "0123456789abcdef01234567.tmp"
    stale.write_bytes(b"left by a crashed put")
    age([stale], 2 * 3600)
    before = snapshot(catalog)
    temps = {os.path.basename(path) for path, _ in catalog.blobs.temp_files()}
    catalog.close()
    return Template(home=home, sources=sources, ids=ids, before=before, temps=temps,
                    work=tmp_path / "runs")


def _register(name: str, **kw: Any) -> Callable[[ArtifactCatalog, Template], Any]:
    def run(catalog: ArtifactCatalog, t: Template) -> Any:
        resolved = {k: (t.sources / v if k == "path" else v) for k, v in kw.items()}
        if "data" in resolved and resolved["data"] == "frame":
            resolved["data"] = workers.make_frame(7)
        return catalog.register(name, **resolved)
    return run


OPERATIONS: dict[str, Callable[[ArtifactCatalog, Template], Any]] = {
    "register(path=file)": _register("newfile", path="file.bin"),
    "register(path=5MB file)": _register("bigfile", path="large.bin"),
    "register(path=dir)": _register("newdir", path="tree"),
    "register(data=DataFrame)": _register("frame", data="frame"),
    "tag": lambda c, t: c.tag(t.ids["base1"], stage="production"),
    "set_alias": lambda c, t: c.set_alias(t.ids["base1"], "production"),
    "delete": lambda c, t: c.delete(t.ids["base2"]),
    "gc(dry_run=False, grace=0)": lambda c, t: c.gc(dry_run=False, grace=0),
}


@dataclass
class Figures:
    points: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    orphans: int = 0
    leases_left: int = 0
    committed_but_failed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.points} injection points; outcomes {dict(self.outcomes)}; errors "
                f"{dict(self.errors)}; orphan blobs left {self.orphans} (all reclaimed by gc)"
                + (f"; leases left {self.leases_left}" if self.leases_left else "")
                + (f"; error after commit at {self.committed_but_failed}"
                   if self.committed_but_failed else "")
                + f"; problems {len(self.problems)}")


class _Later:
    """``time`` for ``archivist.maintenance``: two hours ahead, so leases have expired."""

    @staticmethod
    def time() -> float:
        return time.time() + 7200


def _judge(label: str, catalog: ArtifactCatalog, error: BaseException | None,
           before: Snapshot, after: Snapshot, t: Template, figures: Figures, *,
           ignore_tables: tuple[str, ...] = ()) -> None:
    """Apply the before-or-after oracle to one faulted run."""
    state = snapshot(catalog)

    def rows(s: Snapshot) -> dict[str, int]:
        return {k: v for k, v in s.rows.items() if k not in ignore_tables}

    if error is not None and not isinstance(error, ArchivistError):
        figures.problems.append(f"{label}: raw {type(error).__name__}: {error}\n"
                                + "".join(traceback.format_exception(error)[-4:]))
    if error is not None:
        figures.errors[type(error).__name__] += 1
    if rows(state) == rows(after) and (rows(before) != rows(after)
                                       or state.blobs == after.blobs):
        outcome, base = "after", after
    elif rows(state) == rows(before):
        outcome, base = "before", before
    else:
        figures.problems.append(f"{label}: rows are neither before nor after: "
                                f"{rows(state)} vs {rows(before)} / {rows(after)}")
        return
    if error is None:
        outcome = "fault absorbed" if outcome == "after" else "NO ERROR, NOTHING DONE"
        if outcome != "fault absorbed":
            figures.problems.append(f"{label}: no error raised but the operation did nothing")
    elif outcome == "after":
        outcome = "error raised after the change committed"
        where = re.search(r"(N=\d+|statement \d+) \(([^)\s]+)", label)
        figures.committed_but_failed.append(f"{where[1]} ({where[2]})" if where else label)
    low, high = before.blobs & after.blobs, before.blobs | after.blobs
    if not low <= state.blobs <= high:
        figures.problems.append(f"{label}: blobs outside [before, after]: missing "
                                f"{sorted(low - state.blobs)[:3]}, extra "
                                f"{sorted(state.blobs - high)[:3]}")
    orphans = state.blobs - base.blobs
    if orphans:
        outcome += " + orphan blobs"
        figures.orphans += len(orphans)
    if base.blobs - state.blobs:
        outcome += " (unreferenced blobs partly swept)"
    figures.outcomes[outcome] += 1
    blob_files = {os.path.relpath(catalog.blobs.path(d), catalog.home or "")
                  for d in state.blobs | before.blobs | after.blobs}
    stray = state.files - before.files - after.files - blob_files
    if stray:
        figures.problems.append(f"{label}: new files left in the home: {sorted(stray)[:5]}")
    problems = consistency_problems(catalog, allowed_temps=t.temps)
    figures.problems += [f"{label}: {p}" for p in problems]
    leases = state.rows.get("inflight", 0) - base.rows.get("inflight", 0)
    figures.leases_left += max(leases, 0)


def _reclaim(catalog: ArtifactCatalog, label: str, figures: Figures,
             monkeypatch: pytest.MonkeyPatch) -> None:
    """gc (leases expired, temps aged) must leave exactly the blobs live rows need."""
    age([p for p, _ in catalog.blobs.temp_files()], 120)
    with monkeypatch.context() as m:
        m.setattr(maintenance, "time", _Later)
        catalog.gc(dry_run=False, grace=0)
    left = set(catalog.blobs.iter_digests())
    if left != live_blob_refs(catalog):
        figures.problems.append(f"{label}: after gc {len(left)} blobs, live rows need "
                                f"{len(live_blob_refs(catalog))}")


def _open(home: Path, faults: FaultyFs | None = None) -> ArtifactCatalog:
    return ArtifactCatalog(home, blobs=open_blobs(home / "blobs", fs_calls=faults))


def _run(op: Callable[[ArtifactCatalog, Template], Any], catalog: ArtifactCatalog,
         t: Template) -> BaseException | None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            op(catalog, t)
            error = None
        except Exception as exc:
            error = exc
    for warning in caught:  # a retried registration repeats bytes: that warning is expected
        if not issubclass(warning.category, DuplicateArtifactWarning):
            raise AssertionError(f"unexpected warning {warning}")
    return error


def _fs_loop(name: str, t: Template, monkeypatch: pytest.MonkeyPatch, *,
             code: int = errno.EIO, persistent: bool = False) -> Figures:
    op = OPERATIONS[name]
    figures = Figures()
    home = t.copy()
    faults = FaultyFs(str(home / "blobs" / "tmp"))
    catalog = _open(home, faults)
    faults.arm(persistent=persistent)
    error = _run(op, catalog, t)
    faults.disarm()
    assert error is None, f"{name} fails without faults: {error!r}"
    figures.points = len(faults.calls)
    after = snapshot(catalog)
    catalog.close()
    for n in range(1, figures.points + 1):
        home = t.copy()
        faults = FaultyFs(str(home / "blobs" / "tmp"))
        catalog = _open(home, faults)
        faults.arm(n, code=code, persistent=persistent)
        error = _run(op, catalog, t)
        faults.disarm()
        label = f"{name} N={n} ({faults.calls[n - 1] if len(faults.calls) >= n else '?'})"
        if not faults.fired:
            figures.problems.append(f"{label}: the fault was never reached")
        _judge(label, catalog, error, t.before, after, t, figures)
        _reclaim(catalog, label, figures, monkeypatch)
        if name.startswith("register"):
            retried = _run(op, catalog, t)
            if retried is not None:
                figures.problems.append(f"{label}: retry without faults failed: {retried!r}")
        try:
            assert_store_consistent(catalog)
        except AssertionError as exc:
            figures.problems.append(f"{label}: after recovery: {exc}")
        catalog.close()
        shutil.rmtree(home)
    return figures


#: Operations that call the blob store's filesystem (tag, set_alias and delete touch only
#: the database: their faults are F-4's, a fault here would have no call to land on).
FS_OPERATIONS = [name for name in OPERATIONS
                 if name.startswith(("register", "gc"))]


@pytest.mark.slow
@pytest.mark.parametrize("name", FS_OPERATIONS)
def test_f1_fail_nth_filesystem_call(name: str, template: Template,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """F-1: EIO at the Nth filesystem call of the blob store, for N = 1...count."""
    figures = _fs_loop(name, template, monkeypatch)
    print(f"\nF-1 {name}: {figures.line()}")
    assert figures.problems == [], "\n".join(figures.problems[:8])
    assert figures.points > 0, "no filesystem call went through the seam"
    assert sum(figures.errors.values()) >= 1, "no injected fault surfaced as an error"


@pytest.mark.slow
def test_f2_persistent_enospc(template: Template, monkeypatch: pytest.MonkeyPatch) -> None:
    """F-2 (lite): the disk fills up at call N and stays full, register(path=file)."""
    figures = _fs_loop("register(path=file)", template, monkeypatch, code=errno.ENOSPC,
                       persistent=True)
    print(f"\nF-2 ENOSPC persistent, register(path=file): {figures.line()}")
    assert figures.problems == [], "\n".join(figures.problems[:8])
    assert figures.points > 0
    assert figures.outcomes.get("fault absorbed", 0) < figures.points


SQL_OPERATIONS = ["register(path=file)", "register(path=dir)", "tag", "set_alias", "delete"]


@pytest.mark.parametrize("name", SQL_OPERATIONS)
def test_f4_fail_nth_sql_statement(name: str, template: Template,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """F-4: a driver OperationalError at the Nth SQL statement -> rollback, typed error,
    at most orphan blobs (reclaimed by gc), never a row without its blob."""
    op = OPERATIONS[name]
    figures = Figures()
    home = template.copy()
    catalog = _open(home)
    faults = FaultySql(catalog.backend.engine)  # type: ignore[attr-defined]
    faults.arm()
    error = _run(op, catalog, template)
    faults.disarm()
    assert error is None, f"{name} fails without faults: {error!r}"
    figures.points = len(faults.statements)
    statements = Counter(faults.statements)
    after = snapshot(catalog)
    catalog.close()
    for n in range(1, figures.points + 1):
        home = template.copy()
        catalog = _open(home)
        faults = FaultySql(catalog.backend.engine)  # type: ignore[attr-defined]
        faults.arm(n)
        error = _run(op, catalog, template)
        faults.disarm()
        faults.remove()
        label = f"{name} statement {n} ({faults.statements[n - 1] if faults.fired else '?'})"
        if not faults.fired:
            figures.problems.append(f"{label}: the fault was never reached")
        _judge(label, catalog, error, template.before, after, template, figures,
               ignore_tables=("inflight",))
        _reclaim(catalog, label, figures, monkeypatch)
        try:
            assert_store_consistent(catalog)
        except AssertionError as exc:
            figures.problems.append(f"{label}: after recovery: {exc}")
        catalog.close()
        shutil.rmtree(home)
    print(f"\nF-4 {name}: {dict(statements)} -> {figures.line()}")
    assert figures.problems == [], "\n".join(figures.problems[:8])
    assert figures.points > 0
    assert statements["COMMIT"] >= 1, "the fault hook never saw the COMMIT"
