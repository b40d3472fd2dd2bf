"""How the blob store talks to object stores (S3 and other non-local fsspec filesystems).

A remote store is shared: other processes and servers land and free blobs in it, so its
filesystem is opened with ``use_listings_cache=False``: a cached listing calls a blob that
another writer has just landed missing (C12 on PostgreSQL + S3, a registration racing gc,
failed 3 runs of 6 with s3fs's cache on, none with it off). Transfers run in bounded
pieces: S3 uploads are multipart in :data:`PART_SIZE` parts, :data:`PARTS_IN_FLIGHT` at a
time (s3fs's defaults read a file under 100 MB whole, and ten 50 MB parts at once above
that: 57 MB of client memory for a 64 MB file, against none measurable with these), and
reads fetch :data:`READ_BLOCK` at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from archivist.errors import IntegrityError
from archivist.store.fscalls import storage_error

PART_SIZE = 8 * 1024 * 1024  # S3's minimum is 5 MiB; an upload holds ~2 parts in memory
MAX_PARTS = 10_000  # S3's limit: parts grow past 8 MiB for objects over ~78 GiB
PARTS_IN_FLIGHT = 2
READ_BLOCK = 8 * 1024 * 1024


def open_options(storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fsspec options a store opens its filesystem with; the caller's win."""
    return {"use_listings_cache": False, **(storage_options or {})}


def is_s3(fs: Any) -> bool:
    """Whether ``fs`` is s3fs (which takes multipart upload options)."""
    protocols = fs.protocol
    return "s3" in ((protocols,) if isinstance(protocols, str) else protocols)


def object_exists(fs: Any, path: str) -> bool:
    """Whether the object ``path`` exists: on S3 one HEAD (s3fs's ``exists`` follows a
    miss with a listing, in case the path is a "directory"; a blob key never is)."""
    if not is_s3(fs):
        return bool(fs.exists(path))
    bucket, key, _version = fs.split_path(path)
    try:
        fs.call_s3("head_object", Bucket=bucket, Key=key)
    except FileNotFoundError:
        return False
    return True


def upload_options(fs: Any, size: int) -> dict[str, int]:
    """Extra ``put_file`` arguments for an upload of ``size`` bytes to ``fs``."""
    if not is_s3(fs):
        return {}
    return {"chunksize": max(PART_SIZE, -(-size // MAX_PARTS)),
            "max_concurrency": PARTS_IN_FLIGHT}


@contextmanager
def remote_errors(where: str) -> Iterator[None]:
    """As :func:`~archivist.store.fscalls.storage_errors`, but a missing object is
    missing bytes.

    Raises:
        IntegrityError: the object is not there.
        StorageError: any other failure of the store.
    """
    try:
        yield
    except FileNotFoundError as exc:
        raise IntegrityError(f"bytes missing at {where}", path=where) from exc
    except OSError as exc:
        raise storage_error("blob store failed at", where, exc) from exc
