"""The generic fsspec path, on fsspec's ``memory://`` filesystem. What every store does
is in ``test_blobs_contract.py`` (which runs on ``memory://`` too); here is only what
names the generic store."""

from __future__ import annotations

import pytest

from archivist.errors import InvalidInputError, MissingDependencyError
from archivist.store import FsspecBlobs, open_blobs
from archivist.store.localfs import LocalBlobs


def test_memory_urls_get_the_generic_store(memory_blobs: FsspecBlobs) -> None:
    assert type(memory_blobs) is FsspecBlobs and not isinstance(memory_blobs, LocalBlobs)
    assert type(open_blobs("memory://elsewhere")) is FsspecBlobs
    digest, _ = memory_blobs.put_bytes(b"x")
    assert memory_blobs.path(digest).startswith("memory://")
    assert memory_blobs.path(digest).endswith(f"/sha256/{digest[7:9]}/{digest[9:]}")
    assert memory_blobs.local_path(digest) is None and memory_blobs.local_root() is None


def test_unknown_protocol_is_typed() -> None:
    with pytest.raises((InvalidInputError, MissingDependencyError)):
        FsspecBlobs("nosuchproto://bucket/x")
