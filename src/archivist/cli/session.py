"""The global options (``--home``, ``--project``) and opening the catalog they name.

Every command opens the catalog through :func:`open_catalog`; only ``init`` and ``add``
may create a new one, so a typo in ``--home`` on ``ls`` says "no catalog here" instead of
quietly making an empty catalog.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import typer

from archivist.catalog import ArtifactCatalog
from archivist.cli import output
from archivist.config import resolve
from archivist.errors import ArchivistError

#: The file that marks a folder as a local catalog (see ``ArtifactCatalog``).
CATALOG_FILE = "catalog.db"


@dataclass(frozen=True)
class Session:
    """What the global options said; stored on the Typer context as ``ctx.obj``."""

    home: str | None = None
    project: str | None = None

    def local_home(self) -> Path | None:
        """The folder of the local catalog, or ``None`` for a URL or a server endpoint."""
        if self.home is not None:
            return None if "://" in self.home else Path(self.home).expanduser()
        target = resolve()
        return None if target.endpoint else target.home


def session_of(ctx: typer.Context) -> Session:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Session) else Session()


@contextlib.contextmanager
def open_catalog(ctx: typer.Context, *, create: bool = False,
                 at: str | None = None) -> Iterator[ArtifactCatalog]:
    """Open (and close) the catalog, or the one ``at`` names (a folder or URL) instead of
    ``--home``; warnings it emits become ``note:`` lines.

    Raises:
        ArchivistError: there is no catalog at the home and ``create`` is false.
    """
    session = session_of(ctx)
    if at is not None:
        session = replace(session, home=at)
    home = session.local_home()
    if not create and home is not None and not (home / CATALOG_FILE).is_file():
        raise ArchivistError(
            f"no archivist catalog at {home}: run 'archivist init' to create one, or point "
            "--home (or ARCHIVIST_HOME) at an existing catalog")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            with ArtifactCatalog(session.home, project=session.project) as catalog:
                yield catalog
        finally:
            output.show_warnings(caught)
