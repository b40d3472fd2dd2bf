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

import contextlib
import copy
import email.utils
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from archivist.errors import IntegrityError, StorageError, StorageUnavailableError
from archivist.store.fscalls import storage_error

PART_SIZE = 8 * 1024 * 1024  # S3's minimum is 5 MiB; an upload holds ~2 parts in memory
MAX_PARTS = 10_000  # S3's limit: parts grow past 8 MiB for objects over ~78 GiB
PARTS_IN_FLIGHT = 2
READ_BLOCK = 8 * 1024 * 1024


#: botocore's settings for an S3 store: a store that is down fails in ~2 s, not the
#: 3 to 13 s of the defaults (5 s connect, 5 attempts); a read that stalls in 15 s.
S3_CONFIG = {"connect_timeout": 2, "read_timeout": 15,
             "retries": {"max_attempts": 2, "mode": "standard"}}
#: s3fs's own retries of a timed-out or cut request (its default: 5).
S3_RETRIES = 2
S3_SCHEMES = ("s3", "s3a")
#: Exception class names (in botocore, aiohttp, fsspec) that mean "cannot reach the store".
_UNREACHABLE = {"ConnectionError", "HTTPClientError", "ClientConnectionError",
                "ServerTimeoutError", "FSTimeoutError"}


def open_options(storage_options: Mapping[str, Any] | None,
                 url: str = "") -> dict[str, Any]:
    """The fsspec options a store opens its filesystem with; the caller's win (for S3,
    bounded timeouts and retries: :data:`S3_CONFIG`)."""
    options: dict[str, Any] = {"use_listings_cache": False}
    if url.split("://", 1)[0].lower() in S3_SCHEMES:
        config = copy.deepcopy(S3_CONFIG)  # botocore adds to the nested dicts it is given
        config.update((storage_options or {}).get("config_kwargs") or {})
        options["config_kwargs"] = config
    return {**options, **{k: v for k, v in (storage_options or {}).items()
                          if k != "config_kwargs"}}


def bound_retries(fs: Any) -> None:
    """Give an S3 filesystem :data:`S3_RETRIES` retries of its own."""
    if is_s3(fs):
        fs.retries = S3_RETRIES


def unreachable(where: str, exc: BaseException) -> StorageUnavailableError | None:
    """The error for ``exc`` when it says the store cannot be reached (refused, timed
    out, cut), else ``None``. The endpoint's address stays out of the message."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, ConnectionError | TimeoutError) or names & _UNREACHABLE:
        return StorageUnavailableError(
            f"the blob store is unavailable (cannot reach it: {type(exc).__name__}) at "
            f"{where}; retry later", path=where)
    return None


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


def multipart_uploads(fs: Any, root: str) -> list[tuple[str, float]]:
    """Unfinished S3 multipart uploads under ``root`` (a killed uploader's), as temp
    files: ``("s3://bucket/key?uploadId=…", last activity)``; none on other stores.

    An upload's last activity is the newest of its initiation and its parts' upload
    times, all on the store's clock: an upload still adding parts is young however long
    ago it began, and so is one whose store misdates ``Initiated`` (moto dates every
    upload 2010-11-10) as soon as it has a part.

    Raises:
        StorageError: the store cannot list them.
    """
    if not is_s3(fs):
        return []
    bucket, prefix, _version = fs.split_path(root)
    found: list[tuple[str, float]] = []
    with remote_errors(root):
        answer: dict[str, Any] = {"IsTruncated": True}
        marker: dict[str, str] = {}
        while answer.get("IsTruncated"):
            answer = fs.call_s3("list_multipart_uploads", Bucket=bucket,
                                Prefix=prefix.rstrip("/") + "/" if prefix else "", **marker)
            for upload in answer.get("Uploads", []):
                found.append((f"s3://{bucket}/{upload['Key']}?uploadId={upload['UploadId']}",
                              _last_activity(fs, bucket, upload)))
            marker = {"KeyMarker": answer.get("NextKeyMarker", ""),
                      "UploadIdMarker": answer.get("NextUploadIdMarker", "")}
    return found


def _last_activity(fs: Any, bucket: str, upload: dict[str, Any]) -> float:
    newest = float(upload["Initiated"].timestamp())
    marker: dict[str, int] = {}
    while True:
        try:
            answer = fs.call_s3("list_parts", Bucket=bucket, Key=upload["Key"],
                                UploadId=upload["UploadId"], **marker)
        except FileNotFoundError:  # completed or aborted since the listing
            return newest
        for part in answer.get("Parts", []):
            newest = max(newest, part["LastModified"].timestamp())
        if not answer.get("IsTruncated"):
            return newest
        marker = {"PartNumberMarker": int(answer["NextPartNumberMarker"])}


def store_clock(fs: Any, root: str) -> float:
    """The store's current time (epoch seconds): on S3 the ``Date`` header of a request,
    the clock its ``LastModified`` times are stamped with, whatever this machine's says;
    other stores (memory://) stamp with this machine's clock, and so does an S3 store
    that does not say (or does not let us ask the bucket).

    Raises:
        StorageError: the store cannot be reached.
    """
    if not is_s3(fs):
        return time.time()
    bucket, _key, _version = fs.split_path(root)
    with remote_errors(root):
        try:
            answer = fs.call_s3("head_bucket", Bucket=bucket)
        except PermissionError:  # allowed objects but not the bucket
            return time.time()
    date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return time.time()


def abort_multipart(fs: Any, root: str, path: str) -> bool:
    """Abort the multipart upload ``path`` names (as :func:`multipart_uploads` lists
    it); ``False`` when ``path`` names none under ``root``.

    Raises:
        StorageError: the store refused.
    """
    if not is_s3(fs) or "?uploadId=" not in path:
        return False
    location, upload_id = path.split("?uploadId=", 1)
    bucket, prefix, _version = fs.split_path(root)
    where, key, _version = fs.split_path(location)
    if where != bucket or not key.startswith(prefix.rstrip("/") + "/"):
        return False
    with remote_errors(path), contextlib.suppress(FileNotFoundError):
        fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)
    return True


def upload_options(fs: Any, size: int) -> dict[str, int]:
    """Extra ``put_file`` arguments for an upload of ``size`` bytes to ``fs``."""
    if not is_s3(fs):
        return {}
    return {"chunksize": max(PART_SIZE, -(-size // MAX_PARTS)),
            "max_concurrency": PARTS_IN_FLIGHT}


@contextmanager
def remote_errors(where: str, *, uploading: bool = False) -> Iterator[None]:
    """As :func:`~archivist.store.fscalls.storage_errors`, but a missing object is
    missing bytes.

    ``uploading``: nothing is read, so "not found" cannot mean missing bytes. It is the
    store losing the upload: S3 acted on a request whose answer was lost, and s3fs's
    retry of ``complete``/``abort`` then finds no upload (``NoSuchUpload``).

    Raises:
        IntegrityError: the object is not there (not ``uploading``).
        StorageUnavailableError: the store cannot be reached.
        StorageError: any other failure of the store.
    """
    try:
        yield
    except FileNotFoundError as exc:
        if uploading:
            raise StorageError(f"the upload to {where} failed: the store no longer knows "
                               f"it ({exc}); retry", path=where) from exc
        raise IntegrityError(f"bytes missing at {where}", path=where) from exc
    except Exception as exc:
        down = unreachable(where, exc)
        if down is not None:
            raise down from exc
        if isinstance(exc, OSError):
            raise storage_error("blob store failed at", where, exc) from exc
        raise
