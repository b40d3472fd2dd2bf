"""Landing a blob that was just downloaded and verified into the cache at its destination.

The bytes were hashed once, as they were written to the cache; hashing them again while
copying would only cost time. :func:`copy_atomically` copies the cached file with the
kernel (``sendfile``: no trip through Python) into a temp file next to the destination,
``fsync``\\ s it and renames it over the destination, with the same guarantees as
:func:`archivist.store.fscalls.write_atomically`.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from typing import BinaryIO

from archivist._types import PathLike
from archivist.errors import PermissionDeniedError
from archivist.store.fscalls import O_CLOEXEC, O_NOFOLLOW, storage_error, unlink_quietly

# errors after which sendfile is given up for a plain read/write copy
_NO_SENDFILE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV}


def copy_atomically(source: BinaryIO, dest: PathLike) -> int:
    """Copy the whole local file open as ``source`` to ``dest``: into a temp file next to
    it (``O_EXCL``, ``O_NOFOLLOW``), ``fsync``, then ``rename`` over ``dest``; on any error
    the temp is removed and ``dest`` untouched. ``source`` must be a regular file whose
    bytes were already verified. Returns the size copied.

    Raises:
        PermissionDeniedError: ``dest`` is a symlink (never written through).
        StorageError: the destination (or the source file) failed.
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
            size = _copy(source, out)
            out.flush()
            os.fsync(fd)
        os.replace(tmp, dest_path)
    except BaseException as exc:
        unlink_quietly(tmp)
        if isinstance(exc, OSError):
            raise storage_error("cannot write", exc.filename or dest_path, exc) from exc
        raise
    return size


def _copy(source: BinaryIO, out: BinaryIO) -> int:
    """Copy ``source`` from its start to ``out``; return the bytes copied."""
    total = os.fstat(source.fileno()).st_size
    offset = 0
    sendfile = getattr(os, "sendfile", None)
    while sendfile is not None and offset < total:
        try:
            sent = sendfile(out.fileno(), source.fileno(), offset, total - offset)
        except OSError as exc:
            if exc.errno not in _NO_SENDFILE:
                raise
            break
        if sent == 0:  # the file shrank under us: copy what is left the slow way
            break
        offset += sent
    source.seek(offset)
    out.seek(offset)
    shutil.copyfileobj(source, out)
    return out.tell()
