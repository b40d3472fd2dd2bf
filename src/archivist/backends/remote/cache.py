"""A local, content-addressed cache of blobs downloaded from a catalog server.

Loading the same version twice downloads it once. The cache lives in
``$ARCHIVIST_CACHE_DIR`` (default ``~/.cache/archivist/blobs``) with the store's layout
(``sha256/ab/cdef…``) and holds at most ``$ARCHIVIST_CACHE_SIZE`` bytes (``"5GB"`` by
default; ``"100MB"``, ``"1.5GiB"``, a plain number of bytes; ``0`` turns it off).

Why it stays within its budget, even with several processes sharing it:

* a download first *reserves* its size: under an exclusive ``flock`` on ``.lock`` it
  checks that everything held — blobs *and* the reservations of downloads in flight,
  which are temp files truncated to their full size up front — plus the new blob fit the
  budget (a running total in ``.usage``, recounted exactly and least-recently-used blobs
  evicted when it does not), then creates its own reservation;
* the bytes are written into the reservation outside the lock, hashed as they come,
  and the temp file is renamed into place (atomic) only if they match the digest;
* a blob larger than the whole budget is never cached: the caller streams it instead.

"Recently used" is the file's modification time, set on every hit (``atime`` is not
reliable: ``noatime``/``relatime`` mounts).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from archivist.errors import IntegrityError, InvalidInputError, StorageError
from archivist.query.lexer import size as parse_size
from archivist.store.hashing import READ_SIZE, check_digest, format_digest, verifying_reader

DEFAULT_SIZE = "5GB"
STALE_RESERVATION = 3600.0
LEDGER = ".usage"  # a download silent for an hour was killed; its space is freed


def cache_from_env(env: Mapping[str, str] | None = None) -> BlobCache:
    """The cache ``ARCHIVIST_CACHE_DIR`` / ``ARCHIVIST_CACHE_SIZE`` describe.

    Raises:
        InvalidInputError: ``ARCHIVIST_CACHE_SIZE`` is not a size.
    """
    env = os.environ if env is None else env
    if env.get("ARCHIVIST_CACHE_DIR"):
        root = Path(env["ARCHIVIST_CACHE_DIR"]).expanduser()
    else:
        base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        root = base / "archivist" / "blobs"
    text = env.get("ARCHIVIST_CACHE_SIZE") or DEFAULT_SIZE
    try:
        budget = int(parse_size(text.strip()))
    except ValueError as exc:
        raise InvalidInputError(f"ARCHIVIST_CACHE_SIZE={text!r}: {exc}") from None
    return BlobCache(root, budget)


class BlobCache:
    """Downloaded blobs on local disk, least recently used evicted first.

    Obtain it from the environment with :func:`cache_from_env`, or directly::

        cache = BlobCache(Path("/tmp/cache"), budget=100 * 10**6)

    Args:
        root: the cache folder (created on first use).
        budget: the most bytes it may hold; ``0`` caches nothing.
    """

    def __init__(self, root: Path, budget: int) -> None:
        if budget < 0:
            raise InvalidInputError(f"a cache budget cannot be negative ({budget})")
        self.root = Path(root)
        self.budget = budget

    def __repr__(self) -> str:
        return f"BlobCache({str(self.root)!r}, budget={self.budget})"

    def path(self, digest: str) -> Path:
        hexd = check_digest(digest)[7:]
        return self.root / "sha256" / hexd[:2] / hexd[2:]

    # -- reading --------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO | None:
        """The cached blob, opened through a verifying reader, or ``None`` on a miss. A hit
        marks the blob as just used; a cached copy found corrupt is removed (and the read
        raises ``IntegrityError``), so the next read downloads it again."""
        path = self.path(digest)
        try:
            handle = open(path, "rb")  # noqa: SIM115 (handed to the caller, who closes it)
        except OSError:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        size = os.fstat(handle.fileno()).st_size
        raw = _EvictOnCorrupt(verifying_reader(handle, digest, str(path), size), path)
        return io.BufferedReader(raw, buffer_size=READ_SIZE)

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and self.path(digest).is_file()

    def usage(self) -> int:
        """Bytes held now: cached blobs plus the reservations of downloads in flight."""
        return sum(size for _, _, size in self._entries())

    # -- writing --------------------------------------------------------------------------
    def insert(self, digest: str, size: int, chunks: Iterable[bytes]) -> Path | None:
        """Store the blob ``chunks`` yield, verified against ``digest`` and ``size``.

        Returns the cached file, or ``None`` without consuming ``chunks`` when the blob
        cannot fit (bigger than the budget, or the rest is reserved by other downloads).

        Raises:
            IntegrityError: the bytes do not hash to ``digest`` or are not ``size`` long;
                nothing is cached.
            StorageError: the cache folder failed.
        """
        stored = self.insert_open(digest, size, chunks)
        if stored is None:
            return None
        stored.close()
        return self.path(digest)

    def insert_open(self, digest: str, size: int, chunks: Iterable[bytes]) -> BinaryIO | None:
        """Like :meth:`insert`, but return the stored copy opened for reading, *without*
        a verifying reader: the handle is on the very file whose bytes this call just
        hashed (opened before it was renamed into place, so no other process's copy can
        be behind it). Only for reading back at once what was just fetched; any later
        read goes through :meth:`open`.

        Raises:
            IntegrityError: the bytes do not hash to ``digest`` or are not ``size`` long;
                nothing is cached.
            StorageError: the cache folder failed.
        """
        check_digest(digest)
        final = self.path(digest)
        try:
            reservation = self._reserve(size)
        except OSError as exc:
            raise StorageError(f"cannot use the blob cache {self.root}: "
                               f"{exc.strerror or exc}") from exc
        if reservation is None:
            return None
        handle: BinaryIO | None = None
        try:
            self._fill(reservation, digest, size, chunks)
            handle = open(reservation, "rb")  # noqa: SIM115 (handed to the caller)
            with self._locked():
                final.parent.mkdir(parents=True, exist_ok=True)
                counted_twice = final.exists()  # another process cached it meanwhile
                os.replace(reservation, final)
                if counted_twice:
                    self._add_to_ledger(-size)
        except BaseException as exc:
            if handle is not None:
                handle.close()
            with self._locked():
                if reservation.exists():
                    reservation.unlink()
                    self._add_to_ledger(-size)
            if isinstance(exc, OSError):
                raise StorageError(f"cannot write to the blob cache {self.root}: "
                                   f"{exc.strerror or exc}") from exc
            raise
        return handle

    def _fill(self, reservation: Path, digest: str, size: int, chunks: Iterable[bytes]) -> None:
        hasher = hashlib.sha256()
        written = 0
        with open(reservation, "r+b") as out:
            for chunk in chunks:
                written += len(chunk)
                if written > size:
                    raise IntegrityError(f"blob {digest}: the server sent more than the "
                                         f"{size} bytes it announced", digest=digest)
                hasher.update(chunk)
                out.write(chunk)
            # No fsync: every read of the cache goes through a verifying reader, so a copy
            # a crash left short or garbled fails its check, is evicted and downloaded
            # again. (An fsync here cost a third of a 1 GB download.)
        actual = format_digest(hasher.hexdigest())
        if written != size or actual != digest:
            raise IntegrityError(f"blob {digest}: the server sent {written} bytes hashing to "
                                 f"{actual}, expected {size} bytes; nothing was cached",
                                 digest=digest, actual=actual)

    def _reserve(self, size: int) -> Path | None:
        if size > self.budget:
            return None
        with self._locked():
            held = self._read_ledger()
            if held is None or held + size > self.budget:
                held = self._evict_for(size)
                if held + size > self.budget:
                    self._write_ledger(held)
                    return None
            tmp = self.root / "tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            reservation = tmp / f"{secrets.token_hex(8)}.part"
            with open(reservation, "xb") as out:
                out.truncate(size)  # sparse: reserves the budget, not yet the disk
            self._write_ledger(held + size)
            return reservation

    def _evict_for(self, size: int) -> int:
        """Count what is held exactly and evict least recently used blobs until ``size``
        more fits (or nothing more can go); return the bytes still held. Reservations of
        downloads in flight are never evicted."""
        entries = self._entries()
        held = sum(entry_size for _, _, entry_size in entries)
        for path, _, entry_size in sorted((e for e in entries if e[0].parent.name != "tmp"),
                                          key=lambda e: e[1]):
            if held + size <= self.budget:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            held -= entry_size
        return held

    # The ledger (``.usage``) keeps the bytes held so that a hit-free insert does not walk
    # the whole cache (a directory of 10,000 files would mean 10,000 walks). Every writer
    # updates it under the lock, and anything that frees bytes without it (a corrupt
    # copy removed on read, a user's rm) leaves it too high, never too low: an over-count
    # only triggers an exact recount sooner, so the budget still holds.
    def _read_ledger(self) -> int | None:
        try:
            return int((self.root / LEDGER).read_text())
        except (OSError, ValueError):
            return None

    def _write_ledger(self, held: int) -> None:
        staged = self.root / f"{LEDGER}.tmp"
        staged.write_text(str(max(held, 0)))
        os.replace(staged, self.root / LEDGER)

    def _add_to_ledger(self, delta: int) -> None:
        held = self._read_ledger()
        if held is not None:
            self._write_ledger(held + delta)

    def _entries(self) -> list[tuple[Path, float, int]]:
        """``(path, last used, size)`` of every blob and live reservation; stale
        reservations (a killed download) are removed on the way."""
        found: list[tuple[Path, float, int]] = []
        now = time.time()
        for folder in (self.root / "sha256", self.root / "tmp"):
            for path in _walk(folder):
                try:
                    st = path.lstat()
                except FileNotFoundError:
                    continue
                if folder.name == "tmp" and now - st.st_mtime > STALE_RESERVATION:
                    with contextlib.suppress(OSError):
                        path.unlink()
                    continue
                found.append((path, st.st_mtime, st.st_size))
        return found

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _walk(folder: Path) -> Iterator[Path]:
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    yield from _walk(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    yield Path(entry.path)
    except FileNotFoundError:
        return


class _EvictOnCorrupt(io.RawIOBase):
    """Reads a cached blob; if it turns out corrupt, removes it before raising."""

    def __init__(self, reader: BinaryIO, path: Path) -> None:
        super().__init__()
        self._reader = reader
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        # typeshed's RawIOBase.readinto takes a WriteableBuffer; memoryview covers ours.
        try:
            return self._reader.readinto(buffer)  # type: ignore[attr-defined,no-any-return]
        except IntegrityError as exc:
            with contextlib.suppress(OSError):
                self._path.unlink()
            raise IntegrityError(f"{exc.message}; the corrupt cached copy was removed, "
                                 "read the version again to download it",
                                 **exc.details) from None

    def close(self) -> None:
        if not self.closed:
            try:
                self._reader.close()
            finally:
                super().close()
