from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from archivist.errors import InvalidInputError
from archivist.store.localfs import CHUNK, FSYNC_EACH_UP_TO, LocalBlobs

from .conftest import CountingCalls, assert_blobs_consistent, sha, store_files


def test_two_thousand_small_files(tmp_path: Path, make_local: Callable[..., LocalBlobs]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    paths, expected = [], []
    for i in range(2000):
        data = os.urandom(4096) if i % 10 else b"duplicate content"
        path = src / f"f{i:04d}"
        path.write_bytes(data)
        paths.append(path)
        expected.append((sha(data), len(data)))
    calls = CountingCalls()
    store = make_local(calls)
    assert store.put_many_files(paths) == expected
    files = store_files(Path(store.root))
    assert len(files["blobs"]) == len(set(expected)) and files["tmp"] == []
    assert_blobs_consistent(Path(store.root))
    # Durability by two syncfs calls, not one fsync per file.
    assert calls.calls.count("syncfs") == 2
    assert calls.calls.count("fsync") <= 3  # only the one-time layout directories
    # Again, with every digest known: one stat each, no source opened.
    calls.calls.clear()
    calls.opened.clear()
    assert store.put_many_files(paths, digests=[d for d, _ in expected]) == expected
    assert calls.opened == [] and "syncfs" not in calls.calls


def test_a_few_new_files_are_fsynced_one_by_one_not_by_syncfs(
        tmp_path: Path, make_local: Callable[..., LocalBlobs]) -> None:
    # syncfs writes back the whole filesystem, other processes' dirty data included: for
    # the one file changed in a re-registered tree, an fsync of it and its folder is enough.
    paths = []
    for i in range(FSYNC_EACH_UP_TO):
        (tmp_path / f"f{i}").write_bytes(f"file {i}".encode())
        paths.append(tmp_path / f"f{i}")
    calls = CountingCalls()
    store = make_local(calls)
    store.put_many_files(paths[:1])  # creates the layout
    calls.calls.clear()
    expected = [(sha(p.read_bytes()), p.stat().st_size) for p in paths]
    assert store.put_many_files(paths) == expected
    assert "syncfs" not in calls.calls
    new = FSYNC_EACH_UP_TO - 1
    fanouts = {d[7:9] for d, _ in expected[1:]}
    created = fanouts - {expected[0][0][7:9]}  # new fan-out folders change sha256/ too
    # each temp, each folder linked into, and sha256/ if a fan-out folder was made
    assert calls.calls.count("fsync") == new + len(fanouts) + (1 if created else 0)
    assert_blobs_consistent(Path(store.root))
    assert store_files(Path(store.root))["tmp"] == []


def test_refuses_symlinks_and_cleans_up(tmp_path: Path, blobs: LocalBlobs) -> None:
    good = tmp_path / "good"
    good.write_bytes(b"good")
    link = tmp_path / "link"
    link.symlink_to(good)
    with pytest.raises(InvalidInputError, match="symlink"):
        blobs.put_many_files([good, link])
    assert store_files(Path(blobs.root)) == {"blobs": [], "tmp": []}


def test_hint_length_must_match(tmp_path: Path, blobs: LocalBlobs) -> None:
    with pytest.raises(InvalidInputError):
        blobs.put_many_files([tmp_path / "a"], digests=[])


def test_bad_hint_is_refused(tmp_path: Path, blobs: LocalBlobs) -> None:
    (tmp_path / "a").write_bytes(b"a")
    with pytest.raises(InvalidInputError):
        blobs.put_many_files([tmp_path / "a"], digests=["sha256:nope"])


def test_the_same_large_bytes_twice_in_one_batch_leave_no_temp(
        tmp_path: Path, make_local: Callable[..., LocalBlobs]) -> None:
    data = os.urandom(CHUNK + 1)  # large: copied, not held in memory
    paths = [tmp_path / "a.bin", tmp_path / "b.bin"]
    for path in paths:
        path.write_bytes(data)
    store = make_local(CountingCalls())
    assert store.put_many_files(paths) == [(sha(data), len(data))] * 2
    files = store_files(Path(store.root))
    assert len(files["blobs"]) == 1 and files["tmp"] == []  # the second temp was not leaked
    assert_blobs_consistent(Path(store.root))
