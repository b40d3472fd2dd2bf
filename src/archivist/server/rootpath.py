"""Serving under a path prefix (``archivist server --root-path /catalog``), as a reverse
proxy mounts an app at ``https://host/catalog/``.

Proxies differ: some strip the prefix before passing a request on (nginx ``proxy_pass``
with a trailing ``/``), some keep it. :class:`RootPath` answers both, and a client that
talks to the server directly at ``http://server:8765/catalog/…`` too: it sets the ASGI
``root_path`` and puts the prefix in front of a path that lacks it, so the routes see
the same request either way (Starlette strips ``root_path`` before matching) and URLs
built from the request carry the prefix. What the app writes itself is fixed on the way
out: a redirect's ``Location`` that starts with ``/``, and the ``href``/``src``/``action``
attributes of the UI's pages (:func:`prefix_links`, applied when a page is rendered).
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archivist.errors import InvalidInputError

_LINK = re.compile(r'(\s(?:href|src|action)=")/(?!/)')
_SEGMENT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%-]+")


def check_root_path(value: str) -> str:
    """``value`` as a root path: ``""``, or ``/segment[/segment…]`` without a trailing
    slash (one is dropped).

    Raises:
        InvalidInputError: anything else (a URL, ``..``, empty segments, a query).
    """
    text = value.rstrip("/")
    if not text:
        return ""
    segments = text.split("/")
    if segments[0] != "" or any(not _SEGMENT.fullmatch(s) or s in (".", "..")
                                for s in segments[1:]):
        raise InvalidInputError(f"--root-path {value!r}: give the path a proxy serves the "
                                "catalog under, such as /catalog or /api/v1/catalog")
    return text


def prefix_links(html: str, root: str) -> str:
    """``html`` with its site-absolute ``href``, ``src`` and ``action`` links under
    ``root`` (``"/search"`` becomes ``"/catalog/search"``); unchanged without a root."""
    if not root:
        return html
    return _LINK.sub(lambda m: f"{m.group(1)}{root}/", html)


class RootPath:
    """ASGI middleware: the app answers under ``root``, with or without the prefix in
    the request path (see the module's text)."""

    def __init__(self, app: ASGIApp, root: str) -> None:
        self.app = app
        self.root = check_root_path(root)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.root or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path != self.root and not path.startswith(self.root + "/"):
            path = self.root + path
        raw = scope.get("raw_path")
        if raw is not None and not raw.startswith(self.root.encode() + b"/"):
            raw = self.root.encode() + raw
        scope = {**scope, "root_path": self.root, "path": path, "raw_path": raw}

        async def send_prefixed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [self._location(k, v)
                                                  for k, v in message.get("headers", [])]}
            await send(message)

        await self.app(scope, receive, send_prefixed)

    def _location(self, key: bytes, value: bytes) -> tuple[bytes, bytes]:
        root = self.root.encode()
        if (key.lower() == b"location" and value.startswith(b"/")
                and not value.startswith(b"//") and value != root
                and not value.startswith(root + b"/")):
            return key, root + value
        return key, value
