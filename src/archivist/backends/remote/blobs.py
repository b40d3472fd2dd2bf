"""``RemoteBlobs``: the :class:`~archivist.store.blobs.Blobs` contract over a catalog
server's blob routes, for one project.

Uploads hash locally first and ask the server by digest (``HEAD``, or
``POST …/blobs/missing`` for many), so a blob the server has is never sent again; what
is sent streams from disk (``PUT`` with a chunk iterator: memory stays flat) and the
server re-hashes it before it becomes visible. Downloads stream too, verified against the
digest, through a local :class:`~archivist.backends.remote.cache.BlobCache` so the same
blob is fetched once. Freeing blobs is the server's work (``catalog.gc()`` asks it), so
:meth:`delete` refuses.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from email.utils import parsedate_to_datetime
from typing import BinaryIO

import httpx

from archivist._types import PathLike
from archivist.backends.remote.cache import BlobCache
from archivist.backends.remote.download import ChunkReader, Download
from archivist.backends.remote.landing import copy_atomically
from archivist.backends.remote.transport import API, Transport, segment
from archivist.errors import (
    ArtifactNotFoundError,
    IntegrityError,
    InvalidInputError,
    PermissionDeniedError,
    StorageError,
)
from archivist.store.blobs import CheckResult, hint_list
from archivist.store.fscalls import missing_bytes, open_regular, unlink_quietly, write_atomically
from archivist.store.hashing import (
    READ_SIZE,
    HashingReader,
    Readable,
    check_digest,
    hash_bytes,
    verifying_reader,
)
from archivist.store.spool import spooled

MISSING_BATCH = 1000  # digests per POST …/blobs/missing


class RemoteBlobs:
    """The blob store of one project on a catalog server.

    Obtain it from the backend: ``RemoteCatalogBackend(url).blobs_for("team")``.

    Args:
        transport: the server connection.
        project: the project whose blobs these are.
        cache: where downloads are kept (``None``: nothing is cached).
    """

    def __init__(self, transport: Transport, project: str, cache: BlobCache | None) -> None:
        self.transport = transport
        self.project = project
        self.cache = cache

    def __repr__(self) -> str:
        return f"RemoteBlobs({self.transport.base_url!r}, project={self.project!r})"

    def _route(self, digest: str) -> str:
        return f"{API}/projects/{segment(self.project)}/blobs/{check_digest(digest)}"

    def path(self, digest: str) -> str:
        return self.transport.url(self._route(digest))

    def local_path(self, digest: str) -> str | None:
        check_digest(digest)
        return None

    def local_root(self) -> str | None:
        return None

    # -- asking by digest -----------------------------------------------------------------
    def _head(self, digest: str) -> httpx.Response | None:
        try:
            return self.transport.request("HEAD", self._route(digest))
        except ArtifactNotFoundError:
            return None

    def exists(self, digest: str) -> bool:
        return self._head(digest) is not None

    def size(self, digest: str) -> int:
        response = self._head(digest)
        if response is None:
            raise missing_bytes(digest, self.path(digest))
        length = response.headers.get("Content-Length", "")
        if not length.isdigit():
            raise StorageError(f"the server gave no size for {self.path(digest)}")
        return int(length)

    def mtime(self, digest: str) -> float:
        response = self._head(digest)
        if response is None:
            raise missing_bytes(digest, self.path(digest))
        try:
            return parsedate_to_datetime(response.headers["Last-Modified"]).timestamp()
        except (KeyError, TypeError, ValueError):
            raise StorageError("the server reports no modification time for "
                               f"{self.path(digest)}") from None

    def missing(self, digests: Sequence[str]) -> set[str]:
        """Those of ``digests`` the server does not have, asked in batches."""
        wanted = list(dict.fromkeys(check_digest(d) for d in digests))
        absent: set[str] = set()
        for start in range(0, len(wanted), MISSING_BATCH):
            body = self.transport.json(
                "POST", f"{API}/projects/{segment(self.project)}/blobs/missing",
                json={"digests": wanted[start:start + MISSING_BATCH]}, idempotent=True)
            if not isinstance(body, dict) or not isinstance(body.get("missing"), list):
                raise StorageError("the server's answer to blobs/missing has no 'missing' list")
            absent.update(str(d) for d in body["missing"])
        return absent

    # -- uploads --------------------------------------------------------------------------
    def put_bytes(self, data: bytes | bytearray | memoryview) -> tuple[str, int]:
        data = bytes(data)  # a bytearray could change between hashing and upload
        digest = hash_bytes(data)
        if not self.exists(digest):
            self._upload(digest, lambda: [data], len(data), what="the bytes")
        return digest, len(data)

    def put_stream(self, fileobj: Readable) -> tuple[str, int]:
        with spooled(fileobj) as (spool, digest, size):
            if not self.exists(digest):
                self._upload(digest, _file_chunks(spool), size, what="the stream")
        return digest, size

    def put_file(self, path: PathLike, *, digest: str | None = None) -> tuple[str, int]:
        if digest is not None:
            known = self._head(digest)  # one request answers both "there?" and "how big?"
            length = known.headers.get("Content-Length", "") if known is not None else ""
            if length.isdigit():
                return digest, int(length)
        digest, size = _hash_source(path, follow=True)
        if not self.exists(digest):
            self._upload(digest, _file_chunks(path), size, what=os.fspath(path))
        return digest, size

    def put_many_files(self, paths: Sequence[PathLike], *,
                       digests: Sequence[str | None] | None = None) -> list[tuple[str, int]]:
        hints = hint_list(paths, digests)
        present = {d for d in hints if d is not None}
        present -= self.missing(sorted(present)) if present else set()
        done: list[tuple[str, int] | None] = []
        for path, hint in zip(paths, hints, strict=True):
            if hint in present:
                size = _stat_size(path)
                done.append((hint, size) if size is not None else None)
            else:
                done.append(None)
        hashed = {i: _hash_source(paths[i], follow=False)
                  for i, entry in enumerate(done) if entry is None}
        absent = self.missing([digest for digest, _ in hashed.values()]) if hashed else set()
        for i, (digest, size) in hashed.items():
            if digest in absent:
                self._upload(digest, _file_chunks(paths[i], follow=False), size,
                             what=os.fspath(paths[i]))
                absent.discard(digest)  # the same content twice in one directory: sent once
            done[i] = (digest, size)
        return [entry for entry in done if entry is not None]

    def copy_missing(self, source: RemoteBlobs, digests: Sequence[str]) -> None:
        """Copy those of ``digests`` this store lacks from ``source`` (another project on
        the same server): each is downloaded (verified) to a local spool, then uploaded."""
        for digest in sorted(self.missing(digests)):
            fd, spool = tempfile.mkstemp(prefix="archivist-copy-")
            os.close(fd)
            try:
                size = source.fetch_to(digest, spool)
                self._upload(digest, _file_chunks(spool), size, what=source.path(digest))
            finally:
                unlink_quietly(spool)

    def _upload(self, digest: str, chunks: Callable[[], Iterator[bytes] | list[bytes]],
                size: int, *, what: str) -> None:
        # Content-Length (not chunked): the server can refuse an oversize blob up front.
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        try:
            self.transport.request("PUT", self._route(digest), content=chunks, headers=headers)
        except InvalidInputError as exc:
            if digest in exc.message:  # the server hashed something else than we did
                raise StorageError(f"{what} changed while it was being uploaded ({exc}); "
                                   "register it again", digest=digest) from exc
            raise

    # -- downloads ------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO:
        check_digest(digest)
        if self.cache is not None:
            cached = self.cache.open(digest)  # verified as it is read
            if cached is not None:
                return cached
        return self._fetch(digest)[0]

    def fetch_to(self, digest: str, dest: PathLike) -> int:
        """Copy a blob to ``dest``, verified: a cached copy is rehashed as it is copied; a
        blob fetched now is hashed once, as it lands in the cache, then copied to ``dest``
        by the kernel (``sendfile``) without hashing it again; a blob too big for the
        cache streams to ``dest`` through a verifying reader.

        Raises:
            IntegrityError: the bytes do not match ``digest``; ``dest`` is left untouched.
            PermissionDeniedError: ``dest`` is a symlink.
            StorageError: the server, the cache or the destination failed.
        """
        check_digest(digest)
        if self.cache is not None:
            cached = self.cache.open(digest)
            if cached is not None:
                with cached:  # IntegrityError at the end leaves dest untouched
                    return write_atomically(dest, cached)
        source, verified = self._fetch(digest)
        with source:
            return copy_atomically(source, dest) if verified else write_atomically(dest, source)

    def _fetch(self, digest: str) -> tuple[BinaryIO, bool]:
        """Download the blob: ``(reader, True)`` when it went into the cache (the reader is
        on the copy just verified, and does not hash again), else ``(verifying reader,
        False)`` streaming from the server."""
        download = Download(self.transport, self._route(digest), digest)
        try:
            if self.cache is not None and download.size is not None:
                # hashed once, while it is written to the cache
                stored = self.cache.insert_open(digest, download.size, download.chunks())
                if stored is not None:
                    download.close()
                    return stored, True
            # a raw reader is what VerifyingReader wraps best (it uses readinto)
            return verifying_reader(ChunkReader(download), digest,  # type: ignore[arg-type]
                                    self.path(digest), download.size), False
        except BaseException:
            download.close()
            raise

    def check(self, digest: str) -> CheckResult:
        """Rehash the server's copy (not the cache's)."""
        try:
            download = Download(self.transport, self._route(digest), digest)
            reader = verifying_reader(ChunkReader(download), digest,  # type: ignore[arg-type]
                                      self.path(digest), download.size)
            with reader:
                while reader.read(READ_SIZE):
                    pass
        except IntegrityError as exc:
            return "missing" if "missing" in exc.message else "corrupt"
        return "ok"

    # -- the server's work ----------------------------------------------------------------
    def delete(self, digest: str) -> None:
        check_digest(digest)
        raise PermissionDeniedError("a catalog server frees its blobs itself: run "
                                    "catalog.gc() (or `archivist gc`) against it")

    def iter_digests(self) -> Iterator[str]:
        """The digests in the project's store on the server (``GET …/blobs``, paged;
        admin scope)."""
        found = self.transport.collect(f"{API}/projects/{segment(self.project)}/blobs", [],
                                       limit=sys.maxsize)
        yield from (check_digest(digest) for digest in found)

    def clock(self) -> float:
        return time.time()  # gc runs on the server, against its store's clock

    def temp_files(self) -> list[tuple[str, float]]:
        return []  # uploads spool to the system temp folder and remove their spool

    def remove_temp(self, path: str) -> None:
        raise PermissionDeniedError(f"{path!r} is not a temp file of {self!r}")


def _hash_source(path: PathLike, *, follow: bool) -> tuple[str, int]:
    with os.fdopen(open_regular(path, follow=follow), "rb") as source:
        reader = HashingReader(source)
        try:
            while reader.read(READ_SIZE):
                pass
        except OSError as exc:
            raise StorageError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}",
                               path=os.fspath(path)) from exc
        return reader.digest, reader.size


def _file_chunks(path: PathLike, *, follow: bool = True) -> Callable[[], Iterator[bytes]]:
    """A factory of the file's chunks, opened anew each time (so retries re-send it all)."""
    def chunks() -> Iterator[bytes]:
        with os.fdopen(open_regular(path, follow=follow), "rb") as source:
            while chunk := source.read(READ_SIZE):
                yield chunk
    return chunks


def _stat_size(path: PathLike) -> int | None:
    try:
        return os.lstat(path).st_size
    except OSError:
        return None
