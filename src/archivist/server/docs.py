"""``/docs`` with no internet: Swagger UI's files come from the ``swagger-ui-bundle-v2`` package.

FastAPI's own ``/docs`` page loads Swagger UI's script and stylesheet from a CDN (and its
favicon from fastapi.tiangolo.com), so it is blank on a machine without internet access.
The app is made with ``docs_url=None, redoc_url=None`` and :func:`install_docs` adds:

* ``/docs``: FastAPI's Swagger UI page, pointing at the files below;
* ``/docs/static/<file>``: the few Swagger UI files that page needs, from the installed
  package (nothing else of its folder: its ``index.html`` would load a demo API from the
  internet);
* ``/docs/oauth2-redirect``: FastAPI's OAuth2 redirect page, when the app has one set.

FastAPI writes OpenAPI 3.1, which Swagger UI reads from version 5 on (4.x shows "Unable
to render this definition"): the package must bring Swagger UI 5 or later.

The page holds an inline ``<script>`` (Swagger UI's start-up call, written by FastAPI): a
Content-Security-Policy on ``/docs`` needs ``script-src 'self'`` plus ``'unsafe-inline'``
or that script's hash, and ``img-src 'self' data:`` (Swagger UI's icons are ``data:``
SVGs); ``style-src 'self'`` and ``connect-src 'self'`` are enough.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
STATIC_PATH = f"{DOCS_PATH}/static"
#: What the page loads (and the source maps a browser's developer tools ask for).
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui-bundle.js.map", "swagger-ui.css",
                    "swagger-ui.css.map", "favicon-32x32.png", "favicon-16x16.png"})


def swagger_ui_folder() -> Path:
    """The folder of Swagger UI's files in the installed ``swagger-ui-bundle`` package
    (named ``swagger-ui-<version>``)."""
    return Path(str(swagger_ui_path))


class _SwaggerAssets(StaticFiles):
    """The package's folder, but only the files in :data:`ASSETS` (others are 404)."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if path not in ASSETS:
            return "", None
        return super().lookup_path(path)


def install_docs(app: FastAPI) -> None:
    """Add ``/docs`` (Swagger UI, served locally) to ``app``; nothing when it has no
    OpenAPI document (``openapi_url=None``).

    ``app`` is made with ``docs_url=None`` (and ``redoc_url=None``): otherwise FastAPI's
    own ``/docs``, which loads from a CDN, is routed first.
    """
    openapi_url = app.openapi_url
    if not openapi_url:
        return
    redirect_url = app.swagger_ui_oauth2_redirect_url

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_PATH}/favicon-32x32.png",
            oauth2_redirect_url=root + redirect_url if redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    app.mount(STATIC_PATH, _SwaggerAssets(directory=swagger_ui_folder()), name="swagger-ui")
    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
    if redirect_url:

        async def oauth2_redirect(request: Request) -> HTMLResponse:
            del request
            return get_swagger_ui_oauth2_redirect_html()

        app.add_route(redirect_url, oauth2_redirect, include_in_schema=False)
