"""One blob download from a catalog server that survives a broken connection.

A connection that breaks off in the middle of a large blob is reopened with
``Range: bytes=<received>-`` and the bytes continue where they stopped (the server
answers ``206``), with the transport's backoff between attempts; the caller sees one
uninterrupted stream. The digest is checked over the whole stream by the caller
(``VerifyingReader`` or the cache), so a resumed download is verified like any other.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import httpx

from archivist.backends.remote.transport import Transport, transport_errors
from archivist.errors import ArtifactNotFoundError, StorageError
from archivist.store.fscalls import missing_bytes


class Download:
    """The bytes of the blob at ``route``, as :meth:`chunks`; close it when done.

    Raises (on creation):
        IntegrityError: the server has no such blob (or none this caller may read).
        ArchivistError: the server's other typed errors; ``StorageError`` if unreachable.
    """

    def __init__(self, transport: Transport, route: str, digest: str) -> None:
        self._transport = transport
        self._route = route
        self._digest = digest
        self._stack = contextlib.ExitStack()
        self._received = 0
        self._response = self._open()
        self.size = declared_size(self._response)

    def _open(self, headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            return self._stack.enter_context(self._transport.stream(
                "GET", self._route, headers=headers, follow_redirects=True))
        except ArtifactNotFoundError:
            raise missing_bytes(self._digest, self._transport.url(self._route)) from None

    def chunks(self) -> Iterator[bytes]:
        """Every byte of the blob, resuming after a broken connection."""
        attempt = 0
        while True:
            try:
                # as received, not re-chunked: bytes held in a chunker would be lost (and
                # fetched again) when the connection breaks
                for chunk in self._response.iter_bytes():
                    self._received += len(chunk)
                    attempt = 0
                    yield chunk
                return
            except transport_errors() as exc:
                if attempt >= self._transport.retries or self.size is None:
                    raise StorageError(f"the download of {self._digest} broke off after "
                                       f"{self._received} bytes: {exc}",
                                       digest=self._digest) from exc
                self._transport.pause(attempt)
                attempt += 1
                self._resume()

    def _resume(self) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self._response = self._open({"Range": f"bytes={self._received}-"})
        if self._response.status_code != 206:
            raise StorageError(f"the server cannot resume the download of {self._digest} "
                               f"(answered {self._response.status_code} to a Range request)",
                               digest=self._digest)

    def close(self) -> None:
        self._stack.close()


def declared_size(response: httpx.Response) -> int | None:
    """Content-Length, when it is the blob's size (no content encoding in the way)."""
    length = response.headers.get("Content-Length", "")
    if response.headers.get("Content-Encoding", "identity") != "identity" or not length.isdigit():
        return None
    return int(length)


class ChunkReader(io.RawIOBase):
    """A raw reader over a download's chunks; closing it ends the download."""

    def __init__(self, download: Download) -> None:
        super().__init__()
        self._download = download
        self._chunks = download.chunks()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        # typeshed's RawIOBase.readinto takes a WriteableBuffer; memoryview covers ours.
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._download.close()
            finally:
                super().close()
