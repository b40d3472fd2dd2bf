"""Moving blob bytes over HTTP in bounded memory: the upload spool and download ranges.

An upload is written to a temp file while it is hashed (never held in memory), and is
handed to the blob store only once its digest is known to be the one the URL names. A
download is read from the store in 1 MiB chunks; a ``Range`` is served by seeking in a
local store and by skipping through the stream of any other.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from starlette.requests import ClientDisconnect, Request

from archivist.errors import InvalidInputError, PayloadTooLargeError
from archivist.store.adopt import upload_temp
from archivist.store.blobs import Blobs
from archivist.store.hashing import READ_SIZE, format_digest

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
#: The spool's write buffer: the server receives the body in chunks of ~64 KiB.
SPOOL_BUFFER = 1024 * 1024


@dataclass(frozen=True)
class Spooled:
    path: str
    digest: str
    size: int


@contextlib.asynccontextmanager
async def spool_upload(request: Request, limit: int, folder: str | None,
                       blobs: Blobs) -> AsyncIterator[Spooled]:
    """Spool the request body to a temp file, hashing it; yield a :class:`Spooled`.

    The temp file is where ``blobs`` can adopt it without a copy
    (:func:`archivist.store.adopt.upload_temp`: a local store's temp folder unless
    ``folder`` is given); it is removed when the block exits unless adopted.

    Raises:
        PayloadTooLargeError: ``Content-Length`` or the bytes received pass ``limit``.
        InvalidInputError: the client went away before the end of the body.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit, int(declared))
    path = None
    try:
        # One pass: hash each chunk as it is written; the store adopts the file as is.
        hasher = hashlib.sha256()
        size = 0
        with upload_temp(blobs, folder) as (fd, path), \
                os.fdopen(fd, "wb", buffering=SPOOL_BUFFER, closefd=False) as out:
            try:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise too_large(limit, size)
                    hasher.update(chunk)
                    out.write(chunk)
            except ClientDisconnect:
                raise InvalidInputError("the upload ended before its body did; nothing "
                                        "was stored") from None
        yield Spooled(path=path, digest=format_digest(hasher.hexdigest()), size=size)
    finally:
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def too_large(limit: int, size: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the blob is over this server's limit of {limit} bytes (at least {size} sent); "
        "the server's --max-blob-size sets it", limit=limit)


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class RangeNotSatisfiable(Exception):
    """The ``Range`` asks for bytes past the end (answered with 416)."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range a ``Range`` header asks for, or ``None`` for the whole blob
    (no header, another unit, or several ranges: RFC 9110 lets a server ignore those).

    Raises:
        RangeNotSatisfiable: the range starts past the end of a blob of ``size`` bytes.
    """
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return ByteRange(max(size - count, 0), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(header)
    return ByteRange(start, min(end, size - 1))


def started(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` with the first one already read: a blob that is missing or (up to
    1 MiB) corrupt fails now, while an error answer can still be sent, instead of as a
    stream cut short."""
    first = next(chunks, b"")
    return itertools.chain([first], chunks)


def iter_blob(blobs: Blobs, digest: str, wanted: ByteRange | None,
              sent: Callable[[int], None]) -> Iterator[bytes]:
    """The blob's bytes (or the range's) in chunks of at most 1 MiB, calling ``sent``
    with each chunk's size. A whole blob is read through the verifying reader (a
    corrupt blob fails before its last chunk goes out)."""
    local = blobs.local_path(digest) if wanted is not None else None
    reader: BinaryIO = open(local, "rb") if local is not None else blobs.open(digest)  # noqa: SIM115
    with reader:
        remaining = None
        if wanted is not None:
            if local is not None:
                reader.seek(wanted.start)
            else:
                _skip(reader, wanted.start)
            remaining = wanted.length
        while remaining is None or remaining > 0:
            chunk = reader.read(READ_SIZE if remaining is None else min(READ_SIZE, remaining))
            if not chunk:
                break
            if remaining is not None:
                remaining -= len(chunk)
            sent(len(chunk))
            yield chunk


def _skip(reader: BinaryIO, count: int) -> None:
    while count > 0:
        got = reader.read(min(READ_SIZE, count))
        if not got:
            return
        count -= len(got)
