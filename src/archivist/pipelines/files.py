"""Files and folders a step returns: their bytes are the artifact, not the path.

A ``@step`` (or a flow step's attribute) whose value is a :class:`File`, a
:class:`Directory` or a :class:`pathlib.Path` stores the file's bytes (kind ``file``,
type ``File``) or the folder's files (kind ``directory``, type ``Directory``), with the
step's partitions and run links, as Flyte stores a returned ``FlyteFile`` or
``FlyteDirectory``::

    @step
    @partition_by_date(key="report_date")
    def generate_daily_report(report_date: datetime) -> File:
        Path("report.txt").write_text(f"Daily report for {report_date:%Y-%m-%d}")
        return File("report.txt")

``File``/``Directory`` say what is meant, and check it (a missing file, or a folder
given as a ``File``, is an error); a plain ``Path`` is either, whichever it names. A path
that does not exist is an :class:`~archivist.errors.InvalidInputError`: a step that
returns a path means its file.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

from archivist.errors import InvalidInputError


class File(os.PathLike[str]):
    """A file a step returns: stored as the file's bytes (Flyte's ``FlyteFile``)."""

    kind = "file"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise InvalidInputError(f"{type(self).__name__} takes a non-empty path, got "
                                    f"{path!r:.60}")
        self.path = Path(path)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({os.fspath(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, File) and type(other) is type(self) and other.path == self.path

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.path))


class Directory(File):
    """A folder a step returns: stored as its files (Flyte's ``FlyteDirectory``)."""

    kind = "directory"


def stored_path(value: object, what: str) -> Path | None:
    """The file or folder to store for ``value`` (a :class:`File`, :class:`Directory` or
    :class:`pathlib.Path`); ``None`` for any other value (stored through a materializer).

    Raises:
        InvalidInputError: the path does not exist, or is not what the wrapper says.
    """
    if isinstance(value, File):
        path = value.path
        expected: str | None = value.kind
    elif isinstance(value, PurePath):
        path, expected = Path(value), None
    else:
        return None
    if not path.exists():
        raise InvalidInputError(f"{what} is the path {os.fspath(path)!r}, which does not "
                                "exist: write the file before returning it")
    if expected == "file" and not path.is_file():
        raise InvalidInputError(f"{what} is File({os.fspath(path)!r}), which is not a "
                                "regular file (a folder is a Directory)")
    if expected == "directory" and not path.is_dir():
        raise InvalidInputError(f"{what} is Directory({os.fspath(path)!r}), which is not a "
                                "folder")
    return path
