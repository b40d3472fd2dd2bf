"""Fail the Nth filesystem call (reliability.md d.3, F-1/F-2/F-3).

For every N from 1 to the number of calls an operation makes, the Nth call raises
``OSError``; the operation must either succeed or raise ``StorageError``, leave no temp
file, and leave nothing under a digest path unless it is complete and correct. A retry
with a healthy filesystem then succeeds.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from archivist.errors import StorageError
from archivist.store import open_blobs
from archivist.store.fscalls import FsCalls
from archivist.store.localfs import CHUNK, FSYNC_EACH_UP_TO, LocalBlobs

from .conftest import CountingCalls, FailNth, assert_blobs_consistent, sha, store_files

Operation = Callable[[LocalBlobs, Path], object]


def _put_small(store: LocalBlobs, src: Path) -> object:
    return store.put_file(src / "small")


def _put_large(store: LocalBlobs, src: Path) -> object:
    return store.put_file(src / "large")


def _put_bytes(store: LocalBlobs, src: Path) -> object:
    return store.put_bytes(b"bytes to store")


def _put_many(store: LocalBlobs, src: Path) -> object:
    return store.put_many_files(sorted(src.glob("many-*")))


def _put_few(store: LocalBlobs, src: Path) -> object:
    return store.put_many_files(sorted(src.glob("many-*"))[:3])  # fsync'd one by one


OPERATIONS = {"put_file(small)": _put_small, "put_file(large)": _put_large,
              "put_bytes": _put_bytes, "put_many_files": _put_many,
              "put_many_files(few)": _put_few}


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "small").write_bytes(b"small file")
    (src / "large").write_bytes(os.urandom(CHUNK + 7))  # two chunks: the threaded path
    for i in range(FSYNC_EACH_UP_TO + 2):  # one duplicate, still more than one syncfs
        (src / f"many-{i}").write_bytes(f"file {i % (FSYNC_EACH_UP_TO + 1)}".encode())
    return src


def _count_calls(op: Operation, root: Path, src: Path) -> int:
    calls = CountingCalls()
    op(LocalBlobs(root / "count", fs_calls=calls), src)
    return len(calls.calls)


@pytest.mark.parametrize("persistent", [False, True], ids=["transient", "persistent"])
@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC])
@pytest.mark.parametrize("name", list(OPERATIONS))
def test_fail_every_nth_call(tmp_path: Path, sources: Path, name: str, code: int,
                             persistent: bool) -> None:
    op = OPERATIONS[name]
    total = _count_calls(op, tmp_path, sources)
    assert total >= 10, f"{name} makes only {total} calls"
    expected = op(LocalBlobs(tmp_path / "reference"), sources)
    failed_ops = set()
    for n in range(1, total + 1):
        root = tmp_path / f"n{n}"
        store = LocalBlobs(root, fs_calls=FailNth(n, persistent=persistent, code=code))
        try:
            result = op(store, sources)
        except StorageError as exc:
            assert os.strerror(code) in str(exc)
            failed_ops.add(store._os.failed_op)  # type: ignore[attr-defined]
        else:
            assert result == expected
        files = store_files(root)
        if not persistent:  # a persistent fault can also fail the clean-up unlink
            assert files["tmp"] == [], f"temp left after failing call {n}"
        assert_blobs_consistent(root)
        # The same store, healthy again, completes the operation.
        healthy = LocalBlobs(root)
        assert op(healthy, sources) == expected
        assert_blobs_consistent(root)
    # The loop really exercised the write path's calls.
    assert {"open", "write", "link"} <= failed_ops
    if name != "put_many_files":
        assert "fsync" in failed_ops
    else:
        assert "syncfs" in failed_ops


def test_fsync_failure_never_lands_the_temp(tmp_path: Path, sources: Path) -> None:
    class FailFsync(FsCalls):
        def fsync(self, fd: int) -> None:
            raise OSError(errno.EIO, "fsync failed")

    store = LocalBlobs(tmp_path / "s", fs_calls=FailFsync())
    with pytest.raises(StorageError, match="fsync failed"):
        store.put_file(sources / "small")
    assert store_files(tmp_path / "s") == {"blobs": [], "tmp": []}
    assert LocalBlobs(tmp_path / "s").put_file(sources / "small") == (sha(b"small file"), 10)


def test_the_module_seam_can_be_patched(tmp_path: Path, sources: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Catalog-level tests patch ``LOCAL_FS.hook`` instead of passing ``fs_calls``."""
    from archivist.store.fscalls import LOCAL_FS

    def fail_link(op: str, target: str | int) -> None:
        if op == "link":
            raise OSError(errno.EIO, "injected", str(target))

    monkeypatch.setattr(LOCAL_FS, "hook", fail_link)
    store = open_blobs(tmp_path / "patched")
    with pytest.raises(StorageError, match="injected"):
        store.put_file(sources / "small")
    assert store_files(tmp_path / "patched") == {"blobs": [], "tmp": []}
