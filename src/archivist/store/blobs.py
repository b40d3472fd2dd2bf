"""Content-addressed blobs: the :class:`Blobs` contract and :class:`FsspecBlobs`.

A blob is a file's exact bytes (no compression, no framing) stored once under its digest
at ``<root>/sha256/ab/cdef…`` (STYLE P9). :func:`archivist.store.stores.open_blobs` picks
the store a target names: a local folder is a
:class:`~archivist.store.localfs.LocalBlobs` (plain ``os`` calls, because fsspec's
``LocalFileSystem`` cannot ``fsync``); any other fsspec URL (``s3://bucket/prefix``,
``gs://…``, ``memory://`` in tests) is an :class:`FsspecBlobs`: the bytes are spooled to a
local temp file while being hashed, the store is asked whether it has the digest, and
only then is the object uploaded to its final key (an object PUT is atomic; a duplicate
PUT writes the same bytes). Either way the digest is of the bytes stored, never of a
second read of the source. Shared object stores are tuned in
:mod:`archivist.store.objectstore`. The two stores share no code by inheritance: what is
common to every store is a function here (:func:`fetch_to`, :func:`rehash`,
:func:`hint_list`). It is one module of a little over 400 lines on purpose: the
contract and its fsspec implementation are checked against each other, side by side.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, BinaryIO, Literal, Protocol

from archivist._extras import missing_driver
from archivist._types import PathLike
from archivist.errors import (
    IntegrityError,
    InvalidInputError,
    PermissionDeniedError,
    StorageError,
)
from archivist.store.fscalls import (
    missing_bytes,
    open_regular,
    storage_error,
    unlink_quietly,
    write_atomically,
)
from archivist.store.hashing import (
    DIGEST_RE,
    READ_SIZE,
    Readable,
    check_digest,
    hash_bytes,
    verifying_reader,
)
from archivist.store.objectstore import (
    READ_BLOCK,
    abort_multipart,
    bound_retries,
    multipart_uploads,
    object_exists,
    open_options,
    remote_errors,
    store_clock,
    unreachable,
    upload_options,
)
from archivist.store.spool import is_spool, spooled, spools

CheckResult = Literal["ok", "corrupt", "missing", "suspicious"]


class Blobs(Protocol):
    """The blob store contract, documented once (STYLE P4, A2).

    Every method taking a ``digest`` first checks its form and raises
    ``InvalidInputError`` for anything but ``sha256:<64 lowercase hex>``. No method lets an
    ``OSError`` escape: store-side failures are ``StorageError`` naming the path and the
    errno text. Puts are idempotent and atomic: on any failure nothing is visible under
    the digest and no temp file is left behind.
    """

    def put_file(self, path: PathLike, *, digest: str | None = None) -> tuple[str, int]:
        """Store a regular file (symlinks to it are followed); return ``(digest, size)``.

        ``digest`` is a hint (e.g. from the hash cache): if that blob is present, nothing
        is read (cost: one ``stat``). Otherwise the file is copied and hashed in one pass,
        and the digest returned is of the bytes copied.

        Raises:
            InvalidInputError: ``path`` is missing or not a regular file (FIFOs, devices
                and sockets are refused without being read).
            PermissionDeniedError: ``path`` cannot be read.
            StorageError: the store failed.
        """
        ...

    def put_bytes(self, data: bytes | bytearray | memoryview) -> tuple[str, int]:
        """Store ``data``; return ``(digest, size)``. Raises ``StorageError``."""
        ...

    def put_stream(self, fileobj: Readable) -> tuple[str, int]:
        """Store what ``fileobj.read`` returns until EOF, in bounded memory; return
        ``(digest, size)``. Raises ``StorageError`` (also if ``fileobj`` raises ``OSError``)."""
        ...

    def put_many_files(self, paths: Sequence[PathLike], *,
                       digests: Sequence[str | None] | None = None) -> list[tuple[str, int]]:
        """Store many files (a directory's worth) at once; return ``(digest, size)`` each.

        Symlinks are not followed. ``digests`` (parallel to ``paths``) are hints as in
        :meth:`put_file`. Either every file is stored, or an error is raised and no temp
        file is left (blobs already landed are complete, correct and harmless).

        Raises:
            InvalidInputError: an entry is missing, a symlink or not a regular file.
            PermissionDeniedError: an entry cannot be read.
            StorageError: the store failed.
        """
        ...

    def open(self, digest: str) -> BinaryIO:
        """Open a blob for reading; the reader rehashes as it goes.

        Raises:
            IntegrityError: the bytes are missing, the blob path is a symlink or not a
                regular file, or — when the last bytes are read — the content does not
                hash to ``digest`` (the error names the digest and the path).
            StorageError: the store failed.
        """
        ...

    def fetch_to(self, digest: str, dest: PathLike) -> int:
        """Copy a blob to the local file ``dest``, verified; return its size.

        Written to a temp file next to ``dest`` and renamed over it only once the digest
        matched; ``dest`` is never written through a symlink.

        Raises:
            IntegrityError: as for :meth:`open`; ``dest`` is left untouched.
            PermissionDeniedError: ``dest`` is a symlink.
            StorageError: the store or the destination failed.
        """
        ...

    def path(self, digest: str) -> str:
        """Where the blob lives: a local path or a URL (``Artifact.storage_path``)."""
        ...

    def local_path(self, digest: str) -> str | None:
        """The blob's local file when the store is a local folder, else ``None``. Raises
        ``IntegrityError`` if it is missing, a symlink or not a regular file."""
        ...

    def local_root(self) -> str | None:
        """The store's folder when it is local (downloads must not land in it), else
        ``None``."""
        ...

    def exists(self, digest: str) -> bool:
        """Whether the blob is present (a regular file, for a local store)."""
        ...

    def missing(self, digests: Sequence[str]) -> set[str]:
        """Those of ``digests`` that are not present: what a registration checks after its
        commit, in case a racing gc freed a blob it landed or found present. Answers as
        :meth:`exists` would for each; a local store answers for the blobs its last
        :meth:`put_many_files` found present with one ``stat`` per fan-out folder, a
        catalog server for a thousand digests per request."""
        ...

    def size(self, digest: str) -> int:
        """Size in bytes. Raises ``IntegrityError`` if the bytes are missing."""
        ...

    def mtime(self, digest: str) -> float:
        """Last-modified time (epoch seconds), for gc's grace period.

        Raises ``IntegrityError`` if the bytes are missing."""
        ...

    def clock(self) -> float:
        """Now on the clock :meth:`mtime` and :meth:`temp_files` are stamped with (gc's
        ages: skew-proof). Raises ``StorageError`` if the store cannot be reached."""
        ...

    def check(self, digest: str) -> CheckResult:
        """Rehash: ``"ok"``, ``"corrupt"``, ``"missing"`` or ``"suspicious"`` (a symlink or
        other non-regular file where a blob should be). Raises ``StorageError``."""
        ...

    def delete(self, digest: str) -> None:
        """Remove a blob; a missing blob is not an error. Raises ``StorageError``."""
        ...

    def iter_digests(self) -> Iterator[str]:
        """Every digest present, in no particular order. Raises ``StorageError``."""
        ...

    def temp_files(self) -> list[tuple[str, float]]:
        """Temp files left by interrupted puts, as ``(path, mtime)``, for gc."""
        ...

    def remove_temp(self, path: str) -> None:
        """Remove one entry of :meth:`temp_files`.

        Raises:
            PermissionDeniedError: ``path`` is not a temp file of this store.
            StorageError: the store failed.
        """
        ...


class FsspecBlobs:
    """A :class:`Blobs` store on an fsspec filesystem: object stores and ``memory://``.

    Obtain it with :func:`~archivist.store.stores.open_blobs` (which gives a local folder
    the fast :class:`~archivist.store.localfs.LocalBlobs` instead), or directly::

        blobs = FsspecBlobs("s3://bucket/archivist", storage_options={"anon": False})

    Args:
        target: any fsspec URL.
        storage_options: passed to the fsspec filesystem (endpoint, credentials…).

    Raises:
        InvalidInputError: an fsspec URL it cannot parse.
        MissingDependencyError: the fsspec driver for the URL is not installed.
    """

    def __init__(self, target: PathLike, *,
                 storage_options: Mapping[str, Any] | None = None) -> None:
        try:
            import fsspec

            self._fs, root = fsspec.core.url_to_fs(
                os.fspath(target), **open_options(storage_options, os.fspath(target)))
        except ImportError:
            raise missing_driver(os.fspath(target),
                                 purpose=f"the blob store {os.fspath(target)!r}") from None
        except ValueError as exc:
            raise InvalidInputError(f"unsupported blob store URL {os.fspath(target)!r}: "
                                    f"{exc}") from exc
        bound_retries(self._fs)
        self.url = os.fspath(target)
        self._root = str(root).rstrip("/")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # -- layout ---------------------------------------------------------------------------
    def _key(self, digest: str) -> str:
        hexd = check_digest(digest)[7:]
        return f"{self._root}/sha256/{hexd[:2]}/{hexd[2:]}"

    def path(self, digest: str) -> str:
        return str(self._fs.unstrip_protocol(self._key(digest)))

    def local_path(self, digest: str) -> str | None:
        check_digest(digest)
        return None

    def local_root(self) -> str | None:
        return None

    # -- writes ---------------------------------------------------------------------------
    def put_bytes(self, data: bytes | bytearray | memoryview) -> tuple[str, int]:
        data = bytes(data)  # a bytearray could change between hashing and upload
        digest = hash_bytes(data)
        if not self.exists(digest):
            with remote_errors(self.path(digest), uploading=True):
                self._fs.pipe_file(self._key(digest), data)
            self._check_uploaded(digest, len(data))
        return digest, len(data)

    def put_stream(self, fileobj: Readable) -> tuple[str, int]:
        with spooled(fileobj) as (spool, digest, size):
            if not self.exists(digest):
                with remote_errors(self.path(digest), uploading=True):
                    self._fs.put_file(spool, self._key(digest), **upload_options(self._fs, size))
                self._check_uploaded(digest, size)
        return digest, size

    def put_file(self, path: PathLike, *, digest: str | None = None) -> tuple[str, int]:
        return self._put_path(path, digest, follow=True)

    def put_many_files(self, paths: Sequence[PathLike], *,
                       digests: Sequence[str | None] | None = None) -> list[tuple[str, int]]:
        # Every entry is opened once before the first upload, so a missing, special or
        # unreadable one is refused with nothing sent (a local store hashes all first).
        for path in paths:
            os.close(open_regular(path, follow=False))
        return [self._put_path(path, hint, follow=False)
                for path, hint in zip(paths, hint_list(paths, digests), strict=True)]

    def _put_path(self, path: PathLike, hint: str | None, *, follow: bool) -> tuple[str, int]:
        if hint is not None and self.exists(hint):
            return hint, self.size(hint)
        with os.fdopen(open_regular(path, follow=follow), "rb") as src:
            return self.put_stream(src)

    def _check_uploaded(self, digest: str, size: int) -> None:
        if self.size(digest) != size:
            self.delete(digest)
            raise StorageError(f"upload of {self.path(digest)} was truncated", digest=digest)

    # -- reads ----------------------------------------------------------------------------
    def _info(self, digest: str) -> dict[str, Any]:
        try:
            return dict(self._fs.info(self._key(digest)))
        except FileNotFoundError:
            raise missing_bytes(digest, self.path(digest)) from None
        except Exception as exc:
            down = unreachable(self.path(digest), exc)
            if down is not None:
                raise down from exc
            if isinstance(exc, OSError):
                raise storage_error("cannot stat", self.path(digest), exc) from exc
            raise

    def exists(self, digest: str) -> bool:
        with remote_errors(self.path(digest)):
            return object_exists(self._fs, self._key(digest))

    def missing(self, digests: Sequence[str]) -> set[str]:
        return {d for d in digests if not self.exists(d)}

    def size(self, digest: str) -> int:
        return int(self._info(digest)["size"])

    def mtime(self, digest: str) -> float:
        info = self._info(digest)
        # Each fsspec driver names it differently (s3fs, gcsfs, adlfs, memory).
        for value in (info.get(k) for k in ("mtime", "LastModified", "updated",
                                            "last_modified", "created")):
            if isinstance(value, str):
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if isinstance(value, datetime):
                return value.timestamp()
            if isinstance(value, int | float):
                return float(value)
        raise StorageError(f"the store reports no modification time for {self.path(digest)}")

    def clock(self) -> float:
        return store_clock(self._fs, self._root)

    def open(self, digest: str) -> BinaryIO:
        size = self.size(digest)
        with remote_errors(self.path(digest)):
            f = self._fs.open(self._key(digest), "rb", block_size=READ_BLOCK)
        return verifying_reader(f, digest, self.path(digest), size)

    def check(self, digest: str) -> CheckResult:
        try:
            return rehash(self, digest)
        except IntegrityError:  # raised by open(): nothing there
            return "missing"

    def iter_digests(self) -> Iterator[str]:
        with remote_errors(f"{self._root}/sha256"):
            keys = self._fs.find(f"{self._root}/sha256")
        for key in keys:
            parts = str(key).rstrip("/").split("/")
            candidate = f"sha256:{parts[-2]}{parts[-1]}" if len(parts) >= 2 else ""
            if DIGEST_RE.fullmatch(candidate):
                yield candidate

    def delete(self, digest: str) -> None:
        try:
            self._fs.rm_file(self._key(digest))
        except FileNotFoundError:
            pass
        except Exception as exc:
            down = unreachable(self.path(digest), exc)
            if down is not None:
                raise down from exc
            if isinstance(exc, OSError):
                raise storage_error("cannot delete", self.path(digest), exc) from exc
            raise

    def temp_files(self) -> list[tuple[str, float]]:
        # Uploads go straight to their final key; what a killed uploader leaves is its
        # local spool, and on S3 an unfinished multipart upload (parts billed, unseen).
        return spools() + multipart_uploads(self._fs, self._root)

    def remove_temp(self, path: str) -> None:
        if is_spool(path):
            unlink_quietly(path)
            return
        if not abort_multipart(self._fs, self._root, path):
            raise PermissionDeniedError(f"{path!r} is not a temp file of {self.url}")

    def fetch_to(self, digest: str, dest: PathLike) -> int:
        return fetch_to(self, digest, dest)


def fetch_to(blobs: Blobs, digest: str, dest: PathLike) -> int:
    """``Blobs.fetch_to`` as every store does it: read through the verifying reader into
    a temp file beside ``dest``, renamed over it only once the digest matched."""
    with blobs.open(digest) as source:  # IntegrityError at the end leaves dest untouched
        return write_atomically(dest, source)


def hint_list(paths: Sequence[PathLike],
              digests: Sequence[str | None] | None) -> list[str | None]:
    """The ``digests`` hints of ``put_many_files``, one per path.

    Raises:
        InvalidInputError: not as many hints as paths.
    """
    hints: list[str | None] = list(digests) if digests is not None else [None] * len(paths)
    if len(hints) != len(paths):
        raise InvalidInputError(f"{len(hints)} digests for {len(paths)} paths")
    return hints


def rehash(blobs: Blobs, digest: str) -> CheckResult:
    """Read a blob through its verifying reader; errors of ``open`` propagate."""
    reader = blobs.open(digest)
    try:
        with reader:
            while reader.read(READ_SIZE):
                pass
    except IntegrityError:
        return "corrupt"
    return "ok"
