"""The local-folder blob store: every syscall through one seam, fsync'd, linked into place.

Write path of one blob (SPEC §4, reliability.md e.6): ``<root>/tmp/<random>.tmp`` created
``O_EXCL``, written while hashing, ``fsync``, ``link`` to ``<root>/sha256/ab/cdef…``
(``EEXIST`` is a dedupe hit: a blob is never clobbered), ``unlink`` the temp, ``fsync`` the
fan-out directory. A file of 4 MiB or more is copied by the kernel
(:class:`~archivist.store.fscalls.KernelCopy`: ``copy_file_range``, else ``sendfile``, else
``read``/``write``) and each 4 MiB that landed is read back from the page cache and hashed
on a worker thread (:func:`~archivist.store.hashing.hash_landed`): the digest is of the
temp's bytes, whatever the source does meanwhile. Streams are written in 4 MiB chunks
hashed on a worker thread (:func:`~archivist.store.hashing.copy_hashing`). A directory's
files go through :meth:`LocalBlobs.put_many_files`: every temp written without a per-file
fsync, one ``syncfs``, every link, one more ``syncfs`` — at ~0.2 ms per fsync, 10,000 small
files would otherwise spend seconds syncing; up to ``FSYNC_EACH_UP_TO`` new blobs (a tree
re-registered with a file changed) are fsync'd one by one instead, as ``syncfs`` also
writes back other processes' dirty data.

A registration checks after its commit that no racing gc freed the blobs it found present
(:meth:`LocalBlobs.missing`). For the blobs a hint check found present, that is one
``stat`` per fan-out folder, not per blob: the folder's (device, inode, mtime, ctime),
read before the blobs in it were checked, still the same means no entry of it was
removed since (an unlink changes its folder's mtime and ctime). A folder changed within
the filesystem's timestamp granularity before that first stat is not trusted (the racy
case of :func:`~archivist.store.hashcache.is_racy`); its blobs, and those of a folder that
changed, get one ``lstat`` each.

Tests fail the Nth filesystem call by passing an
:class:`~archivist.store.fscalls.FsCalls` subclass (or patching ``LOCAL_FS.hook``): every
call the store makes on its own files and its sources goes through it.

It is one module of a little over 400 lines on purpose: the write path's syscalls, their
order and the seam they go through must be read together to be checked.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
import time
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from archivist._types import PathLike
from archivist.errors import IntegrityError, PermissionDeniedError
from archivist.store.blobs import CheckResult, fetch_to, hint_list, rehash
from archivist.store.fscalls import (
    LOCAL_FS,
    O_DIRECTORY,
    O_NOFOLLOW,
    O_NONBLOCK,
    FsCalls,
    KernelCopy,
    missing_bytes,
    open_regular,
    storage_error,
    storage_errors,
    suspicious,
)
from archivist.store.hashcache import is_racy
from archivist.store.hashing import (
    DIGEST_RE,
    Readable,
    ReadInto,
    check_digest,
    copy_hashing,
    hash_bytes,
    hash_landed,
    read_full,
    readinto_of,
    verifying_reader,
)
from archivist.store.spool import owner_gone, owner_tag

CHUNK = 4 * 1024 * 1024  # per write and per hash job (see copy_hashing)
FSYNC_EACH_UP_TO = 4  # put_many_files: new blobs fsync'd one by one; more: one syncfs
REMEMBER_UP_TO = 250_000  # blobs found present that missing() may vouch for by folder

_Stamp = tuple[int, int, int, int]  # a fan-out folder's (st_dev, st_ino, mtime_ns, ctime_ns)


@dataclass(frozen=True)
class _Spooled:
    digest: str
    size: int
    tmp: str | None  # None: the blob was already present, nothing written


class LocalBlobs:
    """A :class:`~archivist.store.blobs.Blobs` store in a local folder; obtain it with
    :func:`~archivist.store.stores.open_blobs` or directly, ``LocalBlobs(folder)``.

    Args:
        target: a folder, or a ``file://`` URL of one.
        fs_calls: the filesystem-call seam (tests inject faults here).
    """

    def __init__(self, target: PathLike, *, fs_calls: FsCalls | None = None) -> None:
        text = os.fspath(target).removeprefix("file://").removeprefix("local://")
        self.url = self.root = os.path.abspath(text)
        self._os = fs_calls if fs_calls is not None else LOCAL_FS
        self._blob_dir = os.path.join(self.root, "sha256")
        self._tmp_dir = os.path.join(self.root, "tmp")
        self._ready = False
        self._fanouts: set[str] = set()
        # fan-out folder -> its stamp before the blobs in it were found present, and them
        self._seen: dict[str, tuple[_Stamp, frozenset[str]]] = {}

    def __repr__(self) -> str:
        return f"LocalBlobs({self.url!r})"

    def fetch_to(self, digest: str, dest: PathLike) -> int:
        return fetch_to(self, digest, dest)

    # -- layout ---------------------------------------------------------------------------
    def path(self, digest: str) -> str:
        hexd = check_digest(digest)[7:]
        return f"{self._blob_dir}{os.sep}{hexd[:2]}{os.sep}{hexd[2:]}"  # os.path.join, faster

    def local_path(self, digest: str) -> str | None:
        self.size(digest)  # IntegrityError unless a regular file: never hand out a symlink
        return self.path(digest)

    def local_root(self) -> str | None:
        return self.root

    def _ensure_layout(self) -> None:
        if not self._ready:
            created = [d for d in (self.root, self._blob_dir, self._tmp_dir)
                       if self._makedirs(d)]
            # New directory entries must be durable before a blob inside them is.
            for directory in {os.path.dirname(d) for d in created}:
                self._fsync_dir(directory)
            self._ready = True

    def _makedirs(self, directory: str) -> bool:
        """Create ``directory`` and missing parents; True if it was created."""
        try:
            self._os.lstat(directory)
            return False
        except FileNotFoundError:
            pass
        parent = os.path.dirname(directory)
        if parent != directory:
            self._makedirs(parent)
        try:
            self._os.mkdir(directory)
        except FileExistsError:
            return False
        return True

    # -- writes ---------------------------------------------------------------------------
    def put_file(self, path: PathLike, *, digest: str | None = None) -> tuple[str, int]:
        return self._put_paths([path], [digest], follow=True, bulk=False)[0]

    def put_bytes(self, data: bytes | bytearray | memoryview) -> tuple[str, int]:
        data = bytes(data)  # a bytearray could change between hashing and writing
        with storage_errors(self.root):
            spooled = self._spool_small(data, hash_bytes(data), sync=True, pending=())
            self._commit([spooled], sync=True)
        return spooled.digest, spooled.size

    def put_stream(self, fileobj: Readable) -> tuple[str, int]:
        with storage_errors(self.root):
            spooled = self._spool(readinto_of(fileobj), None, sync=True, pending=())
            self._commit([spooled], sync=True)
        return spooled.digest, spooled.size

    def put_many_files(self, paths: Sequence[PathLike], *,
                       digests: Sequence[str | None] | None = None) -> list[tuple[str, int]]:
        return self._put_paths(paths, hint_list(paths, digests), follow=False, bulk=True)

    def _put_paths(self, paths: Sequence[PathLike], hints: Sequence[str | None], *,
                   follow: bool, bulk: bool) -> list[tuple[str, int]]:
        """Spool every missing file to a temp, make the temps durable (one fsync each, or
        with ``bulk`` one ``syncfs`` for all), link them into place, sync the links."""
        out: list[tuple[str, int]] = []
        pending: dict[str, _Spooled] = {}
        # a folder's stamp costs a stat: worth it for a tree's blobs, not for one file's
        stamps: dict[str, _Stamp | None] | None = {} if bulk else None
        seen: dict[str, set[str]] = {}
        committing = False
        try:
            with storage_errors(self.root):
                for path, hint in zip(paths, hints, strict=True):
                    if hint is not None:
                        present = self._hinted(hint, stamps, seen)
                        if present is not None:
                            out.append((hint, present))
                            continue
                    spooled = self._spool_file(path, follow, not bulk, pending)
                    out.append((spooled.digest, spooled.size))
                    if spooled.tmp is not None and spooled.digest in pending:
                        self._discard(spooled.tmp)  # the same large bytes twice
                    elif spooled.tmp is not None:
                        pending[spooled.digest] = spooled
                # syncfs also writes back every other process's dirty data on the
                # filesystem: worth it for many new blobs, not for a few (a re-registered
                # tree with one file changed), which are fsync'd one by one.
                whole = bulk and len(pending) > FSYNC_EACH_UP_TO
                if pending:
                    if whole:
                        self._fsync_dir(self.root, whole_filesystem=True)  # temps durable
                    elif bulk:
                        for tmp in (s.tmp for s in pending.values() if s.tmp is not None):
                            self._fsync_file(tmp)
                    committing = True  # from here _commit owns the temps
                    self._commit(list(pending.values()), sync=not whole)
                    if whole:
                        self._fsync_dir(self.root, whole_filesystem=True)  # and the links
        finally:
            if not committing:
                for tmp in (s.tmp for s in pending.values() if s.tmp is not None):
                    self._discard(tmp)
        if stamps is not None and sum(map(len, seen.values())) <= REMEMBER_UP_TO:
            for fan, digests in seen.items():
                stamp = stamps[fan]
                if stamp is not None:
                    self._seen[fan] = (stamp, frozenset(digests))
        return out

    def _hinted(self, hint: str, stamps: dict[str, _Stamp | None] | None,
                seen: dict[str, set[str]]) -> int | None:
        """The size of the hinted blob if present. With ``stamps``, its fan-out folder is
        stamped before its first blob is looked at, and a blob found present is noted
        under it (see :meth:`missing`)."""
        path = self.path(hint)  # checks the digest's form
        fan = path[:-63]  # os.path.dirname: the path ends with os.sep and 62 hex digits
        if stamps is not None and fan not in stamps:
            stamp = self._stamp(fan)
            stamps[fan] = None if stamp is None or stamp[1] else stamp[0]
        try:
            st = self._os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise storage_error("cannot stat", path, exc) from exc
        if not stat.S_ISREG(st.st_mode):
            return None
        if stamps is not None and stamps[fan] is not None:
            seen.setdefault(fan, set()).add(hint)
        return st.st_size

    def _stamp(self, directory: str) -> tuple[_Stamp, bool] | None:
        """A folder's stamp, and whether it changed too recently to be trusted; None if it
        cannot be read (nothing is then vouched for by it)."""
        try:
            st = self._os.lstat(directory)
        except OSError:
            return None
        racy = is_racy(st, time.time_ns())  # the clock read after the stat
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns), racy

    def _spool_file(self, path: PathLike, follow: bool, sync: bool,
                    pending: Container[str]) -> _Spooled:
        fd = open_regular(path, follow=follow, calls=self._os)
        try:
            size_hint = os.fstat(fd).st_size
            if size_hint >= CHUNK:
                return self._spool_copy(fd, sync=sync)
            return self._spool(lambda view: self._os.readinto(fd, view), size_hint,
                               sync=sync, pending=pending)
        finally:
            os.close(fd)  # a read-only source: nothing to lose if close fails

    def _spool_copy(self, src: int, *, sync: bool) -> _Spooled:
        """A large file: the kernel copies it into the temp (no user-space copy), and
        what landed is read back from the page cache and hashed on a worker thread."""
        with self._temp() as (fd, tmp):
            copy = KernelCopy(self._os, src, fd, CHUNK)
            digest, size = hash_landed(copy, lambda view, at: self._os.read_at(fd, view, at),
                                       CHUNK)
            if sync:
                self._os.fsync(fd)
        return _Spooled(digest, size, tmp)

    def _spool(self, readinto: ReadInto, size_hint: int | None, *, sync: bool,
               pending: Container[str]) -> _Spooled:
        """Copy a source into a temp file, hashing exactly the bytes written."""
        want = CHUNK if size_hint is None or size_hint >= CHUNK else size_hint + 1
        head = bytearray(want)
        n = read_full(readinto, memoryview(head))
        if n < want:  # end of file: small content, whole in memory
            data = memoryview(head)[:n]
            return self._spool_small(data, hash_bytes(data), sync=sync, pending=pending)
        return self._spool_large(readinto, head, sync=sync)

    def _spool_small(self, data: bytes | memoryview, digest: str, *, sync: bool,
                     pending: Container[str]) -> _Spooled:
        if digest in pending or self._present_size(digest) == len(data):
            return _Spooled(digest, len(data), None)
        with self._temp() as (fd, tmp):
            self._write_all(fd, memoryview(data))
            if sync:
                self._os.fsync(fd)
        return _Spooled(digest, len(data), tmp)

    def _spool_large(self, readinto: ReadInto, head: bytearray, *, sync: bool) -> _Spooled:
        with self._temp() as (fd, tmp):
            written = 0

            def write(view: memoryview) -> None:
                nonlocal written
                self._write_all(fd, view)
                if sync and written:
                    # Write the previous chunk back while hashing goes on, rather than
                    # all of it in the final fsync: measured +10-25 % on 512 MB.
                    self._os.start_writeback(fd, written - len(view), len(view))
                written += len(view)

            digest, size = copy_hashing(readinto, write, head)
            if sync:
                self._os.fsync(fd)
        return _Spooled(digest, size, tmp)

    @contextlib.contextmanager
    def _temp(self) -> Iterator[tuple[int, str]]:
        """A new temp file in ``<root>/tmp``, closed after the body; removed if the body
        or the close fails (NFS reports write errors at close)."""
        self._ensure_layout()
        # named for its owner: a temp of a process that is gone is reclaimed at once
        tmp = os.path.join(self._tmp_dir, f"{owner_tag()}{secrets.token_hex(12)}.tmp")
        # Read-only like dvc's cache: a stray `open(blob, "w")` in user code fails.
        # Readable too: a kernel copy's bytes are read back to be hashed.
        fd = self._os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | O_NOFOLLOW, 0o444)
        try:
            yield fd, tmp
        except BaseException:
            with contextlib.suppress(OSError):
                self._os.close(fd)
            self._discard(tmp)
            raise
        try:
            self._os.close(fd)
        except BaseException:
            self._discard(tmp)
            raise

    def _write_all(self, fd: int, view: memoryview) -> None:
        while view:
            view = view[self._os.write(fd, view):]

    def _commit(self, batch: Sequence[_Spooled], *, sync: bool) -> None:
        """Link each temp to its digest path (no clobber), drop the temps, and with
        ``sync`` fsync the directories that changed."""
        touched: set[str] = set()
        landed = 0  # batch[landed:] still owns its temps
        try:
            for spooled in batch:
                if spooled.tmp is not None:
                    final = self.path(spooled.digest)
                    touched.add(os.path.dirname(final))
                    if self._ensure_fanout(os.path.dirname(final)):
                        touched.add(self._blob_dir)
                    self._land(spooled.tmp, final, spooled.size)
                    self._discard(spooled.tmp)
                landed += 1
            if sync:
                for directory in sorted(touched, key=len, reverse=True):
                    self._fsync_dir(directory)
        finally:
            for tmp in (s.tmp for s in batch[landed:] if s.tmp is not None):
                self._discard(tmp)

    def _land(self, tmp: str, final: str, size: int) -> None:
        try:
            try:
                self._os.link(tmp, final)
            except FileNotFoundError:  # fan-out directory removed since we cached it
                self._makedirs(os.path.dirname(final))
                self._os.link(tmp, final)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            with contextlib.suppress(FileNotFoundError):
                st = self._os.lstat(final)
                if stat.S_ISREG(st.st_mode) and st.st_size == size:
                    return  # dedupe: another put landed the same bytes
            # A symlink or wrong-sized file squats on the digest path (repair it), or the
            # filesystem has no hard links (FAT, some FUSE/SMB): rename, which may only
            # ever replace a blob with the same bytes, since they hash to the same name.
            self._os.rename(tmp, final)

    def _ensure_fanout(self, directory: str) -> bool:
        if directory in self._fanouts:  # a set's `in` and `add` are atomic under the GIL
            return False
        created = self._makedirs(directory)  # concurrent mkdirs: EEXIST is fine
        self._fanouts.add(directory)
        return created

    def _fsync_dir(self, directory: str, *, whole_filesystem: bool = False) -> None:
        fd = self._os.open(directory, os.O_RDONLY | O_DIRECTORY)
        try:
            (self._os.syncfs if whole_filesystem else self._os.fsync)(fd)
        finally:
            self._os.close(fd)

    def _fsync_file(self, path: str) -> None:
        fd = self._os.open(path, os.O_RDONLY | O_NOFOLLOW)
        try:
            self._os.fsync(fd)
        finally:
            self._os.close(fd)

    def _discard(self, tmp: str) -> None:
        """Remove a temp file; one retry, then leave it to gc (``temp_files``)."""
        for _ in range(2):
            try:
                self._os.unlink(tmp)
                return
            except FileNotFoundError:
                return
            except OSError:
                pass

    # -- reads ----------------------------------------------------------------------------
    def _present_size(self, digest: str) -> int | None:
        try:
            st = self._lstat(digest)
        except IntegrityError:
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def _lstat(self, digest: str) -> os.stat_result:
        path = self.path(digest)
        try:
            return self._os.lstat(path)
        except FileNotFoundError:
            raise missing_bytes(digest, path) from None
        except OSError as exc:
            raise storage_error("cannot stat", path, exc) from exc

    def exists(self, digest: str) -> bool:
        return self._present_size(digest) is not None

    def missing(self, digests: Sequence[str]) -> set[str]:
        out: set[str] = set()
        unchanged: dict[str, bool] = {}
        for digest in digests:
            fan = f"{self._blob_dir}{os.sep}{check_digest(digest)[7:9]}"  # of self.path()
            record = self._seen.get(fan)
            if record is not None and digest in record[1]:
                if fan not in unchanged:
                    now = self._stamp(fan)
                    unchanged[fan] = now is not None and now[0] == record[0]
                if unchanged[fan]:
                    continue  # present when its folder was stamped, and none removed since
            if self._present_size(digest) is None:
                out.add(digest)
        return out

    def size(self, digest: str) -> int:
        st = self._lstat(digest)
        if not stat.S_ISREG(st.st_mode):
            raise suspicious(digest, self.path(digest))
        return st.st_size

    def mtime(self, digest: str) -> float:
        return self._lstat(digest).st_mtime

    def clock(self) -> float:
        return time.time()  # a local folder's mtimes are stamped by this machine's clock

    def open(self, digest: str) -> BinaryIO:
        path = self.path(digest)
        try:
            fd = self._os.open(path, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
        except FileNotFoundError:
            raise missing_bytes(digest, path) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise suspicious(digest, path) from exc
            raise storage_error("cannot open", path, exc) from exc
        with storage_errors(path):
            st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise suspicious(digest, path)
        return verifying_reader(io.FileIO(fd, "rb", closefd=True), digest, path, st.st_size)

    def check(self, digest: str) -> CheckResult:
        try:
            st = self._lstat(digest)
        except IntegrityError:
            return "missing"
        if not stat.S_ISREG(st.st_mode):
            return "suspicious"
        try:
            return rehash(self, digest)
        except IntegrityError:  # open() refused: replaced by a symlink meanwhile
            return "suspicious"

    def iter_digests(self) -> Iterator[str]:
        with storage_errors(self._blob_dir):
            try:
                fanouts = self._os.scandir(self._blob_dir)
            except FileNotFoundError:
                return
            for fan in fanouts:
                if len(fan.name) == 2 and fan.is_dir(follow_symlinks=False):
                    for entry in self._os.scandir(fan.path):
                        candidate = f"sha256:{fan.name}{entry.name}"
                        if DIGEST_RE.fullmatch(candidate):
                            yield candidate

    def delete(self, digest: str) -> None:
        with storage_errors(self.path(digest)), contextlib.suppress(FileNotFoundError):
            self._os.unlink(self.path(digest))

    def temp_files(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        # No tmp folder means no put yet; an entry that vanished finished meanwhile.
        with storage_errors(self._tmp_dir), contextlib.suppress(FileNotFoundError):
            for entry in self._os.scandir(self._tmp_dir):
                with contextlib.suppress(FileNotFoundError):
                    mtime = entry.stat(follow_symlinks=False).st_mtime
                    out.append((entry.path, 0.0 if owner_gone(entry.name) else mtime))
        return out

    def remove_temp(self, path: str) -> None:
        if os.path.dirname(os.path.abspath(path)) != self._tmp_dir:
            raise PermissionDeniedError(f"{path!r} is not a temp file of {self.root}",
                                        path=path)
        with storage_errors(path), contextlib.suppress(FileNotFoundError):
            self._os.unlink(path)
