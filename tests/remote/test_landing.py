"""Downloads hash each byte once: while it lands in the cache, then a kernel copy to dest."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from archivist import ArtifactCatalog, IntegrityError, PermissionDeniedError, StorageError
from archivist.backends.remote import cache as cache_module
from archivist.backends.remote import landing
from archivist.backends.remote.blobs import RemoteBlobs
from archivist.backends.remote.cache import BlobCache
from archivist.backends.remote.transport import Transport
from archivist.store.hashing import hash_bytes, verifying_reader

MakeRemote = Callable[..., ArtifactCatalog]
DATA = bytes(range(256)) * 4000  # ~1 MB


def serving(tmp_path: Path, body: bytes, budget: int = 10**7) -> tuple[RemoteBlobs, BlobCache]:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    cache = BlobCache(tmp_path / "cache", budget=budget)
    client = httpx.Client(transport=httpx.MockTransport(handle))
    return RemoteBlobs(Transport("http://catalog.test", client=client), "p", cache), cache


def counting_verifier(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every cached copy opened through a verifying reader."""
    opened: list[str] = []
    real = verifying_reader

    def spy(handle: Any, digest: str, *args: Any) -> Any:
        opened.append(digest)
        return real(handle, digest, *args)

    monkeypatch.setattr(cache_module, "verifying_reader", spy)
    return opened


def test_a_fresh_download_is_verified_once_and_a_cached_one_every_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blobs, cache = serving(tmp_path, DATA)
    digest = hash_bytes(DATA)
    rehashed = counting_verifier(monkeypatch)
    assert blobs.fetch_to(digest, tmp_path / "first") == len(DATA)
    assert (tmp_path / "first").read_bytes() == DATA
    assert digest in cache
    assert rehashed == []  # hashed as it was cached, not again when copied
    assert blobs.fetch_to(digest, tmp_path / "second") == len(DATA)
    assert (tmp_path / "second").read_bytes() == DATA
    assert rehashed == [digest]  # a copy found in the cache is verified when used


def test_a_corrupt_cached_copy_never_reaches_dest(tmp_path: Path) -> None:
    blobs, cache = serving(tmp_path, DATA)
    digest = hash_bytes(DATA)
    blobs.fetch_to(digest, tmp_path / "first")
    garbled = bytearray(cache.path(digest).read_bytes())
    garbled[-1] ^= 0xFF
    cache.path(digest).write_bytes(bytes(garbled))
    with pytest.raises(IntegrityError, match="removed"):
        blobs.fetch_to(digest, tmp_path / "second")
    assert not (tmp_path / "second").exists()
    assert digest not in cache
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_tampered_bytes_never_reach_dest_or_the_cache(tmp_path: Path) -> None:
    blobs, cache = serving(tmp_path, b"tampered" + DATA[8:])
    (tmp_path / "dest").write_bytes(b"what was there")
    with pytest.raises(IntegrityError):
        blobs.fetch_to(hash_bytes(DATA), tmp_path / "dest")
    assert (tmp_path / "dest").read_bytes() == b"what was there"
    assert cache.usage() == 0


def test_a_blob_over_the_budget_streams_to_dest_verified(tmp_path: Path) -> None:
    blobs, cache = serving(tmp_path, DATA, budget=1000)
    assert blobs.fetch_to(hash_bytes(DATA), tmp_path / "dest") == len(DATA)
    assert (tmp_path / "dest").read_bytes() == DATA
    assert cache.usage() == 0
    tampered, _ = serving(tmp_path / "t", b"x" + DATA[1:], budget=1000)
    with pytest.raises(IntegrityError):
        tampered.fetch_to(hash_bytes(DATA), tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_insert_open_reads_back_the_copy_it_verified(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", budget=10**7)
    digest = hash_bytes(DATA)
    stored = cache.insert_open(digest, len(DATA), [DATA[:1000], DATA[1000:]])
    assert stored is not None
    with stored:
        assert stored.read() == DATA
    assert cache.path(digest).read_bytes() == DATA
    assert cache.insert_open(digest, 10**8, [DATA]) is None  # over the budget: not consumed
    with pytest.raises(IntegrityError):
        cache.insert_open(hash_bytes(b"other"), len(DATA), [DATA])
    assert cache.usage() == len(DATA)


def test_the_copy_falls_back_when_the_kernel_cannot_send(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src").write_bytes(DATA)

    def refuse(*args: object) -> int:
        raise OSError(errno.EINVAL, "not here")

    monkeypatch.setattr(os, "sendfile", refuse)
    with open(tmp_path / "src", "rb") as source:
        assert landing.copy_atomically(source, tmp_path / "dest") == len(DATA)
    assert (tmp_path / "dest").read_bytes() == DATA


def test_a_failed_copy_leaves_dest_untouched_and_no_temp(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src").write_bytes(DATA)
    (tmp_path / "dest").write_bytes(b"old")

    def fail(*args: object) -> int:
        raise OSError(errno.EIO, "disk on fire")

    monkeypatch.setattr(os, "sendfile", fail)
    with open(tmp_path / "src", "rb") as source, pytest.raises(StorageError):
        landing.copy_atomically(source, tmp_path / "dest")
    assert (tmp_path / "dest").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "src"]


def test_the_copy_refuses_a_symlinked_dest(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(DATA)
    (tmp_path / "target").write_bytes(b"keep")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with open(tmp_path / "src", "rb") as source, \
            pytest.raises(PermissionDeniedError, match="symlink"):
        landing.copy_atomically(source, tmp_path / "link")
    assert (tmp_path / "target").read_bytes() == b"keep"


def test_catalog_download_with_and_without_progress(make_remote: MakeRemote,
                                                    tmp_path: Path) -> None:
    writer, reader = make_remote(), make_remote()
    writer.register("blob", data=DATA, artifact_type="File")
    assert reader.download("blob", tmp_path / "plain") == tmp_path / "plain"
    assert (tmp_path / "plain").read_bytes() == DATA
    seen: list[int] = []
    reader.download("blob", tmp_path / "watched", progress=lambda done, _: seen.append(done))
    assert (tmp_path / "watched").read_bytes() == DATA
    assert seen[-1] == len(DATA)
