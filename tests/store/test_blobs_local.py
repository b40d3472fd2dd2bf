from __future__ import annotations

import errno
import io
import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from archivist.errors import (
    IntegrityError,
    InvalidInputError,
    PermissionDeniedError,
    StorageError,
)
from archivist.store import hashcache, open_blobs
from archivist.store.fscalls import FsCalls
from archivist.store.hashcache import RACY_NS
from archivist.store.localfs import CHUNK, LocalBlobs

from .conftest import CountingCalls, assert_blobs_consistent, sha, store_files

SIZES = [0, 1, 4096, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 12345]


def test_local_targets_get_the_local_store(tmp_path: Path) -> None:
    assert isinstance(open_blobs(tmp_path / "a"), LocalBlobs)
    assert isinstance(open_blobs(str(tmp_path / "a")), LocalBlobs)
    store = open_blobs(f"file://{tmp_path}/b")
    assert isinstance(store, LocalBlobs)
    assert store.root == str(tmp_path / "b")


def test_nothing_is_created_until_the_first_put(store_root: Path, blobs: LocalBlobs) -> None:
    assert not blobs.exists(sha(b"x"))
    assert list(blobs.iter_digests()) == []
    assert blobs.temp_files() == []
    assert not store_root.exists()


@pytest.mark.parametrize("size", SIZES)
def test_put_file_round_trip(tmp_path: Path, blobs: LocalBlobs, size: int) -> None:
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    digest, got = blobs.put_file(src)
    assert (digest, got) == (sha(data), size)
    with blobs.open(digest) as f:
        assert f.read() == data
    path = Path(blobs.path(digest))
    assert path == Path(blobs.root) / "sha256" / digest[7:9] / digest[9:]
    assert blobs.local_path(digest) == str(path)
    assert path.read_bytes() == data  # exact bytes: no compression, no framing
    assert blobs.size(digest) == size
    assert blobs.check(digest) == "ok"
    assert store_files(Path(blobs.root))["tmp"] == []


def test_put_bytes_and_stream_agree_with_put_file(tmp_path: Path, blobs: LocalBlobs) -> None:
    data = os.urandom(CHUNK + 10)
    src = tmp_path / "f"
    src.write_bytes(data)

    class NoReadinto:
        def __init__(self, data: bytes) -> None:
            self._buf = io.BytesIO(data)

        def read(self, n: int = -1, /) -> bytes:
            return self._buf.read(min(n, 1000) if n > 0 else n)  # short reads

    assert blobs.put_bytes(data) == blobs.put_file(src) == blobs.put_stream(io.BytesIO(data))
    assert blobs.put_stream(NoReadinto(data)) == (sha(data), len(data))
    assert blobs.put_bytes(bytearray(b"ab")) == (sha(b"ab"), 2)
    assert len(list(blobs.iter_digests())) == 2



def test_digest_hint_skips_the_copy(tmp_path: Path, make_local: Callable[..., LocalBlobs]
                                    ) -> None:
    calls = CountingCalls()
    store = make_local(calls)
    src = tmp_path / "f"
    src.write_bytes(b"hinted")
    digest, _ = store.put_file(src)
    calls.calls.clear()
    calls.opened.clear()
    assert store.put_file(src, digest=digest) == (digest, 6)
    assert calls.calls == ["lstat"]  # one stat of the blob, the source never opened
    # A stale hint (file changed) is only a hint: the real digest comes back.
    src.write_bytes(b"changed")
    assert store.put_file(src, digest=sha(b"old")) == (sha(b"changed"), 7)


def test_concurrent_puts_of_the_same_bytes_land_one_blob(tmp_path: Path,
                                                         blobs: LocalBlobs) -> None:
    data = os.urandom(CHUNK * 2 + 1)  # the threaded large-file path
    src = tmp_path / "f"
    src.write_bytes(data)
    results: list[tuple[str, int]] = []
    barrier = threading.Barrier(8)

    def put() -> None:
        barrier.wait()
        results.append(blobs.put_file(src))

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(sha(data), len(data))] * 8
    files = store_files(Path(blobs.root))
    assert len(files["blobs"]) == 1 and files["tmp"] == []
    assert_blobs_consistent(Path(blobs.root))


