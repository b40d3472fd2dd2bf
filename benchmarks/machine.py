"""Machine baselines, measured in the same run as archivist and the peers.

The physical floors that archivist's targets are ratios to (docs: research/performance.md,
Part 3): SHA-256 of a page-cached file, copy + fsync of that file (by ``read``/``write``
and by a kernel copy, ``copy_file_range``), hash-while-copy + fsync +
rename (what a content-addressed ingest must do), and one raw ``sqlite3`` registration-like
transaction. Plus a description of the machine.

Every byte figure uses the same source file (random bytes, page cache warm); each copy writes a
new file that is deleted right after its timing (this VM hands freed memory back to the host,
which makes writes into fresh pages 10x slower: never reuse or keep outputs), and
``os.sync()`` runs untimed before each timing (no overlap with earlier writeback). Repetitions
are interleaved (sha, copy, hash-copy, sha, copy, ...) and summarized as median/min/max.

    python benchmarks/machine.py [--size-mib 512] [--repeats 5] [--workdir DIR] [--quick]

prints one JSON object. ``measure()`` returns the same dict for benchmarks/run.py, and the
single-shot functions (``sha256_file``, ``copy_fsync``, ...) can be interleaved with archivist.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
import shutil
import sqlite3
import ssl
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    CHUNK,
    MIB,
    gb_per_s,
    make_file,
    print_json,
    settle,
    summarize,
    timeit_many,
)

DEFAULT_WORKDIR = Path(__file__).resolve().parent / ".work"


# --------------------------------------------------------------------------- machine info


def _cpuinfo() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ("sha_ni", "avx2", "avx512f", "aes")
    return {"cpu_model": model, "cpu_flags": [f for f in wanted if f in flags]}


def _meminfo_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / (1 << 20), 1)
    except OSError:
        return None
    return None


def _filesystem(path: Path) -> str | None:
    """Filesystem type of the mount holding ``path`` (from /proc/mounts)."""
    try:
        best = ("", "")
        resolved = str(path.resolve())
        with open("/proc/mounts", encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt, fstype = parts[1], parts[2]
                inside = resolved == mnt or resolved.startswith(mnt.rstrip("/") + "/")
                if inside and len(mnt) > len(best[0]):
                    best = (mnt, fstype)
        return best[1] or None
    except OSError:
        return None


def machine_info(workdir: Path = DEFAULT_WORKDIR) -> dict[str, Any]:
    """CPU, cores, RAM, OS, Python/SQLite/OpenSSL versions and free disk under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(workdir)
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = os.cpu_count() or 0
    return {
        **_cpuinfo(),
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "ram_gib": _meminfo_gib(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "openssl": ssl.OPENSSL_VERSION,
        "workdir_fs": _filesystem(workdir),
        "disk_free_gib": round(usage.free / (1 << 30), 1),
        "disk_total_gib": round(usage.total / (1 << 30), 1),
    }


# --------------------------------------------------------------------------- single shots


def sha256_file(path: Path, chunk: int = CHUNK) -> float:
    """Seconds to SHA-256 ``path`` reading ``chunk`` bytes at a time into one reused buffer."""
    buf = bytearray(chunk)
    view = memoryview(buf)
    h = hashlib.sha256()
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    h.hexdigest()
    return time.perf_counter() - t0


def durable_write_ms(folder: Path, n: int = 20, size: int = 1024) -> float:
    """ms per durable small file (``size`` bytes, 1 KB by default), landed the way the
    blob store lands a new blob: a temp written and fsync'd, hard-linked to its final
    name in a folder, the temp unlinked, the folder fsync'd (two fsyncs; a blob in a new
    fan-out folder costs a third)."""
    scratch = folder / "durable-floor"
    final = scratch / "final"
    final.mkdir(parents=True)
    payload = b"d" * size
    started = time.perf_counter()
    for k in range(n):
        tmp = scratch / f"{k}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, final / f"{k:04d}")
        os.unlink(tmp)
        dir_fd = os.open(final, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return 1000 * (time.perf_counter() - started) / n


def copy_fsync(src: Path, dst: Path, chunk: int = CHUNK) -> float:
    """Seconds to read ``src`` and write it to the new file ``dst``, then fsync; ``dst`` is
    deleted afterwards (not timed)."""
    buf = bytearray(chunk)
    view = memoryview(buf)
    t0 = time.perf_counter()
    with open(src, "rb", buffering=0) as fi, open(dst, "xb", buffering=0) as fo:
        while n := fi.readinto(buf):
            fo.write(view[:n])
        os.fsync(fo.fileno())
    elapsed = time.perf_counter() - t0
    dst.unlink()
    return elapsed


def kernel_copy_fsync(src: Path, dst: Path) -> float:
    """Seconds to copy ``src`` to the new file ``dst`` in the kernel (``copy_file_range``,
    else ``sendfile``: no user-space copy), then fsync; ``dst`` is deleted afterwards (not
    timed). Falls back to :func:`copy_fsync` where neither call exists."""
    copy = getattr(os, "copy_file_range", None)
    if copy is None and not sys.platform.startswith("linux"):
        return copy_fsync(src, dst)
    t0 = time.perf_counter()
    fi = os.open(src, os.O_RDONLY)
    fo = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        if copy is not None:
            while copy(fi, fo, 64 * MIB):
                pass
        else:
            while os.sendfile(fo, fi, None, 64 * MIB):
                pass
        os.fsync(fo)
    finally:
        os.close(fi)
        os.close(fo)
    elapsed = time.perf_counter() - t0
    dst.unlink()
    return elapsed


def hash_copy_fsync_rename(src: Path, dst_dir: Path, chunk: int = CHUNK) -> float:
    """Seconds for a content-addressed ingest done by hand, one thread: read ``src`` in chunks,
    SHA-256 each chunk and write it to a temp file, fsync, rename to ``<dst_dir>/<digest>``,
    fsync the directory. The blob is deleted afterwards (not timed)."""
    buf = bytearray(chunk)
    view = memoryview(buf)
    h = hashlib.sha256()
    tmp = dst_dir / f".tmp-{os.getpid()}-{time.perf_counter_ns()}"
    t0 = time.perf_counter()
    with open(src, "rb", buffering=0) as fi, open(tmp, "xb", buffering=0) as fo:
        while n := fi.readinto(buf):
            h.update(view[:n])
            fo.write(view[:n])
        os.fsync(fo.fileno())
    final = dst_dir / h.hexdigest()
    os.replace(tmp, final)
    dfd = os.open(dst_dir, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    elapsed = time.perf_counter() - t0
    final.unlink()
    return elapsed


SQLITE_SCHEMA = """
CREATE TABLE versions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    number INTEGER NOT NULL,
    digest TEXT,
    description TEXT,
    created REAL NOT NULL,
    UNIQUE (name, number)
);
CREATE TABLE tags (
    version_id INTEGER NOT NULL REFERENCES versions(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (version_id, key)
);
CREATE INDEX tags_kv ON tags (key, value);
"""


def sqlite_txn(db_path: Path, n: int = 2000, warmup: int = 50) -> dict[str, Any]:
    """One registration-like transaction at a time: ``BEGIN IMMEDIATE; INSERT version;
    INSERT tag; COMMIT`` with WAL and ``synchronous=NORMAL``, plain ``sqlite3`` (autocommit
    mode, explicit transactions). Returns latency percentiles and transactions per second."""
    con = sqlite3.connect(db_path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.executescript(SQLITE_SCHEMA)
        counter = iter(range(1, 10**9))

        def one() -> None:
            i = next(counter)
            con.execute("BEGIN IMMEDIATE")
            cur = con.execute(
                "INSERT INTO versions (name, number, digest, description, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (f"model_{i % 10}", i, f"{i:064x}", "a registration-like row", time.time()),
            )
            con.execute(
                "INSERT INTO tags (version_id, key, value) VALUES (?, ?, ?)",
                (cur.lastrowid, "stage", "production" if i % 3 == 0 else "staging"),
            )
            con.execute("COMMIT")

        t0 = time.perf_counter()
        stats: dict[str, Any] = timeit_many(one, n, warmup=warmup)
        elapsed = time.perf_counter() - t0
        stats["txn_per_s"] = round((n + warmup) / elapsed, 1)
        stats["journal_mode"] = "wal"
        stats["synchronous"] = "NORMAL"
        return stats
    finally:
        con.close()


# --------------------------------------------------------------------------- the whole set


def measure(
    workdir: Path = DEFAULT_WORKDIR,
    size_mib: int = 512,
    repeats: int = 5,
    sqlite_n: int = 2000,
) -> dict[str, Any]:
    """All baselines, interleaved, on one source file; temp data removed at the end."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="machine-", dir=workdir) as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / "source.bin"
        size = size_mib * MIB
        t0 = time.perf_counter()
        make_file(src, size)
        make_s = time.perf_counter() - t0
        blobs = tmpdir / "blobs"
        blobs.mkdir()

        # Warm-up: one untimed pass of each, so the source is read from the page cache.
        sha256_file(src)
        copy_fsync(src, tmpdir / "copy-warmup.bin")
        sha: list[float] = []
        copy: list[float] = []
        kcopy: list[float] = []
        ingest: list[float] = []
        for i in range(repeats):
            settle()
            sha.append(sha256_file(src))
            settle()
            copy.append(copy_fsync(src, tmpdir / f"copy-{i}.bin"))
            settle()
            kcopy.append(kernel_copy_fsync(src, tmpdir / f"kcopy-{i}.bin"))
            settle()
            ingest.append(hash_copy_fsync_rename(src, blobs))

        settle()
        sqlite = sqlite_txn(tmpdir / "txn.sqlite3", n=sqlite_n)

    return {
        "machine": machine_info(workdir),
        "file": {
            "size_mib": size_mib,
            "bytes": size,
            "chunk_bytes": CHUNK,
            "page_cache": "warm",
            "create_gb_per_s": gb_per_s(size, make_s),
        },
        "sha256_file": {
            "gb_per_s": summarize(gb_per_s(size, s) for s in sha),
            "seconds": summarize(sha),
        },
        "copy_fsync": {
            "gb_per_s": summarize(gb_per_s(size, s) for s in copy),
            "seconds": summarize(copy),
        },
        "kernel_copy_fsync": {
            "gb_per_s": summarize(gb_per_s(size, s) for s in kcopy),
            "seconds": summarize(kcopy),
        },
        "hash_copy_fsync_rename": {
            "gb_per_s": summarize(gb_per_s(size, s) for s in ingest),
            "seconds": summarize(ingest),
        },
        "sqlite_txn": sqlite,
        "repeats": repeats,
        "wall_s": round(time.time() - started, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512, help="source file size (MiB)")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of each byte test")
    parser.add_argument("--sqlite-n", type=int, default=2000, help="timed sqlite transactions")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="temp data parent")
    parser.add_argument("--quick", action="store_true", help="64 MiB, 3 repeats (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mib, args.repeats, args.sqlite_n = 64, 3, 500
    print_json(measure(args.workdir, args.size_mib, args.repeats, args.sqlite_n))
    with contextlib.suppress(OSError):
        args.workdir.rmdir()  # only if empty
    return 0


if __name__ == "__main__":
    sys.exit(main())
