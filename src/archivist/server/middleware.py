"""Plain ASGI middlewares: the request log line + metrics, the JSON body limit, and the
loopback-only guard of single-user mode.

The log is one JSON object per request on the ``archivist.server`` logger::

    {"method": "GET", "path": "/api/v1/projects/p/versions", "route": "/api/v1/…",
     "status": 200, "ms": 3.1}
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archivist.errors import PayloadTooLargeError, PermissionDeniedError
from archivist.server.errors import error_response
from archivist.server.metrics import ServerMetrics
from archivist.server.settings import is_loopback

log = logging.getLogger("archivist.server")
#: Blob uploads stream their own (much larger) body and count it themselves.
BLOB_UPLOAD = re.compile(r"^/api/v1/projects/[^/]+/blobs/[^/]+$")


class RequestLog:
    """Times every HTTP request; logs its line and feeds the metrics when it ends."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - start
            route = _route_of(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            log.info(json.dumps({"method": scope["method"], "path": scope["path"],
                                 "route": route, "status": status,
                                 "ms": round(elapsed * 1000, 2)}))


def _route_of(scope: Scope) -> str:
    # The path template, not the path: one metrics series per route, whatever the ids.
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class BodyLimit:
    """Refuses a non-blob request body over ``limit`` bytes with 413: at once when
    ``Content-Length`` says so, else as soon as the streamed body passes the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "PUT"
                                       and BLOB_UPLOAD.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            response = error_response(self._error(declared))
            await response(scope, receive, send)
            return
        seen = 0

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # FastAPI re-raises an HTTPException from reading the body; the
                    # handler turns it into the ``too_large`` envelope.
                    raise HTTPException(413, self._error(seen).message)
            return message

        await self.app(scope, counting, send)

    def _error(self, size: int) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"the request body is over this server's limit of {self.limit} bytes (at least "
            f"{size} sent); send fewer records per request", limit=self.limit)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


#: Methods that change something: a cross-site page must not be able to send them.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoopbackOnly:
    """For ``--insecure-single-user`` (no keys): answer only requests meant for this
    machine, and no write that another site's page sends.

    * The ``Host`` header must name loopback (``localhost``, ``127.0.0.1``, ``[::1]``, any
      port): a page of ``attacker.example`` whose name a DNS rebinding pointed at
      127.0.0.1 sends its own name, and is refused.
    * A write (``POST``/``PUT``/``PATCH``/``DELETE``) is refused when the browser says it
      comes from another site: ``Sec-Fetch-Site`` other than ``same-origin`` or ``none``
      (typed by the user), or an ``Origin`` that is not loopback. Clients that are not
      browsers (the Python client, curl) send neither header and pass.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1")
                   for key, value in scope.get("headers", ())}
        reason = _foreign(scope["method"], headers)
        if reason is None:
            await self.app(scope, receive, send)
            return
        response = error_response(PermissionDeniedError(
            f"this single-user server answers only its own machine: {reason}", reason=reason))
        await response(scope, receive, send)


def _foreign(method: str, headers: dict[str, str]) -> str | None:
    """Why a request does not come from this machine's own pages and tools, or None."""
    host = headers.get("host", "")
    if not _loopback_authority(host):
        return f"the Host header {host[:100]!r} does not name localhost or 127.0.0.1"
    if method not in UNSAFE_METHODS:
        return None
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"a write sent from another site (Sec-Fetch-Site: {site[:40]})"
    origin = headers.get("origin")
    if origin is not None:
        scheme, sep, authority = origin.partition("://")
        if not sep or scheme not in ("http", "https") or not _loopback_authority(authority):
            return f"a write sent from another origin ({origin[:100]!r})"
    return None


def _loopback_authority(authority: str) -> bool:
    """Whether ``host[:port]`` names loopback (``[::1]:8765`` included)."""
    if authority.startswith("["):
        name, _, rest = authority[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        name, _, port = authority.partition(":")
    return bool(name) and (not port or port.isdigit()) and is_loopback(name)
