"""A full disk under a local catalog (issue 16): reads go on, writes say the disk is full.

The home lives on a 4 MiB tmpfs filled to the last byte after a few registrations (the
catalog was closed cleanly, so its WAL and shared-memory files are gone and cannot be
made again: before, every open — ``ls`` too — failed with "disk I/O error").
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, StorageError


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (skipped where this process may not mount one)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4M", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> None:
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (65536, 1):  # big blocks, then the last bytes one at a time
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    with pytest.raises(OSError) as info:
        (disk / "one-more").write_bytes(b"x" * 4096)
    assert info.value.errno == errno.ENOSPC


def test_reads_work_and_writes_say_the_disk_is_full(small_disk: Path) -> None:
    home = small_disk / "home"
    with ArtifactCatalog(str(home)) as catalog:
        first = catalog.register("model", data={"weights": [1, 2]}, tags={"stage": "dev"})
        catalog.register("data", data=b"rows", aliases=["prod"])
    _fill(small_disk)

    with ArtifactCatalog(str(home)) as catalog:
        assert sorted(a.name for a in catalog.list()) == ["data", "model"]
        assert catalog.get("model").id == first
        assert catalog.get("data@prod").name == "data"
        assert catalog.load("model") == {"weights": [1, 2]}
        assert catalog.verify().ok
        with pytest.raises(StorageError, match=r"full|No space left"):
            catalog.register("more", data=b"new bytes")
        with pytest.raises(StorageError, match=r"disk holding the catalog database is full"):
            catalog.tag("model", stage="prod")
        assert catalog.get("model").tags == {"stage": "dev"}  # nothing half-written

    (small_disk / "filler").unlink()  # space again: writes work, nothing was lost
    with ArtifactCatalog(str(home)) as catalog:
        catalog.tag("model", stage="prod")
        assert catalog.get("model").tags == {"stage": "prod"}
        assert sorted(a.name for a in catalog.list()) == ["data", "model"]


def test_the_hash_cache_on_a_full_disk_degrades_quietly(
        small_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The hash cache of a home on a full disk cannot be opened (its WAL cannot be made):
    registering a folder used to print "hash cache … unusable (disk I/O error)" before
    the error. It is skipped without a warning; the error alone says the disk is full."""
    home = small_disk / "home"
    source = tmp_path / "files"
    source.mkdir()
    (source / "a.txt").write_text("a")
    with ArtifactCatalog(str(home)) as catalog:
        catalog.register("files", path=source)
    assert (home / "hashcache.db").exists()
    _fill(small_disk)

    caplog.set_level(logging.INFO)
    (source / "b.txt").write_text("b")
    with ArtifactCatalog(str(home)) as catalog:
        with pytest.raises(StorageError, match=r"No space left|full") as info:
            catalog.register("files", path=source)
        assert "I/O error" not in str(info.value)
        assert [a.name for a in catalog.list()] == ["files"]
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [m for m in loud if "hash cache" in m or "I/O error" in m], loud
    notes = [r.getMessage() for r in caplog.records if r.name == "archivist.store.hashcache"]
    assert len(notes) == 1 and "disk is full" in notes[0], notes
