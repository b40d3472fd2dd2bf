"""Two plain ASGI middlewares: the request log line + metrics, and the JSON body limit.

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

from archivist.errors import PayloadTooLargeError
from archivist.server.errors import error_response
from archivist.server.metrics import ServerMetrics

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
