"""Fixtures of the blob-store tests: fresh stores on real folders and on ``memory://``."""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archivist.store import FsspecBlobs, open_blobs
from archivist.store.fscalls import FsCalls
from archivist.store.localfs import LocalBlobs


class CountingCalls(FsCalls):
    """Counts every filesystem call; ``opened`` lists the paths opened."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.opened: list[str] = []

    def hook(self, op: str, target: str | int) -> None:
        self.calls.append(op)
        if op == "open" and isinstance(target, str):
            self.opened.append(target)


class FailNth(FsCalls):
    """Raise ``OSError(EIO)`` at the Nth call (and, if ``persistent``, every later one)."""

    def __init__(self, n: int, *, persistent: bool = False, code: int = errno.EIO) -> None:
        self.n = n
        self.persistent = persistent
        self.code = code
        self.count = 0
        self.failed_op: str | None = None

    def hook(self, op: str, target: str | int) -> None:
        self.count += 1
        if self.count == self.n or (self.persistent and self.count > self.n):
            self.failed_op = self.failed_op or op
            raise OSError(self.code, os.strerror(self.code), str(target))


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def blobs(store_root: Path) -> LocalBlobs:
    store = open_blobs(store_root)
    assert isinstance(store, LocalBlobs)
    return store


@pytest.fixture
def make_local(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., LocalBlobs]:
    """Factory: a fresh local store, optionally with a filesystem-call seam."""

    def make(fs_calls: FsCalls | None = None) -> LocalBlobs:
        store = open_blobs(tmp_path_factory.mktemp("store") / "blobs", fs_calls=fs_calls)
        assert isinstance(store, LocalBlobs)
        return store

    return make


@pytest.fixture
def memory_blobs() -> Iterator[FsspecBlobs]:
    """An fsspec ``memory://`` store under a root no other test uses (fsspec caches
    filesystem instances and the memory store is process-global: STYLE A13)."""
    root = f"memory://archivist-test-{uuid.uuid4().hex}"
    store = FsspecBlobs(root)
    yield store
    fs = store._fs
    if fs.exists(store._root):
        fs.rm(store._root, recursive=True)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def store_files(root: Path) -> dict[str, list[Path]]:
    """What is on disk under a local store: blobs and temps."""
    return {
        "blobs": sorted(p for p in (root / "sha256").rglob("*") if not p.is_dir())
        if (root / "sha256").exists() else [],
        "tmp": sorted((root / "tmp").iterdir()) if (root / "tmp").exists() else [],
    }


def assert_blobs_consistent(root: Path) -> None:
    """Every file under the digest tree holds exactly the bytes its path names."""
    for path in store_files(root)["blobs"]:
        assert not path.is_symlink()
        expected = path.parent.name + path.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == expected, path
