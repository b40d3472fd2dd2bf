"""Artifact paths: where the ``log_*`` helpers write a readable copy of what they log.

A catalog keeps bytes content-addressed (``blobs/sha256/…``), which no one browses. An
*artifact path* (MLRun's word) is a folder the helpers also write each logged version to,
as ``<artifact_path>/<key><suffix>`` (``iris.csv``, ``model.skops``, ``roc.png``), for
people and tools that want files. The catalog's copy stays the source of truth: the
version's bytes and digest are those of the blob, the folder holds a copy, and its path
is recorded in the version's metadata as ``target_path``. A copy that is later edited or
removed changes nothing in the catalog.

The folder is, first found: the ``artifact_path=`` of the call; the run's
(``pipeline(..., artifact_path=…)``); the catalog's (``set_environment(artifact_path=…)``);
else no copy is written. It may use ``{{project}}`` (the version's project) and
``{{run.uid}}`` (the run the version is logged in; an error outside a run), and be a
local folder or a ``file://`` URL.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from archivist.errors import InvalidInputError

PROJECT = "{{project}}"
RUN_UID = "{{run.uid}}"
_RUN_DEFAULT: ContextVar[str | None] = ContextVar("archivist_artifact_path", default=None)


def check(artifact_path: object) -> str | None:
    """``artifact_path`` as given, if it is a usable template (``None`` passes).

    Raises:
        InvalidInputError: not a string or path, empty, or a URL other than ``file://``.
    """
    if artifact_path is None:
        return None
    if not isinstance(artifact_path, str | os.PathLike):
        raise InvalidInputError(f"artifact_path must be a folder path, got "
                                f"{type(artifact_path).__name__}")
    text = os.fspath(artifact_path)
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("artifact_path must be a non-empty folder path")
    if "://" in text and not text.lower().startswith("file://"):
        raise InvalidInputError(f"artifact_path {text!r}: only a local folder or a file:// "
                                "URL can hold the copies (the catalog's own store is where "
                                "the versions live)")
    return text


@contextlib.contextmanager
def run_default(artifact_path: str | None) -> Iterator[None]:
    """Make ``artifact_path`` the default of every ``log_*`` call in this block."""
    token = _RUN_DEFAULT.set(check(artifact_path))
    try:
        yield
    finally:
        _RUN_DEFAULT.reset(token)


def chosen(given: str | os.PathLike[str] | None, catalog_default: str | None) -> str | None:
    """The template in force: the call's, the run's, else the catalog's."""
    for candidate in (check(given), _RUN_DEFAULT.get(), catalog_default):
        if candidate is not None:
            return candidate
    return None


def expand(template: str, *, project: str, run_uid: str | None) -> Path:
    """The folder ``template`` names for a version of ``project`` logged in ``run_uid``.

    Raises:
        InvalidInputError: ``{{run.uid}}`` outside a run.
    """
    text = template
    if text.lower().startswith("file://"):
        text = text[len("file://"):]
    text = text.replace(PROJECT, project)
    if RUN_UID in text:
        if run_uid is None:
            raise InvalidInputError(f"artifact_path {template!r} uses {RUN_UID}, but nothing is "
                                    "logged in a run here: log inside `with pipeline(...)` or "
                                    "a step, or drop {{run.uid}}")
        text = text.replace(RUN_UID, run_uid)
    return Path(text).expanduser()


def target(folder: Path, key: str, suffix: str) -> Path:
    """``<folder>/<key><suffix>``, which must stay inside ``folder``; the folder is made.

    Raises:
        InvalidInputError: the key would leave the folder (``..``), or the folder cannot
            be made (a file is in the way, no permission).
    """
    path = folder / f"{key}{suffix}"
    if not path.resolve().is_relative_to(folder.resolve()):
        raise InvalidInputError(f"key {key!r} would write outside the artifact path {folder}")
    try:  # before anything is registered: a folder that cannot be made refuses the log
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"cannot use the artifact path {folder}: "
                                f"{exc.strerror or exc}") from None
    return path
