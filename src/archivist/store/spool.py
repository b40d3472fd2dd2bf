"""Spools: local temp files a stream is copied to while it is hashed (the bytes a store
then uploads are exactly the bytes that were hashed; a stream cannot be read twice).

Every spool lives in one folder (:func:`spool_folder`: ``<temp folder>/archivist-spools``
unless a server names its own) and is named for its owner,
``archivist-upload-<host>-<pid>-<random>``: a process killed mid-upload (``kill -9``)
leaves its spool behind, and any later process on that host can tell it is nobody's
(:func:`owner_gone`). A server reclaims such spools when it starts, ``gc`` reclaims them
(they are temp files of an object store: :meth:`FsspecBlobs.temp_files`), and
``verify`` reports them.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
import zlib
from collections.abc import Iterator

from archivist.errors import StorageError
from archivist.store.fscalls import unlink_quietly
from archivist.store.hashing import READ_SIZE, HashingReader, Readable

SPOOL_PREFIX = "archivist-upload-"
#: Seconds after which a spool of a process that seems alive is listed all the same.
OLD_SPOOL = 3600.0
_OWNED = re.compile(r"(?:archivist-upload-)?([0-9a-f]{8})-(\d+)-")


def host_tag() -> str:
    """8 hex digits naming this host (in spool and temp file names)."""
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def owner_tag() -> str:
    """``<host>-<pid>-``: what starts the name of a temp file this process owns."""
    return f"{host_tag()}-{os.getpid()}-"


def owner_gone(name: str) -> bool:
    """Whether the file ``name`` (a basename) was made by a process of this host that no
    longer runs. Unknown names, and other hosts' files, are never "gone" (their age
    decides)."""
    match = _OWNED.match(name)
    if match is None or match.group(1) != host_tag():
        return False
    pid = int(match.group(2))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, someone else's
        return False
    return False


def spool_folder(folder: str | None = None) -> str:
    """``folder``, or ``<temp folder>/archivist-spools``; made (0700) if missing.

    Raises:
        StorageError: it cannot be made.
    """
    path = folder or os.path.join(tempfile.gettempdir(), "archivist-spools")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot make the spool folder {path}: {exc.strerror or exc}",
                           path=path) from exc
    return path


def new_spool(folder: str | None = None) -> tuple[int, str]:
    """A new spool ``(fd, path)`` of this process in :func:`spool_folder`.

    Raises:
        StorageError: it cannot be made.
    """
    where = spool_folder(folder)
    try:
        return tempfile.mkstemp(prefix=SPOOL_PREFIX + owner_tag(), dir=where)
    except OSError as exc:
        raise StorageError(f"cannot make a spool in {where}: {exc.strerror or exc}",
                           path=where) from exc


def spools(folder: str | None = None) -> list[tuple[str, float]]:
    """``(path, mtime)`` of the spools in the folder that may be leftovers: those whose
    owner is gone (``mtime`` ``0.0``: as stale as a file can be) and those an hour old
    or more (an owner on another host, or a pid reused). A young spool of a live process
    is an upload in progress, not listed."""
    where = folder or os.path.join(tempfile.gettempdir(), "archivist-spools")
    found: list[tuple[str, float]] = []
    now = time.time()
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(where):
            if not entry.name.startswith(SPOOL_PREFIX):
                continue
            with contextlib.suppress(FileNotFoundError):
                mtime = entry.stat(follow_symlinks=False).st_mtime
                if owner_gone(entry.name[len(SPOOL_PREFIX):]):
                    found.append((entry.path, 0.0))
                elif now - mtime >= OLD_SPOOL:
                    found.append((entry.path, mtime))
    return sorted(found)


def is_spool(path: str, folder: str | None = None) -> bool:
    """Whether ``path`` names a spool in the folder (so removing it is a spool's
    reclaim, not a path chosen by a caller)."""
    where = folder or os.path.join(tempfile.gettempdir(), "archivist-spools")
    return (os.path.dirname(os.path.abspath(path)) == os.path.abspath(where)
            and os.path.basename(path).startswith(SPOOL_PREFIX))


def reclaim_spools(folder: str | None = None) -> list[str]:
    """Remove the spools whose owner is gone; their paths."""
    gone = [path for path, mtime in spools(folder) if mtime == 0.0]
    for path in gone:
        unlink_quietly(path)
    return gone


@contextlib.contextmanager
def spooled(fileobj: Readable, *, folder: str | None = None) -> Iterator[tuple[str, str, int]]:
    """Copy ``fileobj`` to a new spool while hashing it; yield ``(path, digest, size)``.

    The file is removed when the block ends, whatever happens in it.

    Raises:
        StorageError: the spool could not be written or read back (an ``OSError``, also
            one raised by ``fileobj`` or inside the block), naming the spool's path.
    """
    fd, spool = new_spool(folder)
    try:
        reader = HashingReader(fileobj)
        with os.fdopen(fd, "wb") as out:
            while chunk := reader.read(READ_SIZE):
                out.write(chunk)
        yield spool, reader.digest, reader.size
    except OSError as exc:
        raise StorageError(f"cannot spool a stream to {spool}: {exc.strerror or exc}",
                           path=spool) from exc
    finally:
        unlink_quietly(spool)
