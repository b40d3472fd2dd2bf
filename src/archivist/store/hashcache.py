"""Remember the digests of unchanged local files, so re-registering a tree re-hashes only
what changed (dvc-data ``hashfile/state.py`` keeps the same kind of table).

The cache is only ever used to *skip a re-hash*: a digest from it is a hint that the
blob store checks (a hit costs one ``stat`` of the blob; a miss falls back to copying and
hashing), and a broken, locked or unwritable cache file degrades to "no cache" rather
than failing a registration.

Key: absolute path, size, ``mtime_ns``, ``ctime_ns``, inode and device. ``ctime`` is in
the key because tools that restore ``mtime`` (``cp -p``, ``rsync -a``, ``tar``) cannot
restore it. An entry is only stored when the file's last change is older than the moment
hashing started by more than the filesystem's timestamp granularity: otherwise a write in
the same clock tick after we read it would leave every stat field unchanged and the cache
would lie (git's "racily clean" problem).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable

from archivist._types import PathLike
from archivist.store.hashing import DIGEST_RE

log = logging.getLogger(__name__)

# ext4/xfs/btrfs timestamps come from the kernel's coarse clock (one tick: 1-10 ms);
# filesystems with whole-second (NFSv3, HFS+) or 2-second (FAT) stamps get 2.5 s.
RACY_NS = 100_000_000
RACY_COARSE_NS = 2_500_000_000
#: Free bytes under which the cache's disk counts as full (SQLite needs a few pages).
FULL_BELOW = 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    dev INTEGER NOT NULL,
    digest TEXT NOT NULL
)
"""


def _key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def _disk_full(path: str) -> bool:
    """Whether the filesystem holding ``path`` has less than 1 MiB free."""
    try:
        stats = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < FULL_BELOW


def is_racy(st: os.stat_result, hashed_at_ns: int) -> bool:
    """Whether ``st`` changed too close to ``hashed_at_ns`` for a later change to be
    sure to show in its timestamps (a change in the same clock tick may not)."""
    changed = max(st.st_mtime_ns, st.st_ctime_ns)
    coarse = st.st_mtime_ns % 1_000_000_000 == 0 and st.st_ctime_ns % 1_000_000_000 == 0
    return changed > hashed_at_ns - (RACY_COARSE_NS if coarse else RACY_NS)


class HashCache:
    """A small SQLite file mapping unchanged local files to their digests.

    Safe with several threads and processes: WAL mode, a busy timeout, one short
    transaction per :meth:`put_many`. Obtain one per catalog home::

        cache = HashCache(home / "hashcache.db")
        digest = cache.get(os.stat(p), p)        # None: hash it
        cache.put_many([(p, st, digest)], hashed_at_ns=t0)
    """

    def __init__(self, path: PathLike) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None and not self._broken:
            try:
                conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                # A lost cache entry costs one re-hash, so commits need not reach the disk.
                conn.execute("PRAGMA synchronous=OFF")
                conn.execute(_SCHEMA)
                self._conn = conn
            except sqlite3.Error as exc:
                self._give_up(exc)
        return self._conn

    def _give_up(self, exc: Exception) -> None:
        if _disk_full(self.path):
            # SQLite says "disk I/O error" (no room for the WAL) or "database or disk is
            # full"; whatever needed the room fails next, and says the disk is full.
            log.info("hash cache %s not used: its disk is full (every file is hashed)",
                     self.path)
        else:
            log.warning("hash cache %s unusable, hashing every file (%s)", self.path, exc)
        self._broken = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def get(self, st: os.stat_result, path: str) -> str | None:
        """The cached digest of ``path`` if its stat still matches ``st``, else ``None``."""
        with self._lock:
            conn = self._connect()
            if conn is None:
                return None
            try:
                row = conn.execute(
                    "SELECT size, mtime_ns, ctime_ns, inode, dev, digest FROM hashes "
                    "WHERE path = ?", (os.path.abspath(path),)).fetchone()
            except sqlite3.Error as exc:
                self._give_up(exc)
                return None
        if row is None or tuple(row[:5]) != _key(st) or not DIGEST_RE.fullmatch(str(row[5])):
            return None  # a mangled row is a miss, never an error
        return str(row[5])

    def get_many(self, items: list[tuple[os.stat_result, str]], *,
                 absolute: bool = False) -> list[str | None]:
        """:meth:`get` for many files in a few queries (a 10,000-file tree: 12 queries
        instead of 10,000). ``absolute``: the paths are already absolute and normalized
        (``os.path.abspath`` would return them unchanged), as a tree walk's are."""
        paths = [path for _, path in items] if absolute else [
            os.path.abspath(path) for _, path in items]
        rows: dict[str, tuple[object, ...]] = {}
        with self._lock:
            conn = self._connect()
            if conn is None:
                return [None] * len(items)
            try:
                for start in range(0, len(paths), 900):  # SQLite's default variable limit
                    chunk = paths[start:start + 900]
                    marks = ",".join("?" * len(chunk))
                    for row in conn.execute(
                            "SELECT path, size, mtime_ns, ctime_ns, inode, dev, digest "
                            f"FROM hashes WHERE path IN ({marks})", chunk):
                        rows[row[0]] = tuple(row[1:])
            except sqlite3.Error as exc:
                self._give_up(exc)
                return [None] * len(items)
        out: list[str | None] = []
        for (st, _), path in zip(items, paths, strict=True):
            row = rows.get(path)
            ok = row is not None and row[:5] == _key(st) and DIGEST_RE.fullmatch(str(row[5]))
            out.append(str(row[5]) if ok and row is not None else None)
        return out

    def put_many(self, entries: Iterable[tuple[str, os.stat_result, str]], *,
                 hashed_at_ns: int, absolute: bool = False) -> int:
        """Record ``(path, stat taken before hashing, digest)`` triples.

        ``hashed_at_ns`` is ``time.time_ns()`` read before the files were hashed; entries
        changed too close to it are skipped (see the module docstring). ``absolute`` as
        for :meth:`get_many`. Returns how many entries were stored.
        """
        rows = [(p if absolute else os.path.abspath(p), *_key(st), d) for p, st, d in entries
                if not is_racy(st, hashed_at_ns)]
        if not rows:
            return 0
        with self._lock:
            conn = self._connect()
            if conn is None:
                return 0
            try:
                with conn:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(
                        "INSERT OR REPLACE INTO hashes "
                        "(path, size, mtime_ns, ctime_ns, inode, dev, digest) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            except sqlite3.Error as exc:
                self._give_up(exc)
                return 0
        return len(rows)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> HashCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NullHashCache(HashCache):
    """The cache that remembers nothing (STYLE P8): every file is hashed."""

    def __init__(self) -> None:
        super().__init__(os.devnull)

    def get(self, st: os.stat_result, path: str) -> str | None:
        return None

    def get_many(self, items: list[tuple[os.stat_result, str]], *,
                 absolute: bool = False) -> list[str | None]:
        return [None] * len(items)

    def put_many(self, entries: Iterable[tuple[str, os.stat_result, str]], *,
                 hashed_at_ns: int, absolute: bool = False) -> int:
        return 0


def now_ns() -> int:
    """The clock :meth:`HashCache.put_many` compares against."""
    return time.time_ns()