def _flip_last_byte(path: Path) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("size", [10, CHUNK + 3])
def test_open_detects_corruption(blobs: LocalBlobs, size: int) -> None:
    data = os.urandom(size)
    digest, _ = blobs.put_bytes(data)
    _flip_last_byte(Path(blobs.path(digest)))
    with blobs.open(digest) as f, pytest.raises(IntegrityError) as info:
        f.read()
    assert digest in str(info.value) and blobs.path(digest) in str(info.value)
    assert blobs.check(digest) == "corrupt"


def test_open_refuses_a_symlinked_blob(tmp_path: Path, blobs: LocalBlobs) -> None:
    digest, _ = blobs.put_bytes(b"secret?")
    path = Path(blobs.path(digest))
    path.unlink()
    decoy = tmp_path / "decoy"
    decoy.write_bytes(b"secret?")  # even with the right bytes
    path.symlink_to(decoy)
    with pytest.raises(IntegrityError, match="symlink"):
        blobs.open(digest)
    assert blobs.check(digest) == "suspicious"
    assert not blobs.exists(digest)
    # A put of the same bytes repairs the squatted path.
    assert blobs.put_bytes(b"secret?") == (digest, 7)
    assert not path.is_symlink() and blobs.check(digest) == "ok"


def test_missing_bytes(blobs: LocalBlobs) -> None:
    digest = sha(b"never stored")
    with pytest.raises(IntegrityError, match="bytes missing"):
        blobs.open(digest)
    with pytest.raises(IntegrityError, match="bytes missing"):
        blobs.size(digest)
    with pytest.raises(IntegrityError):
        blobs.mtime(digest)
    assert blobs.check(digest) == "missing"
    blobs.delete(digest)  # deleting what is not there is fine


def test_non_regular_blob_path_is_suspicious(blobs: LocalBlobs) -> None:
    digest, _ = blobs.put_bytes(b"fifo")
    path = Path(blobs.path(digest))
    path.unlink()
    os.mkfifo(path)
    assert blobs.check(digest) == "suspicious"
    with pytest.raises(IntegrityError):
        blobs.open(digest)  # O_NONBLOCK: refused, not hung




def test_iter_digests_skips_foreign_files(blobs: LocalBlobs) -> None:
    digest, _ = blobs.put_bytes(b"x")
    fan = Path(blobs.path(digest)).parent
    (fan / "README").write_text("not a blob")
    (Path(blobs.root) / "sha256" / "zz").mkdir()
    assert list(blobs.iter_digests()) == [digest]


def test_temp_files_and_remove_temp(tmp_path: Path, blobs: LocalBlobs) -> None:
    blobs.put_bytes(b"make the layout")
    stale = Path(blobs.root) / "tmp" / "dead.tmp"
    stale.write_bytes(b"partial")
    assert [p for p, _ in blobs.temp_files()] == [str(stale)]
    outside = tmp_path / "precious"
    outside.write_text("keep")
    for bad in (str(outside), str(Path(blobs.root) / "tmp" / ".." / ".." / "precious")):
        with pytest.raises(PermissionDeniedError):
            blobs.remove_temp(bad)
    assert outside.exists()
    blobs.remove_temp(str(stale))
    assert blobs.temp_files() == []


def test_source_errors_are_typed(tmp_path: Path, blobs: LocalBlobs) -> None:
    with pytest.raises(InvalidInputError, match="no such file"):
        blobs.put_file(tmp_path / "missing")
    with pytest.raises(InvalidInputError, match="not a regular file"):
        blobs.put_file(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInputError, match="not a regular file"):
        blobs.put_file(fifo)  # returns at once: O_NONBLOCK, refused before any read
    sock_path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        with pytest.raises(InvalidInputError):
            blobs.put_file(sock_path)
    assert store_files(Path(blobs.root))["tmp"] == []


def test_put_file_follows_a_named_symlink(tmp_path: Path, blobs: LocalBlobs) -> None:
    target = tmp_path / "real"
    target.write_bytes(b"real")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert blobs.put_file(link) == (sha(b"real"), 4)


