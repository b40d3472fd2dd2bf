"""A stream copied to a local temp file while it is hashed: the bytes a store then uploads
are exactly the bytes that were hashed (a stream cannot be read twice)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from archivist.errors import StorageError
from archivist.store.fscalls import unlink_quietly
from archivist.store.hashing import READ_SIZE, HashingReader, Readable


@contextlib.contextmanager
def spooled(fileobj: Readable, *,
            prefix: str = "archivist-spool-") -> Iterator[tuple[str, str, int]]:
    """Copy ``fileobj`` to a temp file while hashing it; yield ``(path, digest, size)``.

    The file is removed when the block ends, whatever happens in it.

    Raises:
        StorageError: the spool could not be written or read back (an ``OSError``, also
            one raised by ``fileobj`` or inside the block), naming the spool's path.
    """
    fd, spool = tempfile.mkstemp(prefix=prefix)
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
