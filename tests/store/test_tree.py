"""Directories: build_manifest on real trees, materialize, and the hash cache."""

from __future__ import annotations

import os
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from archivist.errors import IntegrityError, InvalidInputError, PermissionDeniedError
from archivist.store import (
    HashCache,
    Manifest,
    NullHashCache,
    build_manifest,
    manifest,
    materialize,
)
from archivist.store.fscalls import FsCalls
from archivist.store.hashcache import RACY_COARSE_NS
from archivist.store.localfs import LocalBlobs

from .conftest import CountingCalls, FailNth, sha, store_files


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


TREE = {"a.txt": b"a", "sub/b.bin": b"bb", "sub/deeper/c": b"ccc", "sub/deeper/dup": b"a",
        "z/empty": b""}


def test_build_and_materialize_round_trip(tmp_path: Path, blobs: LocalBlobs) -> None:
    src = make_tree(tmp_path / "src", TREE)
    os.chmod(src / "sub/b.bin", 0o750)
    manifest, digests = build_manifest(src, blobs, NullHashCache())
    assert [e.path for e in manifest.entries] == sorted(TREE)
    assert {e.path: e.mode for e in manifest.entries}["sub/b.bin"] == 0o755
    assert {e.path: e.mode for e in manifest.entries}["a.txt"] == 0o644
    assert digests[0] == manifest.digest  # the directory's digest
    assert digests[1:] == list(dict.fromkeys(sha(TREE[p]) for p in sorted(TREE)))
    with blobs.open(digests[0]) as f:
        assert Manifest.from_bytes(f.read()) == manifest
    # Registering again gives the same digest: the manifest is canonical.
    assert build_manifest(src, blobs, NullHashCache())[1] == digests
    out = tmp_path / "out"
    materialize(manifest, blobs, out)
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()} \
        == TREE
    assert stat.S_IMODE((out / "sub/b.bin").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "a.txt").stat().st_mode) == 0o644
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_empty_tree(tmp_path: Path, blobs: LocalBlobs) -> None:
    (tmp_path / "empty").mkdir()
    manifest, digests = build_manifest(tmp_path / "empty", blobs, NullHashCache())
    assert manifest.entries == () and digests == [sha(b'{"entries":[],"format":1}')]


@pytest.mark.parametrize("target", ["../outside.txt", "inside.txt", ".", "self"])
def test_symlinks_are_refused_naming_the_entry(tmp_path: Path, blobs: LocalBlobs,
                                               target: str) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    src = make_tree(tmp_path / "src", {"inside.txt": b"x"})
    (src / "sub").mkdir()
    (src / "sub" / "link").symlink_to(target if target != "../outside.txt"
                                      else tmp_path / "outside.txt")
    if target == "self":
        (src / "sub" / "link").unlink()
        (src / "sub" / "link").symlink_to("link")
    with pytest.raises(InvalidInputError, match="'sub/link' is a symlink"):
        build_manifest(src, blobs, NullHashCache())
    assert store_files(Path(blobs.root))["blobs"] == []


def test_symlink_message_says_outside(tmp_path: Path, blobs: LocalBlobs) -> None:
    src = make_tree(tmp_path / "src", {"x": b"x"})
    (src / "etc").symlink_to("/etc")
    with pytest.raises(InvalidInputError, match="outside the tree"):
        build_manifest(src, blobs, NullHashCache())


def test_special_files_are_refused_without_blocking(tmp_path: Path, blobs: LocalBlobs) -> None:
    src = make_tree(tmp_path / "src", {"x": b"x"})
    os.mkfifo(src / "pipe")
    with pytest.raises(InvalidInputError, match="'pipe' is a FIFO"):
        build_manifest(src, blobs, NullHashCache())
    (src / "pipe").unlink()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(src / "sock"))
        with pytest.raises(InvalidInputError, match="'sock'"):
            build_manifest(src, blobs, NullHashCache())


@pytest.mark.parametrize("name", [b"\xff.txt", b"a\nb", b"a\\b", b".git", b".GIT", b"git~1",
                                  ".g\u200cit".encode(), b"C:x", b"#x"], ids=repr)
def test_refused_names(tmp_path: Path, blobs: LocalBlobs, name: bytes) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    with open(os.path.join(os.fsencode(src), name), "wb") as f:
        f.write(b"x")
    with pytest.raises(InvalidInputError):
        build_manifest(src, blobs, NullHashCache())
    assert store_files(Path(blobs.root))["blobs"] == []


def test_nfc_duplicates_are_refused(tmp_path: Path, blobs: LocalBlobs) -> None:
    src = make_tree(tmp_path / "src", {"\u00e9": b"1", "e\u0301": b"2"})
    with pytest.raises(InvalidInputError, match="normalized"):
        build_manifest(src, blobs, NullHashCache())


def test_unreadable_file_stores_nothing(tmp_path: Path,
                                        make_local: Callable[..., LocalBlobs]) -> None:
    src = make_tree(tmp_path / "src", {f"f{i}": str(i).encode() for i in range(10)})

    class Unreadable(FsCalls):  # chmod 000 does not stop root; refuse at open instead
        def hook(self, op: str, target: str | int) -> None:
            if op == "open" and str(target).endswith("/f5"):
                raise PermissionError(13, "Permission denied", str(target))

    store = make_local(Unreadable())
    with pytest.raises(PermissionDeniedError, match="f5"):
        build_manifest(src, store, NullHashCache())
    assert store_files(Path(store.root)) == {"blobs": [], "tmp": []}


