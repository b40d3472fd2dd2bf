"""The download cache: verified on insert, least recently used out first, never over budget."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from archivist.backends.remote.cache import BlobCache, cache_from_env
from archivist.errors import IntegrityError, InvalidInputError
from archivist.store.hashing import hash_bytes


def blob(n: int, size: int = 1000) -> tuple[str, bytes]:
    data = bytes([n % 256]) * size
    return hash_bytes(data), data


def insert(cache: BlobCache, n: int, size: int = 1000) -> str:
    digest, data = blob(n, size)
    assert cache.insert(digest, len(data), [data[:300], data[300:]]) is not None
    return digest


def test_a_cached_blob_reads_back_verified(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path, budget=10_000)
    digest = insert(cache, 1)
    handle = cache.open(digest)
    assert handle is not None
    with handle:
        assert handle.read() == blob(1)[1]
    assert cache.open(blob(2)[0]) is None


def test_the_least_recently_used_blob_is_evicted_first(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path, budget=3000)
    first, second, third = (insert(cache, n) for n in (1, 2, 3))
    for age, digest in enumerate((first, second, third)):  # distinct, old use times
        os.utime(cache.path(digest), (time.time() - 100 + age, time.time() - 100 + age))
    handle = cache.open(first)  # a hit: first is now the most recently used
    assert handle is not None
    handle.close()
    insert(cache, 4)
    assert first in cache and third in cache and second not in cache
    assert cache.usage() <= 3000


def test_the_cache_never_grows_past_its_budget(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path, budget=5500)
    for n in range(40):
        insert(cache, n, size=700 + 37 * n % 300)
        assert cache.usage() <= 5500


def test_a_blob_bigger_than_the_budget_is_not_cached(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path, budget=999)
    digest, data = blob(1)
    consumed: list[bytes] = []

    def chunks() -> object:
        consumed.append(data)
        yield data

    assert cache.insert(digest, len(data), chunks()) is None  # type: ignore[arg-type]
    assert consumed == [] and cache.usage() == 0


@pytest.mark.parametrize("sent, size", [(b"x" * 1000, 1000), (blob(1)[1][:999], 1000),
                                        (blob(1)[1] + b"!", 1000)])
def test_bytes_that_do_not_match_are_not_cached(tmp_path: Path, sent: bytes, size: int) -> None:
    cache = BlobCache(tmp_path, budget=10_000)
    digest = blob(1)[0]
    with pytest.raises(IntegrityError):
        cache.insert(digest, size, [sent])
    assert digest not in cache and cache.usage() == 0


def test_a_corrupted_cached_copy_is_removed_when_read(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path, budget=10_000)
    digest = insert(cache, 1)
    cache.path(digest).write_bytes(b"\0" * 1000)
    handle = cache.open(digest)
    assert handle is not None
    with pytest.raises(IntegrityError, match="removed"), handle:
        handle.read()
    assert digest not in cache


def test_a_killed_download_frees_its_reservation_after_an_hour(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path, budget=2000)
    (tmp_path / "tmp").mkdir(parents=True)
    stale = tmp_path / "tmp" / "dead.part"
    stale.write_bytes(b"\0" * 1500)
    assert cache.insert(*blob(1)[:1], 1000, [blob(1)[1]]) is None  # reserved by the dead one
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    insert(cache, 1)
    assert not stale.exists()


def _fill(root: str, start: int) -> None:
    cache = BlobCache(Path(root), budget=4000)
    for n in range(start, start + 30):
        digest, data = blob(n, 900)
        cache.insert(digest, len(data), [data])


def test_processes_sharing_the_cache_keep_it_within_budget(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_fill, args=(str(tmp_path), i * 30)) for i in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    cache = BlobCache(tmp_path, budget=4000)
    assert 0 < cache.usage() <= 4000
    assert not list((tmp_path / "tmp").iterdir())
    for path in (tmp_path / "sha256").rglob("*"):
        if path.is_file():
            digest = "sha256:" + path.parent.name + path.name
            handle = cache.open(digest)
            assert handle is not None
            with handle:
                handle.read()  # verified: no torn or mixed-up blob


def test_budget_and_folder_come_from_the_environment(tmp_path: Path) -> None:
    cache = cache_from_env({"ARCHIVIST_CACHE_DIR": str(tmp_path / "c"),
                            "ARCHIVIST_CACHE_SIZE": "100MB"})
    assert (cache.root, cache.budget) == (tmp_path / "c", 100_000_000)
    assert cache_from_env({"HOME": str(tmp_path)}).budget == 5_000_000_000
    assert cache_from_env({"ARCHIVIST_CACHE_SIZE": "1.5GiB"}).budget == 1_610_612_736
    with pytest.raises(InvalidInputError, match="ARCHIVIST_CACHE_SIZE"):
        cache_from_env({"ARCHIVIST_CACHE_SIZE": "lots"})


def test_bytes_freed_behind_the_cache_s_back_are_found_again(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path, budget=2000)
    first, second = insert(cache, 1), insert(cache, 2)
    cache.path(first).unlink()  # a user's rm: the running total still counts it
    cache.path(second).unlink()
    third, fourth = insert(cache, 3), insert(cache, 4)
    assert third in cache and fourth in cache  # recounted, nothing needlessly evicted
    assert cache.usage() == 2000
