"""Handing a file whose digest is already known to a blob store without copying it again.

The catalog server spools an upload to a temp file while hashing it, and stores it only
once the digest is the one the URL names. ``put_file`` would then read, hash and write
every byte a second time (and an object store spools it once more before uploading).
Here instead:

* a local store (:class:`~archivist.store.localfs.LocalBlobs`): the upload is spooled in
  the store's own temp folder (:func:`upload_temp`), so :func:`adopt` fsyncs it and links
  it under its digest, exactly as the store lands its own temps (atomic, no clobber,
  directories fsync'd); a spool on another filesystem is copied as before;
* an fsspec store (S3…): the spool is uploaded as it is, then its size is checked;
* any other store: ``put_file``.

The caller vouches for ``digest``: it hashed exactly the bytes it wrote to the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from archivist.store.blobs import Blobs, FsspecBlobs
from archivist.store.fscalls import storage_errors
from archivist.store.localfs import LocalBlobs, _Spooled
from archivist.store.objectstore import remote_errors, upload_options
from archivist.store.spool import new_spool


@contextlib.contextmanager
def upload_temp(blobs: Blobs, folder: str | None) -> Iterator[tuple[int, str]]:
    """A new temp file ``(fd, path)`` open for writing, where :func:`adopt` can take it
    without a copy: a local store's temp folder unless ``folder`` is given, else a
    spool in ``folder`` (or the spool folder, :mod:`archivist.store.spool`). The fd is
    closed after the block; the file is removed if the block fails (and by the caller
    once adopted or refused).

    Raises:
        StorageError: the temp file cannot be made.
    """
    if isinstance(blobs, LocalBlobs) and folder is None:
        with storage_errors(blobs.root), blobs._temp() as made:
            yield made
        return
    fd, path = new_spool(folder)
    try:
        yield fd, path
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def adopt(blobs: Blobs, path: str, digest: str, size: int) -> tuple[str, int]:
    """Store the file at ``path`` (``size`` bytes hashing to ``digest``) under its digest;
    return ``(digest, size)``. A local store takes the file itself (it is gone from
    ``path`` afterwards); other stores read it.

    Raises:
        StorageError: the store failed (nothing is visible under the digest).
    """
    if isinstance(blobs, LocalBlobs):
        if os.path.dirname(path) == blobs._tmp_dir:
            with storage_errors(blobs.root):
                if blobs._present_size(digest) != size:
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        os.fsync(fd)  # the bytes are durable before their name is
                    finally:
                        os.close(fd)
                blobs._commit([_Spooled(digest, size, path)], sync=True)
            return digest, size
        return blobs.put_file(path, digest=digest)
    if type(blobs) is FsspecBlobs:
        if not blobs.exists(digest):
            with remote_errors(blobs.path(digest)):
                blobs._fs.put_file(path, blobs._key(digest), **upload_options(blobs._fs, size))
            blobs._check_uploaded(digest, size)
        return digest, size
    return blobs.put_file(path, digest=digest)
