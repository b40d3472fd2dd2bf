"""The catalog the fault tests on PostgreSQL + S3 start from, their operations, and the
before-or-after oracle (test_faults_pg.py, test_faults_remote.py).

The oracle, for one faulted run:

* the call raises a typed ``ArchivistError`` or absorbs the fault and ends in "after";
* the rows equal the before or the after snapshot; the blob set lies between the two;
* no stray key, open multipart upload, spool, or partial object under a digest key;
  ``verify().ok``; versions gap-free;
* ``gc`` (leases expired) leaves exactly the blobs live rows need.
"""

from __future__ import annotations

import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from archivist import ArchivistError, ArtifactCatalog, DuplicateArtifactWarning, maintenance
from tests.fixtures.postgres import PostgresCluster
from tests.helpers import Snapshot, snapshot
from tests.reliability import workers
from tests.reliability.faultseams import (
    PgS3Template,
    bucket_of,
    gap_problems,
    leftovers,
    rows_of,
)
from tests.reliability.support import live_blob_refs

MULTIPART = 17 * 1024 * 1024 + 77  # three parts: s3fs goes multipart from 2 parts of 8 MiB


@dataclass
class Sources:
    root: Path
    ids: dict[str, str]


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """This test's own temp folder: spools of other tests on the machine stay out."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return str(temp / "archivist-spools")


@pytest.fixture
def pg_template(postgres_cluster: PostgresCluster, postgres_url: str, s3_blobs_url: str,
                s3_client: Any, spool_dir: str,
                tmp_path: Path) -> Iterator[tuple[PgS3Template, Sources]]:
    """Two versions of ``base``, a directory, a deleted version and two orphan blobs."""
    root = tmp_path / "sources"
    root.mkdir()
    (root / "a.bin").write_bytes(workers.file_bytes(1, 3000))
    (root / "b.bin").write_bytes(workers.file_bytes(2, 3000))
    (root / "file.bin").write_bytes(workers.file_bytes(3, 10_000))
    (root / "large.bin").write_bytes(workers.file_bytes(4, MULTIPART))
    workers.write_tree(root / "tree0", 5, 3, 100, 2000)
    workers.write_tree(root / "tree", 6, 4, 100, 5000)
    with ArtifactCatalog(postgres_url, blobs=s3_blobs_url) as catalog:
        ids = {
            "base1": catalog.register("base", path=root / "a.bin"),
            "base2": catalog.register("base", path=root / "b.bin"),
            "olddir": catalog.register("olddir", path=root / "tree0"),
            "gone": catalog.register("gone", data=b"deleted version's bytes"),
        }
        catalog.delete(ids["gone"])
        catalog.blobs.put_bytes(b"orphan one")
        catalog.blobs.put_bytes(b"orphan two")
    template = PgS3Template(postgres_cluster, s3_client, postgres_url.rsplit("/", 1)[1],
                            bucket_of(s3_blobs_url)[0])
    try:
        yield template, Sources(root, ids)
    finally:
        template.drop_copies()


def _register(name: str, **kw: Any) -> Callable[[ArtifactCatalog, Sources], Any]:
    def run(catalog: ArtifactCatalog, s: Sources) -> Any:
        resolved = {k: (s.root / v if k == "path" else v) for k, v in kw.items()}
        if resolved.get("data") == "frame":
            resolved["data"] = workers.make_frame(7)
        return catalog.register(name, **resolved)
    return run


OPERATIONS: dict[str, Callable[[ArtifactCatalog, Sources], Any]] = {
    "register(path=file)": _register("newfile", path="file.bin"),
    "register(path=17MB file, multipart)": _register("bigfile", path="large.bin"),
    "register(path=dir)": _register("newdir", path="tree"),
    "register(data=DataFrame)": _register("frame", data="frame"),
    "tag": lambda c, s: c.tag(s.ids["base1"], stage="production"),
    "set_alias": lambda c, s: c.set_alias(s.ids["base1"], "production"),
    "delete": lambda c, s: c.delete(s.ids["base2"]),
    "gc(dry_run=False, grace=0)": lambda c, s: c.gc(dry_run=False, grace=0),
}
#: tag, set_alias and delete send no S3 request (asserted below): F-4 covers them.
S3_OPERATIONS = [n for n in OPERATIONS if n.startswith(("register", "gc"))]
SQL_OPERATIONS = ["register(path=file)", "register(path=dir)", "tag", "set_alias", "delete"]


@dataclass
class Figures:
    points: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    committed_but_failed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.points} injection points; outcomes {dict(self.outcomes)}; errors "
                f"{dict(self.errors)}"
                + (f"; error after commit at {self.committed_but_failed}"
                   if self.committed_but_failed else "")
                + f"; problems {len(self.problems)}")


class _Later:
    """``time`` for ``archivist.maintenance``: two hours ahead, so leases have expired."""

    @staticmethod
    def time() -> float:
        return time.time() + 7200


def run_op(op: Callable[[ArtifactCatalog, Sources], Any], catalog: ArtifactCatalog,
           s: Sources) -> BaseException | None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            op(catalog, s)
            error = None
        except Exception as exc:
            error = exc
    for warning in caught:  # a retried registration repeats bytes: that warning is expected
        if not issubclass(warning.category, DuplicateArtifactWarning):
            raise AssertionError(f"unexpected warning {warning}")
    return error


def judge(label: str, catalog: ArtifactCatalog, error: BaseException | None,
          before: Snapshot, after: Snapshot, figures: Figures, *, s3: Any, blobs_url: str,
          spool_dir: str, ignore: tuple[str, ...] = ()) -> None:
    """The before-or-after oracle for one faulted run on PostgreSQL + S3."""
    state = snapshot(catalog)
    if error is not None:
        figures.errors[type(error).__name__] += 1
        if not isinstance(error, ArchivistError):
            figures.problems.append(f"{label}: raw {type(error).__name__}: {error}\n"
                                    + "".join(traceback.format_exception(error)[-4:]))
    now, was, will = rows_of(state, ignore), rows_of(before, ignore), rows_of(after, ignore)
    if now == will and (was != will or state.blobs == after.blobs):
        outcome = "after"
    elif now == was:
        outcome = "before"
    else:
        figures.problems.append(f"{label}: rows are neither before nor after: {now} vs "
                                f"{was} / {will}")
        return
    if error is None:
        if outcome != "after":
            figures.problems.append(f"{label}: no error raised but the operation did nothing")
        outcome = "fault absorbed"
    elif outcome == "after":
        outcome = "error raised after the change committed"
        figures.committed_but_failed.append(label)
    figures.outcomes[outcome] += 1
    low, high = before.blobs & after.blobs, before.blobs | after.blobs
    if not low <= state.blobs <= high:
        figures.problems.append(f"{label}: blobs outside [before, after]: missing "
                                f"{sorted(low - state.blobs)[:3]}, extra "
                                f"{sorted(state.blobs - high)[:3]}")
    problems = leftovers(catalog, s3, blobs_url, spool_dir, state.blobs - before.blobs)
    problems += gap_problems(catalog)
    figures.problems += [f"{label}: {p}" for p in problems]


def reclaim(catalog: ArtifactCatalog, label: str, figures: Figures,
            monkeypatch: pytest.MonkeyPatch) -> None:
    """gc with the leases expired must leave exactly the blobs live rows need."""
    with monkeypatch.context() as m:
        m.setattr(maintenance, "time", _Later)
        catalog.gc(dry_run=False, grace=0)
    left = set(catalog.blobs.iter_digests())
    if left != live_blob_refs(catalog):
        figures.problems.append(f"{label}: after gc {len(left)} blobs, live rows need "
                                f"{len(live_blob_refs(catalog))}")


def pick(points: list[str], limit: int) -> list[int]:
    """1-based positions to fault: every one when there are at most ``limit``, else
    ``limit`` spread evenly over the first to the last, plus the first and the last
    COMMIT (each run starts from a database and bucket of its own: CI cannot afford them
    all; the exhaustive loops run on SQLite, test_faults.py)."""
    every = list(range(1, len(points) + 1))
    if len(every) <= limit:
        return every
    spread = {round(1 + i * (len(every) - 1) / (limit - 1)) for i in range(limit)}
    commits = [n for n in every if points[n - 1] == "COMMIT"]
    return sorted(spread | set(commits[:1] + commits[-1:]))

