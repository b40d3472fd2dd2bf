"""Which blob store a target names: :func:`open_blobs`.

    open_blobs(home / "blobs")                    # LocalBlobs: plain os calls, fsync
    open_blobs("s3://bucket/archivist")           # FsspecBlobs through s3fs
    open_blobs("memory://t", storage_options={})  # FsspecBlobs (tests)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from archivist._types import PathLike
from archivist.store.blobs import Blobs, FsspecBlobs
from archivist.store.fscalls import FsCalls
from archivist.store.localfs import LocalBlobs


def is_local_target(target: PathLike) -> bool:
    """Whether ``target`` names a local folder (a path or a ``file://`` URL)."""
    text = os.fspath(target)
    return "://" not in text or text.startswith(("file://", "local://"))


def open_blobs(target: PathLike, *, storage_options: Mapping[str, Any] | None = None,
               fs_calls: FsCalls | None = None) -> Blobs:
    """The blob store at ``target``: a local folder (or ``file://`` URL) is a
    :class:`LocalBlobs`, any other fsspec URL an :class:`FsspecBlobs`.

    Args:
        storage_options: passed to the fsspec filesystem (endpoint, credentials…);
            a local folder needs none.
        fs_calls: the filesystem-call seam of a local store (tests inject faults here).

    Raises:
        InvalidInputError: an fsspec URL it cannot parse.
        MissingDependencyError: the fsspec driver for the URL is not installed.
    """
    if is_local_target(target):
        return LocalBlobs(target, fs_calls=fs_calls)
    return FsspecBlobs(target, storage_options=storage_options)
