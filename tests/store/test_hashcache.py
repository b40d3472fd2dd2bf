from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from archivist.store.hashcache import RACY_COARSE_NS, HashCache, NullHashCache

D = "sha256:" + "d" * 64


def later() -> int:
    """A hash time past the cache's racy window after any change made so far: the clock
    the cache is given, instead of waiting the window out."""
    return time.time_ns() + RACY_COARSE_NS + 1


def _old_file(path: Path, data: bytes = b"x") -> os.stat_result:
    path.write_bytes(data)
    return os.stat(path)


def test_get_after_put(tmp_path: Path) -> None:
    f = tmp_path / "f"
    st = _old_file(f)
    with HashCache(tmp_path / "hc.db") as cache:
        assert cache.get(st, str(f)) is None
        assert cache.put_many([(str(f), st, D)], hashed_at_ns=later()) == 1
        assert cache.get(st, str(f)) == D
        assert cache.get(os.stat(f), str(tmp_path / "." / "f")) == D  # absolute path key
    with HashCache(tmp_path / "hc.db") as again:  # persisted
        assert again.get(st, str(f)) == D


def test_paths_given_as_absolute_share_the_keys_of_normalized_ones(tmp_path: Path) -> None:
    """A tree walk hands over absolute, normalized paths (``absolute=True``: not normalized
    again); they are the same keys as those of paths the cache normalizes itself."""
    f = tmp_path / "f"
    st = _old_file(f)
    with HashCache(tmp_path / "hc.db") as cache:
        assert cache.put_many([(str(f), st, D)], hashed_at_ns=later(), absolute=True) == 1
        assert cache.get(st, str(tmp_path / "." / "f")) == D
        assert cache.get_many([(st, str(f))], absolute=True) == [D]
        cache.put_many([(str(tmp_path / "." / "f"), st, "sha256:" + "e" * 64)],
                       hashed_at_ns=later())
        assert cache.get_many([(st, str(f))], absolute=True) == ["sha256:" + "e" * 64]
    assert NullHashCache().get_many([(st, str(f))], absolute=True) == [None]


def test_any_stat_change_misses(tmp_path: Path) -> None:
    f = tmp_path / "f"
    st = _old_file(f)
    with HashCache(tmp_path / "hc.db") as cache:
        cache.put_many([(str(f), st, D)], hashed_at_ns=later())
        f.write_bytes(b"y")  # same size, new content
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime restored, as cp -p does
        assert cache.get(os.stat(f), str(f)) is None  # ctime still differs


def test_racy_entries_are_not_stored(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    st = os.stat(f)
    with HashCache(tmp_path / "hc.db") as cache:
        assert cache.put_many([(str(f), st, D)], hashed_at_ns=time.time_ns()) == 0
        assert cache.get(st, str(f)) is None


def test_a_broken_cache_file_degrades_to_no_cache(tmp_path: Path) -> None:
    db = tmp_path / "hc.db"
    db.write_bytes(b"this is not a sqlite database" * 100)
    f = tmp_path / "f"
    st = _old_file(f)
    with HashCache(db) as cache:
        assert cache.get(st, str(f)) is None
        assert cache.put_many([(str(f), st, D)], hashed_at_ns=later()) == 0


def test_null_cache() -> None:
    cache = NullHashCache()
    st = os.stat(".")
    assert cache.put_many([(".", st, D)], hashed_at_ns=later()) == 0
    assert cache.get(st, ".") is None


def _writer(db: str, folder: str, worker: int) -> None:
    with HashCache(db) as cache:
        for i in range(20):
            p = os.path.join(folder, f"f{i}")
            cache.put_many([(p, os.stat(p), "sha256:" + f"{worker:02d}" * 32)],
                           hashed_at_ns=later())


def test_several_processes(tmp_path: Path) -> None:
    for i in range(20):
        (tmp_path / f"f{i}").write_bytes(b"x")
    db = str(tmp_path / "hc.db")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(db, str(tmp_path), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with HashCache(db) as cache:
        got = {cache.get(os.stat(tmp_path / f"f{i}"), str(tmp_path / f"f{i}"))
               for i in range(20)}
    assert None not in got


def test_a_mangled_row_is_a_miss(tmp_path: Path) -> None:
    import sqlite3

    f = tmp_path / "f"
    st = _old_file(f)
    with HashCache(tmp_path / "hc.db") as cache:
        cache.put_many([(str(f), st, D)], hashed_at_ns=later())
    with sqlite3.connect(tmp_path / "hc.db") as conn:
        conn.execute("UPDATE hashes SET digest = 'sha256:../../x'")
    conn.close()
    with HashCache(tmp_path / "hc.db") as cache:
        assert cache.get(st, str(f)) is None
