"""Parent-side helpers of the reliability tests: running workers, ageing leftovers,
and store checks stricter than ``verify()`` (every file under a digest path is a
complete blob; nothing but blobs lives there)."""

from __future__ import annotations

import os
import queue as queue_module
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from archivist import ArtifactCatalog
from tests.reliability import workers

_FANOUT = re.compile(r"[0-9a-f]{2}")
_REST = re.compile(r"[0-9a-f]{62}")


class WorkerGroup:
    """Worker processes (``workers.entry``) reporting on one queue; collect by index."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.queue = ctx.Queue()
        self.procs: list[Any] = []
        self.results: dict[int, Any] = {}

    def start(self, func_name: str, arg_lists: list[tuple[Any, ...]]) -> list[int]:
        indexes = []
        for args in arg_lists:
            index = len(self.procs)
            proc = self.ctx.Process(target=workers.entry,
                                    args=(self.queue, index, func_name, *args))
            proc.start()
            self.procs.append(proc)
            indexes.append(index)
        return indexes

    def collect(self, indexes: list[int], *, timeout: float = 240.0) -> list[Any]:
        """Wait for the results of ``indexes``; a worker that raised or died fails the
        test with its traceback."""
        deadline = time.monotonic() + timeout
        while not all(i in self.results for i in indexes):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"workers {indexes}: only "
                                     f"{sum(i in self.results for i in indexes)} reported "
                                     f"within {timeout:.0f} s")
            try:
                index, ok, payload = self.queue.get(timeout=min(remaining, 5.0))
            except queue_module.Empty:
                dead = {i: self.procs[i].exitcode for i in indexes
                        if i not in self.results and self.procs[i].exitcode not in (None, 0)}
                if dead:
                    raise AssertionError(f"worker(s) died without reporting: {dead}") from None
                continue
            if not ok:
                raise AssertionError(f"worker {index} raised:\n{payload}")
            self.results[index] = payload
        return [self.results[i] for i in indexes]

    def close(self) -> None:
        for proc in self.procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()


def run_workers(ctx: Any, func_name: str, arg_lists: list[tuple[Any, ...]], *,
                timeout: float = 240.0) -> list[Any]:
    """Run one ``workers.<func_name>`` process per argument tuple; return the results."""
    group = WorkerGroup(ctx)
    try:
        return group.collect(group.start(func_name, arg_lists), timeout=timeout)
    finally:
        group.close()


def age(paths: Iterable[str | os.PathLike[str]], seconds: float) -> None:
    """Set mtime (and atime) of each path ``seconds`` into the past."""
    when = time.time() - seconds
    for path in paths:
        os.utime(path, (when, when), follow_symlinks=False)


def blob_root(catalog: ArtifactCatalog) -> Path:
    assert catalog.home is not None
    return catalog.home / "blobs"


def stray_files_under_digests(catalog: ArtifactCatalog) -> list[str]:
    """Files under ``blobs/sha256`` whose path is not ``ab/<62 hex>`` (a temp file, a
    partial write under another name…)."""
    root = blob_root(catalog) / "sha256"
    stray = []
    for dirpath, _dirs, files in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for name in files:
            if not (len(rel.parts) == 1 and _FANOUT.fullmatch(rel.parts[0])
                    and _REST.fullmatch(name)):
                stray.append(str(rel / name))
    return stray


def check_blobs(catalog: ArtifactCatalog, digests: Iterable[str]) -> dict[str, list[str]]:
    """Rehash each digest present in the store; group by state (ok/corrupt/…)."""
    out: dict[str, list[str]] = {}
    for digest in digests:
        out.setdefault(catalog.blobs.check(digest), []).append(digest)
    return out


def live_blob_refs(catalog: ArtifactCatalog) -> set[str]:
    return {d for d, live in catalog.backend.blob_references().items() if live}  # type: ignore[attr-defined]


def version_counts(catalog: ArtifactCatalog) -> dict[str, tuple[int, int, int]]:
    """``name -> (count, min version, max version)`` over live and deleted rows."""
    engine: sa.Engine = catalog.backend.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT name, count(*), min(version), max(version) FROM versions GROUP BY name"
        )).all()
    return {name: (count, low, high) for name, count, low, high in rows}


def table_count(catalog: ArtifactCatalog, table: str) -> int:
    engine: sa.Engine = catalog.backend.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one())


def consistency_problems(catalog: ArtifactCatalog, *,
                         allowed_temps: Iterable[str] = ()) -> list[str]:
    """``assert_store_consistent`` as a list of problems, with leftover temp files
    allowed when their names are in ``allowed_temps`` (they predate the operation)."""
    problems = []
    report = catalog.verify()
    if not report.ok:
        problems.append(f"verify: corrupt={report.corrupt} missing={report.missing} "
                        f"suspicious={report.suspicious}")
    temps = {os.path.basename(p) for p, _ in catalog.blobs.temp_files()} - set(allowed_temps)
    if temps:
        problems.append(f"temp files left: {sorted(temps)}")
    stray = stray_files_under_digests(catalog)
    if stray:
        problems.append(f"stray files under digest paths: {stray}")
    for name, (count, low, high) in version_counts(catalog).items():
        if (low, high) != (1, count):
            problems.append(f"versions of {name} not gap-free: {low}..{high} for {count}")
    return problems


def directory_files(catalog: ArtifactCatalog, art: Any) -> list[tuple[str, bytes]]:
    """Every file of a directory version, read (and verified) blob by blob through its
    manifest: ``[(relative path, bytes)]``."""
    from archivist.store.manifest import Manifest

    with catalog.blobs.open(art.digest) as handle:
        manifest = Manifest.from_bytes(handle.read())
    files = []
    for entry in manifest.entries:
        with catalog.blobs.open(entry.digest) as handle:
            files.append((entry.path, handle.read()))
    return files


def check_k2_versions(catalog: ArtifactCatalog, files: int, acked: Iterable[str],
                      checked: set[str], iteration: int) -> tuple[list[str], bool]:
    """K2's look at the catalog after a kill: every acknowledged directory version is
    there, and every version not yet ``checked`` holds exactly its ``files`` files.
    Returns the problems found and whether iteration ``iteration``'s version exists."""
    present = {a.id: a for a in catalog.versions("k2dir")}
    problems = [f"acknowledged {i} lost" for i in acked if i not in present]
    for version_id, art in present.items():
        if version_id in checked:
            continue
        expect = workers.fingerprint(workers.tree_files(art.metadata["seed"], files, 64, 2048))
        try:
            got = directory_files(catalog, art)
            if len(got) != files or workers.fingerprint(got) != expect:
                problems.append(f"{art.ref}: {len(got)} files, content differs")
        except Exception as exc:
            problems.append(f"{art.ref} is visible but incomplete: {exc!r}")
        checked.add(version_id)
    return problems, any(a.metadata["seed"] == iteration for a in present.values())
