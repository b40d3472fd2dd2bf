"""The web UI (docs/ui.md): server-rendered pages under ``/``, with the server's auth.

Every page is a Jinja2 template filled from the caller's
:class:`~archivist.server.service.Service`, the operations the REST API runs: one data
path for both, so the UI works on every store the server does.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from archivist.server.ui.pages import (
    account,
    artifacts,
    compare,
    content,
    home,
    lineage,
    runs,
    search,
    versions,
)
from archivist.server.ui.render import STATIC_PREFIX

STATIC = Path(__file__).parent / "static"
PAGES = (account, home, search, artifacts, versions, content, compare, lineage, runs)


def install(app: FastAPI) -> None:
    """Mount the UI's pages and its static files on ``app``."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="ui-static")
    for module in PAGES:
        app.include_router(module.router)
