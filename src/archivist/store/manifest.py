"""Directories: a canonical manifest plus one blob per file (SPEC §4, STYLE P14).

The manifest is ``{"entries": [...], "format": 1}``, one ``{"digest", "mode", "path",
"size"}`` per regular file, sorted by path, written with ``json.dumps(sort_keys=True,
separators=(",", ":"))`` and stored as a blob whose digest is the directory's digest: two
versions of a tree share every unchanged file, and one digest names one manifest
(:meth:`Manifest.from_bytes` refuses other spellings of the same content).

Decisions:

* **Symlinks are refused, inside the tree or out.** Following one out of the tree stores
  bytes the user did not mean to share (SPEC §9); storing links as links has
  ``materialize`` write symlinks on someone else's disk; following in-tree links
  duplicates content and invites loops. The error names the entry, so the user can
  dereference it (``cp -rL``) on purpose.
* FIFOs, sockets and devices are refused from their directory entry, never opened.
* Only files are recorded (empty directories are not kept), with mode ``0o644`` or
  ``0o755``, so the digest does not depend on the umask.
* Refused names: not UTF-8, control characters, backslashes, twins after NFC
  normalization (macOS merges them), anything a filesystem could take for ``.git``
  (``.GIT``, ``git~1``, ``.g\u200cit``); trees over 1,000,000 files or 256 levels deep.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from archivist._types import PathLike
from archivist.errors import (
    IntegrityError,
    InvalidInputError,
    PermissionDeniedError,
    StorageError,
)
from archivist.store.blobs import Blobs
from archivist.store.fscalls import O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, source_error
from archivist.store.hashcache import HashCache, now_ns
from archivist.store.hashing import READ_SIZE, check_digest, hash_bytes
from archivist.store.paths import check_relative_path

FORMAT = 1
MAX_ENTRIES = 1_000_000
MAX_DEPTH = 256
MAX_MANIFEST_BYTES = 256 * 1024 * 1024  # 1M entries of ~200 bytes fit with room to spare
_ENTRY_KEYS = frozenset({"digest", "mode", "path", "size"})
_MAX_OPEN_DIRS = 128


@dataclass(frozen=True)
class ManifestEntry:
    """One regular file of a directory version."""

    path: str
    digest: str
    size: int
    mode: int = 0o644

    def to_dict(self) -> dict[str, Any]:
        return {"digest": self.digest, "mode": self.mode, "path": self.path, "size": self.size}


@dataclass(frozen=True)
class Manifest:
    """The canonical listing of a directory. Built by :func:`build_manifest` or read with
    :meth:`from_bytes`; always valid once constructed (entries are sorted by path)."""

    entries: tuple[ManifestEntry, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.entries, key=lambda e: e.path))
        object.__setattr__(self, "entries", ordered)  # sorting is part of construction
        _validate(ordered)

    def to_bytes(self) -> bytes:
        """The canonical JSON form (what is stored and hashed)."""
        return self._bytes

    @cached_property
    def _bytes(self) -> bytes:
        doc = {"format": FORMAT, "entries": [e.to_dict() for e in self.entries]}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("ascii")

    @property
    def digest(self) -> str:
        """The directory's digest: that of :meth:`to_bytes`."""
        return hash_bytes(self.to_bytes())

    @property
    def size(self) -> int:
        """Total bytes of the files."""
        return sum(e.size for e in self.entries)

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse and validate a manifest, e.g. one uploaded by a remote client.

        Raises:
            InvalidInputError: not JSON; unknown ``format`` or keys; a path absolute, not
                normalized, escaping, with a backslash, drive letter or ``.git`` alias;
                duplicates (also after NFC); a file that is also a directory; a bad
                digest; a size not a non-negative int; setuid/setgid/sticky mode bits;
                over the caps; or not the canonical bytes.
        """
        if len(data) > MAX_MANIFEST_BYTES:
            raise InvalidInputError(f"manifest is {len(data)} bytes; the limit is "
                                    f"{MAX_MANIFEST_BYTES}")
        try:
            doc = json.loads(data)  # a repeated key fails the canonical-form check below
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"manifest is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or set(doc) != {"format", "entries"}:
            raise InvalidInputError("manifest must be an object with exactly 'format' and "
                                    "'entries'")
        if doc["format"] != FORMAT or isinstance(doc["format"], bool):
            raise InvalidInputError(f"manifest format {doc['format']!r} is not supported "
                                    f"(this version reads format {FORMAT}); upgrade archivist")
        if not isinstance(raw := doc["entries"], list):
            raise InvalidInputError("manifest 'entries' must be a list")
        if len(raw) > MAX_ENTRIES:  # before building a million records
            raise InvalidInputError(f"{len(raw)} entries; the limit is {MAX_ENTRIES}")
        manifest = cls(tuple(_entry(item, i) for i, item in enumerate(raw)))
        if manifest.to_bytes() != data:
            raise InvalidInputError("manifest is not in canonical form (entries sorted by "
                                    "path, keys sorted, no whitespace)")
        return manifest

    def diff(self, other: Manifest) -> dict[str, list[str]]:
        """Paths ``added``, ``removed`` and ``changed`` (content or mode) going from this
        manifest to ``other``."""
        old = {e.path: e for e in self.entries}
        new = {e.path: e for e in other.entries}
        return {
            "added": sorted(new.keys() - old.keys()),
            "removed": sorted(old.keys() - new.keys()),
            "changed": sorted(p for p in old.keys() & new.keys()
                              if (old[p].digest, old[p].mode) != (new[p].digest, new[p].mode)),
        }


def _entry(item: object, index: int) -> ManifestEntry:
    if not isinstance(item, dict) or set(item) != _ENTRY_KEYS:
        raise InvalidInputError(f"manifest entry {index} must have exactly the keys "
                                f"{sorted(_ENTRY_KEYS)}")
    return ManifestEntry(path=item["path"], digest=item["digest"], size=item["size"],
                         mode=item["mode"])


def _validate(entries: Sequence[ManifestEntry]) -> None:
    if len(entries) > MAX_ENTRIES:
        raise InvalidInputError(f"{len(entries)} entries; the limit is {MAX_ENTRIES}")
    seen: dict[str, str] = {}
    for e in entries:
        where = f"manifest entry {e.path!r}"
        check_relative_path(e.path, "manifest path")
        if e.path.count("/") >= MAX_DEPTH:
            raise InvalidInputError(f"{where} is nested deeper than {MAX_DEPTH} levels")
        check_digest(e.digest)
        if not isinstance(e.size, int) or isinstance(e.size, bool) or e.size < 0:
            raise InvalidInputError(f"{where}: size must be a non-negative integer")
        if not isinstance(e.mode, int) or isinstance(e.mode, bool) or not 0 <= e.mode <= 0o777:
            raise InvalidInputError(f"{where}: mode {e.mode!r} is not a permission mode in "
                                    "0..0o777 (setuid, setgid and sticky bits are refused)")
        key = e.path if e.path.isascii() else unicodedata.normalize("NFC", e.path)
        if key in seen:
            raise InvalidInputError(f"{where} duplicates {seen[key]!r} (the same name once "
                                    "Unicode-normalized)")
        seen[key] = e.path
    for key, path in seen.items():
        parts = key.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix in seen:
                raise InvalidInputError(f"manifest entry {seen[prefix]!r} is a file but "
                                        f"{path!r} uses it as a directory")


# -- building ------------------------------------------------------------------------------
def build_manifest(dir_path: PathLike, blobs: Blobs,
                   hashcache: HashCache) -> tuple[Manifest, list[str]]:
    """Store a directory tree: every file as a blob, then the manifest as a blob.

    Returns the manifest and the digests the directory needs: the manifest's digest first
    (the directory's digest), then each distinct file digest. Files whose stat matches the
    hash cache are not read again (one ``stat`` of the blob instead).

    Raises:
        InvalidInputError: ``dir_path`` is not a directory; an entry is a symlink, FIFO,
            socket or device, has a refused name (see the module docstring), or the tree
            is over the caps. The error names the entry; nothing is stored.
        PermissionDeniedError: a file or directory cannot be read; nothing is stored.
        StorageError: the blob store failed.
    """
    root = os.path.abspath(os.fspath(dir_path))
    files = _walk(root)  # every name checked before any byte is stored
    started = now_ns()
    hints = hashcache.get_many([(st, path) for _, path, st in files], absolute=True)
    stored = blobs.put_many_files([path for _, path, _ in files], digests=hints)
    hashcache.put_many([(path, st, digest) for (_, path, st), hint, (digest, _)
                        in zip(files, hints, stored, strict=True) if hint is None],
                       hashed_at_ns=started, absolute=True)
    manifest = Manifest(tuple(
        ManifestEntry(rel, digest, size, 0o755 if st.st_mode & 0o111 else 0o644)
        for (rel, _, st), (digest, size) in zip(files, stored, strict=True)))
    manifest_digest, _ = blobs.put_bytes(manifest.to_bytes())
    return manifest, [manifest_digest, *dict.fromkeys(d for d, _ in stored)]


def _walk(root: str) -> list[tuple[str, str, os.stat_result]]:
    """Every regular file under ``root``: ``(relative posix path, normalized path, lstat)``."""
    try:
        if not stat.S_ISDIR(os.lstat(root).st_mode):
            raise InvalidInputError(f"{root} is not a directory")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {root}: {exc.strerror}", path=root) from None
    real_root = os.path.realpath(root)
    nfc: dict[str, str] = {}
    files: list[tuple[str, str, os.stat_result]] = []
    stack: list[tuple[str, str, int]] = [("", root, 0)]
    while stack:
        rel_dir, abs_dir, depth = stack.pop()
        try:
            with os.scandir(abs_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise source_error(abs_dir, exc) from exc
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}{entry.name}"
            _check_name(rel)
            other = nfc.setdefault(rel if rel.isascii() else unicodedata.normalize("NFC", rel), rel)
            if other != rel:
                raise InvalidInputError(f"{rel!r} and {other!r} are the same name once "
                                        "Unicode-normalized (macOS would merge them)")
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                raise source_error(entry.path, exc) from exc
            if stat.S_ISLNK(st.st_mode):
                target = os.path.realpath(entry.path)
                where = ("inside the tree" if Path(target).is_relative_to(real_root)
                         else f"outside the tree ({target})")
                raise InvalidInputError(f"{rel!r} is a symlink pointing {where}; symlinks are "
                                        "not stored — copy the target in (cp -rL) if you "
                                        "mean it", path=rel)
            if stat.S_ISDIR(st.st_mode):
                if depth + 1 >= MAX_DEPTH:
                    raise InvalidInputError(f"{rel!r} is nested deeper than {MAX_DEPTH} levels")
                subdirs.append((rel + "/", entry.path, depth + 1))
            elif stat.S_ISREG(st.st_mode):
                files.append((rel, entry.path, st))
                if len(files) > MAX_ENTRIES:
                    raise InvalidInputError(f"the tree has more than {MAX_ENTRIES} files")
            else:
                raise InvalidInputError(f"{rel!r} is a FIFO, socket or device; only regular "
                                        "files and directories can be stored", path=rel)
        stack.extend(reversed(subdirs))
    return files


def _check_name(rel: str) -> None:
    # scandir decodes undecodable bytes to lone surrogates (surrogateescape).
    if not rel.isascii() and any(0xD800 <= ord(c) <= 0xDFFF for c in rel):
        raise InvalidInputError(f"{rel.encode('utf-8', 'surrogateescape')!r} is not valid "
                                "UTF-8; rename it",
                                path=rel.encode("utf-8", "surrogateescape").decode(
                                    "utf-8", "backslashreplace"))
    check_relative_path(rel, "file name")


# -- materializing -------------------------------------------------------------------------
def materialize(manifest: Manifest, blobs: Blobs, dest_dir: PathLike) -> None:
    """Write a directory version's files under ``dest_dir``, all or nothing.

    Files are written into a staging folder next to ``dest_dir`` (created ``O_EXCL``,
    opened ``O_NOFOLLOW`` through directory descriptors, each blob verified as it is
    read, modes ``0o644``/``0o755``), which is then renamed onto ``dest_dir``.

    Raises:
        InvalidInputError: ``dest_dir`` exists and is not an empty directory; or two
            entries differ only in case and the destination filesystem ignores case.
        PermissionDeniedError: ``dest_dir`` is a symlink.
        IntegrityError: a blob is missing, corrupt, or not the size the manifest says;
            nothing is left at ``dest_dir``.
        StorageError: the destination failed.
    """
    dest = os.path.abspath(os.fspath(dest_dir))
    _check_destination(dest)
    parent, name = os.path.split(dest)
    staging = os.path.join(parent, f".{name}.partial-{secrets.token_hex(6)}")
    try:
        os.makedirs(parent, exist_ok=True)
        os.mkdir(staging, 0o755)
        _check_case_collisions(manifest, staging)
        _write_tree(manifest, blobs, staging)
        os.rename(staging, dest)  # replaces an empty dest_dir atomically (POSIX rename)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise StorageError(f"cannot write {exc.filename or dest}: {exc.strerror or exc}",
                               path=dest) from exc
        raise


def _check_destination(dest: str) -> None:
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"cannot inspect {dest}: {exc.strerror}", path=dest) from exc
    if stat.S_ISLNK(st.st_mode):
        raise PermissionDeniedError(f"refusing to write through the symlink {dest}", path=dest)
    if not stat.S_ISDIR(st.st_mode) or os.listdir(dest):
        raise InvalidInputError(f"{dest} exists and is not an empty directory; choose a new "
                                "destination", path=dest)


def _check_case_collisions(manifest: Manifest, staging: str) -> None:
    folded: dict[str, str] = {}
    for e in manifest.entries:
        parts = e.path.split("/")
        keys = unicodedata.normalize("NFC", e.path).casefold().split("/")
        for depth in range(1, len(parts) + 1):
            name = "/".join(parts[:depth])
            other = folded.setdefault("/".join(keys[:depth]), name)
            if other == name:
                continue
            # Only a case-insensitive destination turns this into a clobber; the staging
            # folder's name has letters, so its case-swapped twin exists only there.
            head, tail = os.path.split(staging)
            if os.path.lexists(os.path.join(head, tail.swapcase())):
                raise InvalidInputError(f"{other!r} and {name!r} differ only in case and "
                                        "the destination filesystem ignores case")
            return


def _write_tree(manifest: Manifest, blobs: Blobs, staging: str) -> None:
    root_fd = os.open(staging, os.O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    dirs: dict[str, int] = {"": root_fd}
    try:
        for e in manifest.entries:
            dir_rel, _, name = e.path.rpartition("/")
            dir_fd = _open_dir(dirs, dir_rel)
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                         0o600, dir_fd=dir_fd)
            try:
                _copy_blob(blobs, e, fd)
                os.fchmod(fd, 0o755 if e.mode & 0o111 else 0o644)
            finally:
                os.close(fd)
    finally:
        for fd in dirs.values():
            os.close(fd)


def _open_dir(dirs: dict[str, int], rel: str) -> int:
    """A descriptor of staging-relative directory ``rel``, created if needed, reached only
    through descriptors opened ``O_NOFOLLOW``: a symlink planted mid-way is never followed."""
    if rel in dirs:
        return dirs[rel]
    if len(dirs) > _MAX_OPEN_DIRS:  # stay far below the open-file limit on wide trees
        for key in [k for k in dirs if k]:
            os.close(dirs.pop(key))
    parent, _, name = rel.rpartition("/")
    parent_fd = _open_dir(dirs, parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o755, dir_fd=parent_fd)
    fd = os.open(name, os.O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, dir_fd=parent_fd)
    dirs[rel] = fd
    return fd


def _copy_blob(blobs: Blobs, entry: ManifestEntry, fd: int) -> None:
    written = 0
    with blobs.open(entry.digest) as src:
        while chunk := src.read(READ_SIZE):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
            written += len(chunk)
    if written != entry.size:
        raise IntegrityError(f"{entry.path!r}: blob {entry.digest} has {written} bytes but the "
                             f"manifest says {entry.size}", digest=entry.digest)


def missing_blobs(manifest: Manifest, blobs: Blobs) -> list[str]:
    """Digests an (uploaded) manifest names that the store lacks."""
    return [d for d in dict.fromkeys(e.digest for e in manifest.entries) if not blobs.exists(d)]

