"""The local filesystem door: every call the local store makes, and how errors map.

:class:`FsCalls` is the seam the fault-injection tests use: :meth:`FsCalls.hook` runs
before each call, so a subclass can raise ``OSError(EIO)`` at the Nth one (reliability.md
d.3). The rest of this module turns ``OSError`` into the typed errors callers see: on a
*source* file the user's mistake (``InvalidInputError``, ``PermissionDeniedError``), on the
store's own files ``StorageError`` naming the path and the errno text.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from archivist._types import PathLike
from archivist.errors import (
    ArchivistError,
    IntegrityError,
    InvalidInputError,
    PermissionDeniedError,
    StorageError,
)

if TYPE_CHECKING:
    from archivist.store.hashing import Readable

O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must never block
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def _libc(name: str, *argtypes: type[Any]) -> Callable[..., int] | None:
    try:
        fn = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):  # not Linux
        return None
    fn.argtypes = list(argtypes)
    fn.restype = ctypes.c_int
    return cast("Callable[..., int]", fn)  # ctypes functions are untyped


_SYNCFS = _libc("syncfs", ctypes.c_int)
_SYNC_FILE_RANGE = _libc("sync_file_range", ctypes.c_int, ctypes.c_int64, ctypes.c_int64,
                         ctypes.c_uint)
_SYNC_FILE_RANGE_WRITE = 2


class FsCalls:
    """Every filesystem call the local store makes on its own files and its sources.

    :meth:`hook` runs before each call with the call's name and target; a test overrides
    it to raise ``OSError(EIO)`` at the Nth call.
    """

    def hook(self, op: str, target: str | int) -> None:
        """Called before every call; does nothing here."""

    def open(self, path: str, flags: int, mode: int = 0o666) -> int:
        self.hook("open", path)
        return os.open(path, flags | O_CLOEXEC, mode)

    def readinto(self, fd: int, buf: memoryview) -> int:
        self.hook("read", fd)
        return os.readv(fd, [buf])

    def write(self, fd: int, data: memoryview | bytes) -> int:
        self.hook("write", fd)
        return os.write(fd, data)

    def read_at(self, fd: int, buf: memoryview, offset: int) -> int:
        self.hook("read", fd)
        return os.preadv(fd, [buf], offset)

    def copy_file_range(self, src: int, dst: int, count: int) -> int:
        """Kernel copy from ``src``'s position to ``dst``'s (both advance)."""
        self.hook("write", dst)
        return os.copy_file_range(src, dst, count)

    def sendfile(self, src: int, dst: int, count: int) -> int:
        """Kernel copy from ``src``'s position to ``dst``'s (Linux: any file to a file)."""
        self.hook("write", dst)
        return os.sendfile(dst, src, None, count)

    def fsync(self, fd: int) -> None:
        self.hook("fsync", fd)
        os.fsync(fd)

    def start_writeback(self, fd: int, offset: int, length: int) -> None:
        """Ask the kernel to start writing a range back now (a hint; errors ignored)."""
        self.hook("start_writeback", fd)
        if _SYNC_FILE_RANGE is not None:
            _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)

    def close(self, fd: int) -> None:
        try:
            self.hook("close", fd)
        finally:
            os.close(fd)  # as on Linux: the descriptor is released even when close fails

    def link(self, src: str, dst: str) -> None:
        self.hook("link", dst)
        os.link(src, dst, follow_symlinks=False)

    def rename(self, src: str, dst: str) -> None:
        self.hook("rename", dst)
        os.replace(src, dst)

    def unlink(self, path: str) -> None:
        self.hook("unlink", path)
        os.unlink(path)

    def mkdir(self, path: str) -> None:
        self.hook("mkdir", path)
        os.mkdir(path)

    def lstat(self, path: str) -> os.stat_result:
        self.hook("lstat", path)
        return os.lstat(path)

    def scandir(self, path: str) -> list[os.DirEntry[str]]:
        self.hook("scandir", path)
        with os.scandir(path) as it:
            return list(it)

    def syncfs(self, fd: int) -> None:
        self.hook("syncfs", fd)
        if _SYNCFS is None:
            os.sync()  # flushes every filesystem, and cannot report an error
        elif _SYNCFS(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))


LOCAL_FS = FsCalls()
"""The calls every local store uses unless given others; tests may patch its ``hook``."""


#: Kernel-copy errors meaning "not here" (no syscall, across filesystems, a filesystem or
#: file kind without it), never a failed write: the copy goes on with the next method.
_NO_KERNEL_COPY = frozenset({errno.ENOSYS, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP,
                             errno.ENOTSUP, errno.ENOTSOCK})


class KernelCopy:
    """Append a source file's bytes to a destination file, a chunk per call, by the
    cheapest means that works: ``copy_file_range`` (in-kernel, no user-space copy; a
    reflink on filesystems that share extents), else ``sendfile``, else ``read``/``write``.
    Both files' positions advance, so a fallback mid-way goes on where the last call
    stopped. A kernel copy that reports end of file is confirmed by one ``read`` (some
    filesystems stop a kernel copy short); what follows is copied by ``read``/``write``.

    Each call returns the bytes appended (at most ``chunk``), 0 at end of file.
    """

    def __init__(self, calls: FsCalls, src: int, dst: int, chunk: int) -> None:
        self._calls, self._src, self._dst = calls, src, dst
        self._buf = memoryview(bytearray(chunk))
        self.method = ("copy_file_range" if hasattr(os, "copy_file_range")
                       else "sendfile" if sys.platform.startswith("linux") else "read")

    def __call__(self) -> int:
        count = len(self._buf)
        while self.method != "read":
            try:
                if self.method == "copy_file_range":
                    n = self._calls.copy_file_range(self._src, self._dst, count)
                else:
                    n = self._calls.sendfile(self._src, self._dst, count)
            except OSError as exc:
                if exc.errno not in _NO_KERNEL_COPY:
                    raise
                n = -1
            if n > 0:
                return n
            self.method = "sendfile" if self.method == "copy_file_range" and n else "read"
        n = self._calls.readinto(self._src, self._buf)
        view = self._buf[:n]
        while view:
            view = view[self._calls.write(self._dst, view):]
        return n


def open_regular(path: PathLike, *, follow: bool, calls: FsCalls = LOCAL_FS) -> int:
    """Open a source file for reading and return its fd, refusing anything but a regular
    file *before* reading it (``O_NONBLOCK``: opening a FIFO must not hang).

    Raises:
        InvalidInputError: missing, a symlink (when ``follow`` is false) or not a regular file.
        PermissionDeniedError: not readable.
        StorageError: any other ``OSError``.
    """
    name = os.fspath(path)
    flags = os.O_RDONLY | O_NONBLOCK | (0 if follow else O_NOFOLLOW)
    try:
        fd = calls.open(name, flags)
        try:
            mode = os.fstat(fd).st_mode
        except BaseException:
            os.close(fd)
            raise
    except OSError as exc:
        raise source_error(name, exc) from exc
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise InvalidInputError(f"{name} is not a regular file (FIFOs, sockets and devices "
                                "cannot be stored)", path=name)
    return fd


def write_atomically(dest: PathLike, source: Readable, *,
                     copy: Callable[[Any, BinaryIO], int] | None = None) -> int:
    """Write everything ``source`` yields to the local file ``dest``: into a temp file next
    to it (``O_EXCL``, ``O_NOFOLLOW``), ``fsync``, then ``rename`` over ``dest``; on any
    error the temp is removed and ``dest`` untouched. Returns the size written.
    ``copy(source, out)`` replaces the plain chunked copy (e.g. a kernel copy of a file).

    Raises:
        PermissionDeniedError: ``dest`` is a symlink (never written through).
        StorageError: the destination failed.
    """
    dest_path = os.path.abspath(os.fspath(dest))
    if os.path.islink(dest_path):
        raise PermissionDeniedError(f"refusing to write through the symlink {dest_path}",
                                    path=dest_path)
    parent, name = os.path.split(dest_path)
    tmp = os.path.join(parent, f".{name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
        with os.fdopen(fd, "wb") as out:
            size = (copy or _copy_chunks)(source, out)
            out.flush()
            os.fsync(fd)
        os.replace(tmp, dest_path)
    except BaseException as exc:
        unlink_quietly(tmp)
        if isinstance(exc, OSError):
            raise storage_error("cannot write", exc.filename or dest_path, exc) from exc
        raise
    return size


def _copy_chunks(source: Readable, out: BinaryIO) -> int:
    size = 0
    while chunk := source.read(1024 * 1024):
        out.write(chunk)
        size += len(chunk)
    return size


def unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def source_error(path: str, exc: OSError) -> ArchivistError:
    """Map an ``OSError`` on a *source* file to the typed error the caller should see."""
    if exc.errno == errno.ENOENT:
        return InvalidInputError(f"{path}: no such file", path=path)
    if exc.errno == errno.ELOOP:
        return InvalidInputError(f"{path} is a symlink; symlinks are not followed", path=path)
    if exc.errno in (errno.ENXIO, errno.ENODEV, errno.EOPNOTSUPP):  # sockets, odd devices
        return InvalidInputError(f"{path} is not a regular file", path=path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PermissionDeniedError(f"cannot read {path}: permission denied", path=path)
    return storage_error("cannot read", path, exc)


def storage_error(action: str, path: str, exc: OSError) -> StorageError:
    return StorageError(f"{action} {path}: {exc.strerror or exc}", path=path, errno=exc.errno)


@contextmanager
def storage_errors(where: str) -> Iterator[None]:
    """``OSError`` → ``StorageError`` naming the failing path (or ``where``) and errno."""
    try:
        yield
    except OSError as exc:
        raise storage_error("blob store failed at", exc.filename or where, exc) from exc


def missing_bytes(digest: str, where: str) -> IntegrityError:
    return IntegrityError(f"blob {digest}: bytes missing at {where}; run verify() and "
                          "re-register or restore the blob", digest=digest, path=where)


def suspicious(digest: str, path: str) -> IntegrityError:
    return IntegrityError(f"blob {digest}: {path} is a symlink or not a regular file; "
                          "refusing to read it (run verify())", digest=digest, path=path)
