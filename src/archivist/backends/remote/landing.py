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
import shutil
from typing import BinaryIO

from archivist._types import PathLike
from archivist.store.fscalls import write_atomically

# errors after which sendfile is given up for a plain read/write copy
_NO_SENDFILE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV}


def copy_atomically(source: BinaryIO, dest: PathLike) -> int:
    """Copy the whole local file open as ``source`` to ``dest`` with
    :func:`~archivist.store.fscalls.write_atomically` (temp next to it, ``fsync``,
    ``rename``), the bytes moved by the kernel. ``source`` must be a regular file whose
    bytes were already verified. Returns the size copied.

    Raises:
        PermissionDeniedError: ``dest`` is a symlink (never written through).
        StorageError: the destination (or the source file) failed.
    """
    return write_atomically(dest, source, copy=_copy)


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
