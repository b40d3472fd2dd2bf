"""Loading small values in memory: verified, bounded, refused when tampered with."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, IntegrityError


def _blob(catalog: ArtifactCatalog, version_id: str) -> Path:
    art = catalog.get(version_id)
    assert art.storage_path is not None
    path = Path(art.storage_path)
    os.chmod(path, 0o644)  # blobs are stored read-only
    return path


def test_a_small_value_loads_from_one_verified_read(local_catalog: ArtifactCatalog) -> None:
    version_id = local_catalog.register("v", data={"k": [1, 2, 3]})
    assert local_catalog.load(version_id) == {"k": [1, 2, 3]}
    path = _blob(local_catalog, version_id)
    path.write_bytes(path.read_bytes().replace(b"1", b"7"))  # same size, other bytes
    with pytest.raises(IntegrityError, match="corrupt"):
        local_catalog.load(version_id)


def test_a_blob_grown_past_its_size_is_refused_unread(local_catalog: ArtifactCatalog) -> None:
    """Bytes appended beyond the read buffer: refused on the size, not after reading the
    whole (possibly huge) file into memory."""
    version_id = local_catalog.register("v", data="short text")
    path = _blob(local_catalog, version_id)
    with path.open("ab") as f:
        f.write(b"x" * (4 * 1024 * 1024))
    with pytest.raises(IntegrityError, match="does not hold the 10 bytes recorded"):
        local_catalog.load(version_id)
