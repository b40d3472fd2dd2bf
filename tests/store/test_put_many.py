from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from archivist.errors import InvalidInputError
from archivist.store.localfs import LocalBlobs

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