def test_failures_mid_tree_leave_no_temps(tmp_path: Path,
                                          make_local: Callable[..., LocalBlobs]) -> None:
    src = make_tree(tmp_path / "src", {f"d{i % 3}/f{i}": str(i).encode() for i in range(12)})
    counting = CountingCalls()
    build_manifest(src, make_local(counting), NullHashCache())
    for n in range(1, len(counting.calls) + 1):
        store = make_local(FailNth(n))
        try:
            build_manifest(src, store, NullHashCache())
        except Exception as exc:
            assert type(exc).__name__ == "StorageError"
        assert store_files(Path(store.root))["tmp"] == []


def test_hash_cache_rehashes_only_the_changed_file(tmp_path: Path,
                                                   make_local: Callable[..., LocalBlobs],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"d{i % 10}/f{i:04d}": os.urandom(64) for i in range(300)}
    src = make_tree(tmp_path / "src", files)
    # hashes are taken past the cache's racy window (see hashcache.py): no waiting it out
    monkeypatch.setattr(manifest, "now_ns", lambda: time.time_ns() + RACY_COARSE_NS + 1)
    calls = CountingCalls()
    store = make_local(calls)
    with HashCache(tmp_path / "hashcache.db") as cache:
        first, _ = build_manifest(src, store, cache)
        assert len([p for p in calls.opened if p.startswith(str(src))]) == 300
        (src / "d3" / "f0003").write_bytes(b"changed")
        calls.opened.clear()
        second, digests = build_manifest(src, store, cache)
    assert [p for p in calls.opened if p.startswith(str(src))] == [str(src / "d3" / "f0003")]
    assert first.diff(second) == {"added": [], "removed": [], "changed": ["d3/f0003"]}
    assert sha(b"changed") in digests


def test_fresh_files_are_not_cached(tmp_path: Path, blobs: LocalBlobs) -> None:
    src = make_tree(tmp_path / "src", {"new": b"just written"})
    with HashCache(tmp_path / "hc.db") as cache:
        build_manifest(src, blobs, cache)
        assert cache.get(os.stat(src / "new"), str(src / "new")) is None


def test_materialize_refuses_bad_destinations(tmp_path: Path, blobs: LocalBlobs) -> None:
    manifest, _ = build_manifest(make_tree(tmp_path / "src", TREE), blobs, NullHashCache())
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep").write_text("mine")
    with pytest.raises(InvalidInputError, match="not an empty directory"):
        materialize(manifest, blobs, full)
    assert [p.name for p in full.iterdir()] == ["keep"]
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(PermissionDeniedError):
        materialize(manifest, blobs, tmp_path / "link")
    assert list(target.iterdir()) == []
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InvalidInputError):
        materialize(manifest, blobs, tmp_path / "afile")
    empty = tmp_path / "empty"
    empty.mkdir()
    materialize(manifest, blobs, empty)  # an existing empty folder is fine
    assert (empty / "sub/deeper/c").read_bytes() == b"ccc"


def test_materialize_is_all_or_nothing_on_corruption(tmp_path: Path, blobs: LocalBlobs) -> None:
    manifest, _ = build_manifest(make_tree(tmp_path / "src", TREE), blobs, NullHashCache())
    blob = Path(blobs.path(sha(b"ccc")))
    blob.chmod(0o644)
    blob.write_bytes(b"cCc")
    with pytest.raises(IntegrityError):
        materialize(manifest, blobs, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs", "src"]


def test_materialize_size_mismatch_is_integrity_error(tmp_path: Path, blobs: LocalBlobs) -> None:
    digest, _ = blobs.put_bytes(b"four")
    manifest = Manifest.from_bytes(
        b'{"entries":[{"digest":"' + digest.encode() + b'","mode":420,"path":"f","size":5}],'
        b'"format":1}')
    with pytest.raises(IntegrityError, match="manifest says 5"):
        materialize(manifest, blobs, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_materialize_masks_modes(tmp_path: Path, blobs: LocalBlobs) -> None:
    digest, _ = blobs.put_bytes(b"x")
    manifest = Manifest.from_bytes(
        b'{"entries":[{"digest":"' + digest.encode() + b'","mode":511,"path":"f","size":1}],'
        b'"format":1}')
    materialize(manifest, blobs, tmp_path / "out")
    assert stat.S_IMODE((tmp_path / "out" / "f").stat().st_mode) == 0o755


def test_case_variants_materialize_on_a_case_sensitive_filesystem(tmp_path: Path,
                                                                  blobs: LocalBlobs) -> None:
    src = make_tree(tmp_path / "src", {"A.txt": b"upper", "a.txt": b"lower"})
    manifest, _ = build_manifest(src, blobs, NullHashCache())
    materialize(manifest, blobs, tmp_path / "out")
    assert (tmp_path / "out" / "a.txt").read_bytes() == b"lower"
