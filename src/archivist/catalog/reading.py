"""Getting bytes and objects back out: ``load``, ``open``, ``download``.

Every path here hashes before it trusts: ``load`` verifies the whole blob against its
digest before a materializer deserializes it, ``open`` raises at the end of a stream whose
bytes do not match, and ``download`` writes to a temporary file that only becomes
``dest`` once every byte matched.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from archivist.errors import (
    IntegrityError,
    InvalidInputError,
    PermissionDeniedError,
    StorageError,
)
from archivist.materializers.registry import IN_MEMORY_LIMIT, MaterializerRegistry
from archivist.model import Artifact
from archivist.store.blobs import Blobs
from archivist.store.manifest import Manifest, materialize

CHUNK = 4 * 1024 * 1024
Progress = Callable[[int, int | None], None]


class Reader:
    """Reads versions' bytes from a blob store, verifying them."""

    def __init__(self, blobs: Blobs, registry: MaterializerRegistry, scratch: Path,
                 protected: Path | None = None) -> None:
        self.blobs = blobs
        self.protected = protected  # the catalog home: no download may land inside it
        self.registry = registry
        self.scratch = scratch

    def load(self, art: Artifact, *, allow_pickle: bool) -> Any:
        digest = self._file_digest(art, "load")
        if art.format in (None, "file"):
            with self.blobs.open(digest) as handle:
                return handle.read()
        small = self.registry.in_memory(art.format)
        if small is not None and art.size is not None and art.size <= IN_MEMORY_LIMIT:
            with self.blobs.open(digest) as handle:
                # verified against the digest when the end is read; a blob grown past
                # its recorded size is refused without reading all of it into memory
                data = handle.read(art.size + 1)
            if len(data) != art.size:
                raise IntegrityError(
                    f"blob {digest} is corrupt: it does not hold the {art.size} bytes "
                    "recorded; run verify() and restore it from a copy",
                    digest=digest)
            return self.registry.decode(small, data)
        local = self.blobs.local_path(digest)
        if local is not None:
            self._verify_file(Path(local), digest)
            return self.registry.load(art.format, Path(local), allow_pickle=allow_pickle)
        self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch) as tmp:
            copy = Path(tmp) / "blob"
            self.blobs.fetch_to(digest, str(copy))
            return self.registry.load(art.format, copy, allow_pickle=allow_pickle)

    def open(self, art: Artifact) -> IO[bytes]:
        return self.blobs.open(self._file_digest(art, "open"))

    def manifest(self, art: Artifact) -> Manifest:
        if art.kind != "directory" or art.digest is None:
            raise InvalidInputError(f"{art.ref} is not a directory")
        with self.blobs.open(art.digest) as handle:
            return Manifest.from_bytes(handle.read())

    def download(self, art: Artifact, dest: Path, *, progress: Progress | None = None) -> Path:
        self._check_destination(dest)
        if art.kind == "directory":
            materialize(self.manifest(art), self.blobs, dest)
            return dest
        digest = self._file_digest(art, "download")
        if dest.is_dir():
            raise InvalidInputError(f"{dest} is a directory; give the file path to write")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if progress is None:
            # the store's own verified copy: a remote store hashes what it fetches once
            # (as it caches it) and lets the kernel copy it here, without a second hash
            self.blobs.fetch_to(digest, dest)
            return dest
        fd, tmp = tempfile.mkstemp(prefix=".archivist-", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out, self.blobs.open(digest) as source:
                done = 0
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, art.size)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StorageError(f"could not write {dest}: {exc.strerror or exc}") from exc
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest

    def _file_digest(self, art: Artifact, action: str) -> str:
        if art.kind == "file" and art.digest is not None:
            return art.digest
        hint = {
            "directory": f"{art.ref} is a directory: use download(ref, dest)",
            "reference": f"{art.ref} is an external reference to {art.reference_uri}; "
                         "read it from there",
            "none": f"{art.ref} is a metadata-only version; it has no bytes",
        }.get(art.kind, f"{art.ref} has no stored bytes")
        raise InvalidInputError(f"cannot {action}: {hint}")

    def _verify_file(self, path: Path, digest: str) -> None:
        hasher = hashlib.sha256()
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    hasher.update(chunk)
        except FileNotFoundError:
            raise IntegrityError(f"the bytes of {digest} are missing from the store",
                                 digest=digest) from None
        except OSError as exc:
            raise StorageError(f"cannot read blob {digest}: {exc.strerror}") from exc
        if f"sha256:{hasher.hexdigest()}" != digest:
            raise IntegrityError(f"blob {digest} is corrupt: its bytes hash to "
                                 f"sha256:{hasher.hexdigest()}; nothing was loaded",
                                 digest=digest, path=str(path))

    def _check_destination(self, dest: Path) -> None:
        # The destination and the folder it lands in must not be symlinks (a planted
        # link would redirect the write, DVC #11101). Links higher up (a symlinked home
        # directory) are the user's own layout and are allowed.
        for part in (dest, dest.parent):
            if part.is_symlink():
                raise PermissionDeniedError(f"refusing to write through the symlink {part}")
        resolved = dest.resolve()
        for root in (self.blobs.local_root(), self.protected):
            if root is not None and resolved.is_relative_to(Path(root).resolve()):
                raise PermissionDeniedError(f"{dest} is inside the catalog's own files "
                                            f"({root}); choose a destination outside it")

