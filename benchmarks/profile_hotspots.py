"""Where archivist spends its time in the workloads that miss their targets (cProfile).

    python benchmarks/profile_hotspots.py [register|batch|search|search-sql|dir|dedup|all]
                                          [--top 15] [--versions 100000]

Not part of ``make bench``: a diagnostic for docs/benchmarks.md. Each mode runs one workload
of ``archivist_workloads`` under ``cProfile`` and prints the top functions by own time
(``tottime``) and by cumulative time. ``search-sql`` separates the SQL statement that
archivist's search compiles from the hydration of the records (it uses the SQL backend's
internals, read-only) and prints SQLite's query plan for it. ``dedup`` reports the bytes the
process passed to ``write()`` (``/proc/self/io`` ``wchar``) while registering identical bytes
from another path.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import archivist_workloads as work
from common import MIB, make_file, make_tree

from archivist import ArtifactCatalog, DuplicateArtifactWarning

WORKDIR = work.DEFAULT_WORKDIR


def profile(label: str, fn: Callable[[], object], top: int) -> None:
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    fn()
    prof.disable()
    wall = time.perf_counter() - t0
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(key).print_stats(top)
        body = out.getvalue()
        start = body.find("   ncalls")
        print(f"\n=== {label}: top {top} by {key} (wall {wall:.3f} s under the profiler)")
        print(body[start:].rstrip())


def _wchar() -> int:
    with open("/proc/self/io", encoding="ascii") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return -1


def mode_register(top: int) -> None:
    with work.fresh_catalog(WORKDIR, "prof-") as (catalog, _home):
        work._warm(catalog)
        names = work._names(10)

        def run() -> None:
            for i in range(2000):
                catalog.register(names[i % 10], tags=work._model_tags(i),
                                 description=f"version {i}")

        profile("register, 2,000 single calls", run, top)


def mode_batch(top: int) -> None:
    with work.fresh_catalog(WORKDIR, "prof-") as (catalog, _home):
        work._warm(catalog)
        names = work._names(10)

        def run() -> None:
            with catalog.batch():
                for i in range(10_000):
                    catalog.register(names[i % 10], tags=work._model_tags(i),
                                     description=f"version {i}")

        profile("register, 10,000 in one batch()", run, top)


def _search_catalog(versions: int) -> tuple[Path, dict[str, Any]]:
    return work.cached_catalog("search", versions, work.build_search_catalog,
                               log=lambda m: print(m, file=sys.stderr))


def mode_search(top: int, versions: int) -> None:
    home, _man = _search_catalog(versions)
    catalog = ArtifactCatalog(home)
    try:
        for _ in range(5):
            catalog.search(work.SEARCH_QUERY)

        def run() -> None:
            for _ in range(50):
                catalog.search(work.SEARCH_QUERY)

        profile(f"search x50 `{work.SEARCH_QUERY}` at {versions:,}", run, top)
    finally:
        catalog.close()


def mode_search_sql(versions: int) -> None:
    import sqlalchemy as sa

    from archivist.backends.sql import engine as engines
    from archivist.backends.sql import reads
    from archivist.backends.sql.search import compile_search
    from archivist.query.parser import parse_query
    from archivist.refs import parse_ref

    home, _man = _search_catalog(versions)
    catalog = ArtifactCatalog(home)
    backend: Any = catalog.backend
    queries = [work.SEARCH_QUERY, *work.EXTRA_QUERIES.values()]
    try:
        for q in queries:
            with engines.read_transaction(backend.engine) as conn:

                def resolve(ref: str, c: Any = conn) -> int:
                    return int(reads.resolve_seq(c, parse_ref(ref), catalog.project))

                stmt = compile_search(parse_query(q), project=catalog.project, dialect="sqlite",
                                      resolve_seq=resolve, now=time.time(), limit=100, offset=0)
                sql_t: list[float] = []
                hyd_t: list[float] = []
                seqs: list[int] = []
                for _ in range(12):
                    t0 = time.perf_counter()
                    seqs = [int(s) for s in conn.execute(stmt).scalars()]
                    t1 = time.perf_counter()
                    reads.hydrate(conn, seqs)
                    t2 = time.perf_counter()
                    sql_t.append(t1 - t0)
                    hyd_t.append(t2 - t1)
                sql_t, hyd_t = sorted(sql_t[2:]), sorted(hyd_t[2:])
                print(f"\n=== `{q}` at {versions:,}: rows {len(seqs)}, SQL p50 "
                      f"{sql_t[len(sql_t) // 2] * 1e3:.2f} ms, hydrate p50 "
                      f"{hyd_t[len(hyd_t) // 2] * 1e3:.2f} ms")
                compiled = stmt.compile(dialect=conn.dialect,
                                        compile_kwargs={"literal_binds": True})
                print(str(compiled))
                plan = conn.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")).all()
                print("--- plan")
                for row in plan:
                    print("   ", row[-1])
    finally:
        catalog.close()


def mode_dir(top: int, files: int = 10_000) -> None:
    base = Path(tempfile.mkdtemp(prefix="prof-dir-", dir=WORKDIR))
    try:
        tree = make_tree(base / "data", files, 4096)
        catalog = ArtifactCatalog(base / "catalog")
        work._warm(catalog)
        profile(f"register directory of {files:,} x 4 KiB",
                lambda: catalog.register("tree", path=tree), top)
        with open(tree / f"f{files // 2:06d}.bin", "r+b") as f:
            f.write(os.urandom(16))
        profile("re-register it with 1 file changed",
                lambda: catalog.register("tree", path=tree), top)
        catalog.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def mode_dedup(top: int, size_mib: int = 512) -> None:
    base = Path(tempfile.mkdtemp(prefix="prof-dedup-", dir=WORKDIR))
    try:
        src = make_file(base / "a.bin", size_mib * MIB)
        copy = base / "b.bin"
        shutil.copyfile(src, copy)
        catalog = ArtifactCatalog(base / "catalog")
        work._warm(catalog)
        w0 = _wchar()
        t0 = time.perf_counter()
        catalog.register("big", path=src)
        print(f"first register: {time.perf_counter() - t0:.3f} s, "
              f"write() bytes {(_wchar() - w0) / MIB:.1f} MiB")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DuplicateArtifactWarning)
            w0 = _wchar()
            t0 = time.perf_counter()
            catalog.register("big", path=copy)
            print(f"same bytes, other path: {time.perf_counter() - t0:.3f} s, "
                  f"write() bytes {(_wchar() - w0) / MIB:.1f} MiB")
            third = make_copy(src, base)
            profile("register identical bytes from another path",
                    lambda: catalog.register("big", path=third), top)
        catalog.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def make_copy(src: Path, base: Path) -> Path:
    dst = base / f"c-{time.perf_counter_ns()}.bin"
    shutil.copyfile(src, dst)
    return dst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cProfile hot spots of archivist workloads")
    parser.add_argument("mode", nargs="?", default="all",
                        choices=["register", "batch", "search", "search-sql", "dir", "dedup",
                                 "all"])
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--versions", type=int, default=100_000, help="search catalog size")
    args = parser.parse_args(argv)
    WORKDIR.mkdir(parents=True, exist_ok=True)
    modes: dict[str, Callable[[], None]] = {
        "register": lambda: mode_register(args.top),
        "batch": lambda: mode_batch(args.top),
        "search": lambda: mode_search(args.top, args.versions),
        "search-sql": lambda: mode_search_sql(args.versions),
        "dir": lambda: mode_dir(args.top),
        "dedup": lambda: mode_dedup(args.top),
    }
    for name, fn in modes.items():
        if args.mode in (name, "all"):
            fn()
    return 0


if __name__ == "__main__":
    sys.exit(main())
