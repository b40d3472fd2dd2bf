"""Progress display for long transfers, on stderr.

The library stays free of Rich (STYLE P8): ``download`` takes a plain
``progress(done, total)`` callable, and this module supplies one that drives a Rich bar.
Registration has no callback, so ``add`` shows a spinner while the catalog hashes and
stores. Below :data:`THRESHOLD` bytes, or when stderr is not a terminal, nothing is
shown, so pipes and CI logs stay clean.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from archivist.cli import output

THRESHOLD = 4 * 1024 * 1024  # 4 MB: smaller transfers finish before a bar is worth drawing

Callback = Callable[[int, int | None], None]


def _quiet(done: int, total: int | None) -> None:
    """The callback for small transfers: does nothing (a null object, STYLE P8)."""


@contextlib.contextmanager
def transfer_bar(description: str, size: int | None) -> Iterator[Callback]:
    """Yield a ``progress(done, total)`` callback; a bar when ``size`` is over the threshold."""
    console = output.stderr()
    if size is None or size <= THRESHOLD or not console.is_terminal:
        yield _quiet
        return
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=size)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total or size)

        yield update


@contextlib.contextmanager
def hashing_spinner(path: Path) -> Iterator[None]:
    """A spinner while ``add`` hashes and stores a big file or any directory."""
    try:
        info = path.stat()
    except (OSError, ValueError):  # ValueError: a NUL in the path
        yield  # the catalog reports the unreadable path
        return
    console = output.stderr()
    if console.is_terminal and (path.is_dir() or info.st_size > THRESHOLD):
        with console.status(Text(f"hashing and storing {path.name or path} …")):
            yield
    else:
        yield
