"""The two containers a bundle comes in: a folder, or an uncompressed ``.tar`` file.

Writing is all or nothing: a folder is built in a staging folder next to its destination
and renamed into place; a tar file is written to a temp file and hard-linked to its name
(so an existing file is never replaced). Reading treats the bundle as untrusted: every
member name must pass :func:`~archivist.store.paths.check_relative_path` (no absolute
paths, no ``..``, no backslashes, no ``.git`` aliases); a folder bundle is read through
no symlink (``lstat`` on every component, ``O_NOFOLLOW`` on the file); a tar bundle may
hold only regular files and directories, each name once.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import shutil
import stat
import tarfile
import time
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

from archivist.errors import IntegrityError, InvalidInputError, StorageError
from archivist.store.fscalls import O_CLOEXEC, O_NOFOLLOW, unlink_quietly, write_atomically
from archivist.store.hashing import Readable
from archivist.store.paths import check_relative_path

MAX_MEMBERS = 10_000_000


# -- reading -------------------------------------------------------------------------------
class BundleFiles(Protocol):
    """Read access to the members of a bundle, by relative POSIX path."""

    def has(self, name: str) -> bool:
        """Whether the bundle holds a regular file ``name``."""
        ...

    def open(self, name: str) -> BinaryIO:
        """The member's bytes (not verified: the caller knows the digest).

        Raises:
            IntegrityError: the member is missing.
            InvalidInputError: the name breaks the path rules, or the member is a
                symlink or not a regular file.
        """
        ...

    def where(self, name: str) -> str:
        """How to name the member in messages."""
        ...

    def close(self) -> None: ...


def open_files(src: Path) -> BundleFiles:
    """The members of the bundle at ``src`` (a folder, or a tar file).

    Raises:
        InvalidInputError: ``src`` is neither, or a tar file breaks the member rules.
    """
    try:
        st = src.stat()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the bundle {src}: {exc.strerror or exc}",
                                path=str(src)) from None
    if stat.S_ISDIR(st.st_mode):
        return FolderFiles(src)
    if stat.S_ISREG(st.st_mode):
        return TarFiles(src)
    raise InvalidInputError(f"the bundle {src} is neither a folder nor a .tar file")


class FolderFiles:
    """Members of a folder bundle."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, name: str) -> str:
        check_relative_path(name, "bundle member")
        current = str(self.root)
        for part in name.split("/"):
            current = os.path.join(current, part)
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                raise IntegrityError(f"the bundle {self.root} lacks {name!r}",
                                     path=name) from None
            except OSError as exc:
                raise StorageError(f"cannot read {current}: {exc.strerror}") from exc
            if stat.S_ISLNK(mode):
                raise InvalidInputError(f"the bundle member {name!r} passes through a "
                                        "symlink; bundles are read through none", path=name)
        if not stat.S_ISREG(mode):
            raise InvalidInputError(f"the bundle member {name!r} is not a regular file",
                                    path=name)
        return current

    def has(self, name: str) -> bool:
        try:
            self._path(name)
        except IntegrityError:
            return False
        return True

    def open(self, name: str) -> BinaryIO:
        path = self._path(name)
        try:
            fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        except OSError as exc:
            raise InvalidInputError(f"cannot open the bundle member {name!r}: "
                                    f"{exc.strerror}", path=name) from None
        return os.fdopen(fd, "rb")

    def where(self, name: str) -> str:
        return os.path.join(str(self.root), name)

    def close(self) -> None:
        return None