def test_digest_is_of_the_bytes_written_when_the_source_changes(tmp_path: Path,
        make_local: Callable[..., LocalBlobs]) -> None:
    src = tmp_path / "growing"
    src.write_bytes(b"a" * (CHUNK + 100))

    class Mutating(FsCalls):
        reads = 0

        def readinto(self, fd: int, buf: memoryview) -> int:
            n = super().readinto(fd, buf)
            self.reads += 1
            if self.reads == 1:  # another process rewrites the file mid-copy
                with open(src, "r+b") as f:
                    f.seek(CHUNK)
                    f.write(b"b" * 100 + b"tail")
            return n

    store = make_local(Mutating())
    digest, size = store.put_file(src)
    with store.open(digest) as f:
        stored = f.read()
    assert sha(stored) == digest and len(stored) == size
    assert_blobs_consistent(Path(store.root))


def test_blobs_are_read_only_files(blobs: LocalBlobs) -> None:
    digest, _ = blobs.put_bytes(b"ro")
    assert stat.S_IMODE(os.stat(blobs.path(digest)).st_mode) & 0o222 == 0


def test_fetch_to_verifies_and_never_leaves_a_bad_file(tmp_path: Path,
                                                       blobs: LocalBlobs) -> None:
    data = os.urandom(CHUNK + 5)
    digest, _ = blobs.put_bytes(data)
    dest = tmp_path / "out.bin"
    assert blobs.fetch_to(digest, dest) == len(data)
    assert dest.read_bytes() == data
    _flip_last_byte(Path(blobs.path(digest)))
    dest2 = tmp_path / "out2.bin"
    with pytest.raises(IntegrityError):
        blobs.fetch_to(digest, dest2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs", "out.bin"]
    with pytest.raises(IntegrityError, match="missing"):
        blobs.fetch_to(sha(b"nope"), tmp_path / "out3")
    assert not (tmp_path / "out3").exists()


def test_fetch_to_refuses_a_symlink_destination(tmp_path: Path, blobs: LocalBlobs) -> None:
    digest, _ = blobs.put_bytes(b"payload")
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(PermissionDeniedError):
        blobs.fetch_to(digest, link)
    assert victim.read_text() == "untouched"


def test_filesystems_without_hard_links_fall_back_to_rename(
        tmp_path: Path, make_local: Callable[..., LocalBlobs]) -> None:
    class NoLinks(FsCalls):
        def link(self, src: str, dst: str) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

    store = make_local(NoLinks())
    assert store.put_bytes(b"no links") == (sha(b"no links"), 8)
    assert store.put_bytes(b"no links") == (sha(b"no links"), 8)
    assert store.check(sha(b"no links")) == "ok"
    assert store_files(Path(store.root))["tmp"] == []


def test_a_source_rewritten_during_a_kernel_copy_is_stored_as_it_landed(
        tmp_path: Path, make_local: Callable[..., LocalBlobs]) -> None:
    src = tmp_path / "big"
    src.write_bytes(b"a" * (2 * CHUNK + 100))

    class Mutating(FsCalls):
        copies = 0

        def copy_file_range(self, src_fd: int, dst: int, count: int) -> int:
            n = super().copy_file_range(src_fd, dst, count)
            self.copies += 1
            if self.copies == 1:  # another process rewrites a part not copied yet
                with open(src, "r+b") as f:
                    f.seek(CHUNK + 10)
                    f.write(b"b" * 100)
            return n

    store = make_local(Mutating())
    digest, size = store.put_file(src)
    stored = Path(store.path(digest)).read_bytes()
    assert stored[CHUNK + 10:CHUNK + 110] == b"b" * 100  # the copy did see the rewrite
    assert sha(stored) == digest and size == len(stored) == 2 * CHUNK + 100
    assert store.check(digest) == "ok"
    assert_blobs_consistent(Path(store.root))


@pytest.mark.parametrize(("broken", "used"), [
    ((), "copy_file_range"),
    (("copy_file_range",), "sendfile"),
    (("copy_file_range", "sendfile"), "read"),
    (("short",), "read"),
], ids=["kernel-copy", "no-copy_file_range", "no-kernel-copy", "kernel-copy-stops-short"])
def test_large_files_are_copied_by_the_kernel_or_read_and_written(
        tmp_path: Path, make_local: Callable[..., LocalBlobs], broken: tuple[str, ...],
        used: str) -> None:
    class Limited(FsCalls):
        def __init__(self) -> None:
            self.used: list[str] = []

        def copy_file_range(self, src: int, dst: int, count: int) -> int:
            if "copy_file_range" in broken:
                raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))  # across filesystems
            if "short" in broken and "copy_file_range" in self.used:
                return 0  # a filesystem whose kernel copy stops before the end
            self.used.append("copy_file_range")
            return super().copy_file_range(src, dst, count)

        def sendfile(self, src: int, dst: int, count: int) -> int:
            if "sendfile" in broken:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            self.used.append("sendfile")
            return super().sendfile(src, dst, count)

        def readinto(self, fd: int, buf: memoryview) -> int:
            n = super().readinto(fd, buf)
            if n:
                self.used.append("read")
            return n

    data = os.urandom(2 * CHUNK + 12345)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    calls = Limited()
    store = make_local(calls)
    assert store.put_file(src) == (sha(data), len(data))
    assert Path(store.path(sha(data))).read_bytes() == data
    assert used in calls.used
    if used == "read":
        assert "sendfile" not in calls.used
    assert store_files(Path(store.root))["tmp"] == []


