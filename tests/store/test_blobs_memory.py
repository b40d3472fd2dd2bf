"""The generic fsspec path, on fsspec's ``memory://`` filesystem."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from archivist.errors import (
    IntegrityError,
    InvalidInputError,
    MissingDependencyError,
    PermissionDeniedError,
)
from archivist.store import FsspecBlobs
from archivist.store.localfs import LocalBlobs

from .conftest import sha


def test_memory_urls_get_the_generic_store(memory_blobs: FsspecBlobs) -> None:
    assert type(memory_blobs) is FsspecBlobs and not isinstance(memory_blobs, LocalBlobs)


@pytest.mark.parametrize("size", [0, 5, 3 * 1024 * 1024 + 1])
def test_round_trip(tmp_path: Path, memory_blobs: FsspecBlobs, size: int) -> None:
    data = os.urandom(size)
    src = tmp_path / "f"
    src.write_bytes(data)
    digest, got = memory_blobs.put_file(src)
    assert (digest, got) == (sha(data), size)
    assert memory_blobs.put_bytes(data) == memory_blobs.put_stream(io.BytesIO(data)) == (
        digest, size)
    with memory_blobs.open(digest) as f:
        assert f.read() == data
    assert memory_blobs.exists(digest) and memory_blobs.size(digest) == size
    assert memory_blobs.check(digest) == "ok"
    assert memory_blobs.path(digest).startswith("memory://")
    assert memory_blobs.path(digest).endswith(f"/sha256/{digest[7:9]}/{digest[9:]}")
    assert memory_blobs.local_path(digest) is None
    assert memory_blobs.mtime(digest) > 0
    assert list(memory_blobs.iter_digests()) == [digest]
    assert memory_blobs.temp_files() == []


def test_dedupe_and_delete(memory_blobs: FsspecBlobs) -> None:
    a, _ = memory_blobs.put_bytes(b"a")
    memory_blobs.put_bytes(b"a")
    b, _ = memory_blobs.put_bytes(b"b")
    assert sorted(memory_blobs.iter_digests()) == sorted([a, b])
    memory_blobs.delete(a)
    memory_blobs.delete(a)
    assert list(memory_blobs.iter_digests()) == [b]


def test_corruption_and_missing_bytes(tmp_path: Path, memory_blobs: FsspecBlobs) -> None:
    digest, _ = memory_blobs.put_bytes(b"good bytes")
    memory_blobs._fs.pipe_file(memory_blobs._key(digest), b"evil bytes")
    with memory_blobs.open(digest) as f, pytest.raises(IntegrityError, match=digest):
        f.read()
    assert memory_blobs.check(digest) == "corrupt"
    with pytest.raises(IntegrityError):
        memory_blobs.fetch_to(digest, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    missing = sha(b"absent")
    assert memory_blobs.check(missing) == "missing"
    with pytest.raises(IntegrityError, match="missing"):
        memory_blobs.open(missing)


def test_put_many_and_hints(tmp_path: Path, memory_blobs: FsspecBlobs) -> None:
    paths = []
    for i in range(10):
        p = tmp_path / f"f{i}"
        p.write_bytes(str(i % 3).encode())
        paths.append(p)
    out = memory_blobs.put_many_files(paths)
    assert out == [(sha(str(i % 3).encode()), 1) for i in range(10)]
    assert memory_blobs.put_many_files(paths[:2], digests=[out[0][0], None]) == out[:2]
    link = tmp_path / "link"
    link.symlink_to(paths[0])
    with pytest.raises(InvalidInputError, match="symlink"):
        memory_blobs.put_many_files([link])


def test_fetch_to(tmp_path: Path, memory_blobs: FsspecBlobs) -> None:
    digest, _ = memory_blobs.put_bytes(b"remote bytes")
    assert memory_blobs.fetch_to(digest, tmp_path / "out") == 12
    assert (tmp_path / "out").read_bytes() == b"remote bytes"


def test_remove_temp_is_refused(memory_blobs: FsspecBlobs) -> None:
    with pytest.raises(PermissionDeniedError):
        memory_blobs.remove_temp("/etc/passwd")


def test_unknown_protocol_is_typed() -> None:
    with pytest.raises((InvalidInputError, MissingDependencyError)):
        FsspecBlobs("nosuchproto://bucket/x")