class TarFiles:
    """Members of a tar bundle, indexed once (every header checked before any is used)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._tar = tarfile.open(path, mode="r:")  # noqa: SIM115  # closed by close()
        except (tarfile.TarError, OSError) as exc:
            raise InvalidInputError(f"the bundle {path} is not an uncompressed tar file "
                                    f"({exc})", path=str(path)) from None
        try:
            self._members = self._index()
        except BaseException:
            self._tar.close()
            raise

    def _index(self) -> dict[str, tarfile.TarInfo]:
        members: dict[str, tarfile.TarInfo] = {}
        for count, info in enumerate(self._tar, start=1):
            if count > MAX_MEMBERS:
                raise InvalidInputError(f"the bundle has more than {MAX_MEMBERS} members")
            name = info.name[:-1] if info.isdir() and info.name.endswith("/") else info.name
            check_relative_path(name, "bundle member")
            if info.isdir():
                continue
            if not info.isreg():
                raise InvalidInputError(f"the bundle member {name!r} is a link or special "
                                        "file; bundles hold regular files only", path=name)
            if name in members:
                raise InvalidInputError(f"the bundle holds {name!r} twice", path=name)
            members[name] = info
        return members

    def has(self, name: str) -> bool:
        return name in self._members

    def open(self, name: str) -> BinaryIO:
        check_relative_path(name, "bundle member")
        info = self._members.get(name)
        if info is None:
            raise IntegrityError(f"the bundle {self.path} lacks {name!r}", path=name)
        member = self._tar.extractfile(info)
        assert member is not None  # regular files always have a reader
        return member  # type: ignore[return-value]  # tarfile's reader is a BufferedReader

    def where(self, name: str) -> str:
        return f"{self.path}:{name}"

    def close(self) -> None:
        self._tar.close()


# -- writing -------------------------------------------------------------------------------
class BundleWriter:
    """Writes the members of a new bundle at ``dest`` (a ``.tar`` file when the name ends
    in ``.tar``, else a folder); use as a context manager: the bundle appears at ``dest``
    only when the block ends without an error.

    Raises:
        InvalidInputError: ``dest`` exists (a folder may exist if it is empty).
    """

    def __init__(self, dest: Path) -> None:
        self.dest = dest.absolute()
        self.tar_mode = dest.name.endswith(".tar")
        _check_free(self.dest, allow_empty_dir=not self.tar_mode)
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self._staging = self.dest.parent / f".{self.dest.name}.partial-{secrets.token_hex(6)}"
        self._tar: tarfile.TarFile | None = None
        self._mtime = int(time.time())

    def __enter__(self) -> BundleWriter:
        try:
            if self.tar_mode:
                self._tar = tarfile.open(self._staging, mode="x:", format=tarfile.PAX_FORMAT)
            else:
                self._staging.mkdir()
        except OSError as exc:
            raise StorageError(f"cannot create {self._staging}: {exc.strerror}") from exc
        return self

    def add(self, name: str, source: Readable, size: int) -> None:
        """Add a member with exactly ``size`` bytes read from ``source``."""
        check_relative_path(name, "bundle member")
        if self._tar is not None:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = size, 0o644, self._mtime
            try:
                self._tar.addfile(info, source)
            except OSError as exc:
                raise StorageError(f"cannot write {self._staging}: {exc}") from exc
            return
        target = self._staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        written = write_atomically(target, source)
        if written != size:
            raise IntegrityError(f"{name}: wrote {written} bytes, expected {size}")

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add(name, io.BytesIO(data), len(data))

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._tar is not None:
            self._tar.close()
        if kind is not None:
            self._discard()
            return
        try:
            if self.tar_mode:
                with open(self._staging, "rb") as f:
                    os.fsync(f.fileno())
                os.link(self._staging, self.dest)  # fails rather than replace a file
                os.unlink(self._staging)
            else:
                os.rename(self._staging, self.dest)  # onto an empty folder, or a new name
        except OSError as exc:
            self._discard()
            if isinstance(exc, FileExistsError) or exc.errno == errno.ENOTEMPTY:
                raise InvalidInputError(f"{self.dest} appeared while the bundle was written; "
                                        "nothing was replaced", path=str(self.dest)) from None
            raise StorageError(f"cannot move the bundle to {self.dest}: {exc.strerror}") \
                from exc

    def _discard(self) -> None:
        if self.tar_mode:
            unlink_quietly(str(self._staging))
        else:
            shutil.rmtree(self._staging, ignore_errors=True)


def _check_free(dest: Path, *, allow_empty_dir: bool) -> None:
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"cannot inspect {dest}: {exc.strerror}") from exc
    if allow_empty_dir and stat.S_ISDIR(st.st_mode) and not os.listdir(dest):
        return
    raise InvalidInputError(f"{dest} already exists; export to a new path (a bundle is "
                            "never written over anything)", path=str(dest))