def test_a_failing_kernel_copy_is_a_storage_error_and_leaves_no_temp(
        tmp_path: Path, make_local: Callable[..., LocalBlobs]) -> None:
    class Failing(FsCalls):
        def copy_file_range(self, src: int, dst: int, count: int) -> int:
            raise OSError(errno.EIO, os.strerror(errno.EIO))  # never a reason to fall back

    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(CHUNK + 1))
    store = make_local(Failing())
    with pytest.raises(StorageError, match="Input/output error"):
        store.put_file(src)
    assert store_files(Path(store.root))["tmp"] == []
    assert list(store.iter_digests()) == []


def _hinted_tree(tmp_path: Path, store: LocalBlobs, n: int) -> tuple[list[Path], list[str]]:
    """``n`` files landed once, then (past the racy window of the fan-out folders' stamps)
    put again with their digests as hints, as a re-registered tree is."""
    files = []
    for i in range(n):
        files.append(tmp_path / f"f{i}")
        files[-1].write_bytes(b"file %d" % i)
    digests = [d for d, _ in store.put_many_files(files)]
    time.sleep(RACY_NS / 1e9 + 0.05)
    assert [d for d, _ in store.put_many_files(files, digests=digests)] == digests
    return files, digests


def test_missing_vouches_for_hinted_blobs_with_one_stat_per_folder(
        tmp_path: Path, make_local: Callable[..., LocalBlobs]) -> None:
    calls = CountingCalls()
    store = make_local(calls)
    _, digests = _hinted_tree(tmp_path, store, 40)
    folders = {d[7:9] for d in digests}
    calls.calls.clear()
    assert store.missing(digests) == set()
    assert calls.calls == ["lstat"] * len(folders)  # the folders, not the 40 blobs


def test_missing_sees_a_blob_gc_freed_after_the_hint_check(
        tmp_path: Path, make_local: Callable[..., LocalBlobs]) -> None:
    """A gc that frees a blob between the hint check and the post-commit check changes
    the blob's folder: missing() reports it, and checks each blob of that folder."""
    calls = CountingCalls()
    store = make_local(calls)
    _, digests = _hinted_tree(tmp_path, store, 40)
    gone = digests[7]
    store.delete(gone)
    neighbours = [d for d in digests if d[7:9] == gone[7:9]]
    calls.calls.clear()
    assert store.missing(digests) == {gone}
    folders = {d[7:9] for d in digests}
    assert calls.calls.count("lstat") == len(folders) + len(neighbours)
    assert store.missing(["sha256:" + "0" * 64]) == {"sha256:" + "0" * 64}  # never seen


def test_missing_trusts_no_folder_changed_just_before_its_stamp(
        tmp_path: Path, make_local: Callable[..., LocalBlobs],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder changed within the timestamp granularity before it was stamped could be
    changed again in the same tick without its stamp moving: its blobs get one lstat each."""
    monkeypatch.setattr(hashcache, "RACY_NS", 3600 * 10**9)  # "just now", however slow
    calls = CountingCalls()
    store = make_local(calls)
    files = [tmp_path / f"f{i}" for i in range(20)]
    for i, f in enumerate(files):
        f.write_bytes(b"racy %d" % i)
    digests = [d for d, _ in store.put_many_files(files)]
    store.put_many_files(files, digests=digests)  # at once: every folder just changed
    calls.calls.clear()
    assert store.missing(digests) == set()
    assert calls.calls == ["lstat"] * len(digests)
    with pytest.raises(InvalidInputError):
        store.missing(["sha256:../x"])
