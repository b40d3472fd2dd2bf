"""Every error the server answers with, in one envelope (STYLE P17, P18)::

    {"error": {"type": "not_found", "code": "not_found", "message": "…", "details": {…}}}

``type`` is the ``code`` of an :mod:`archivist.errors` class and the status is that
class's ``status``; the remote backend rebuilds the same class from ``type``
(:func:`archivist.wire.error_from_dict`). Request validation failures (malformed JSON,
missing or unknown fields, wrong types) are ``invalid_input`` (422); unknown routes
``not_found`` (404); a wrong method ``method_not_allowed`` (405); a body over the limit
``too_large`` (413); anything unexpected ``internal_error`` (500, logged with its
traceback, never shown to the client).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from archivist.errors import (
    ArchivistError,
    ArtifactNotFoundError,
    InvalidInputError,
    PayloadTooLargeError,
)
from archivist.store.objectstore import unreachable
from archivist.wire import error_to_dict

log = logging.getLogger("archivist.server")
_MAX_REPORTED = 20
#: Seconds a client is asked to wait after a 503 before it retries.
RETRY_AFTER = 2


def error_response(error: ArchivistError) -> JSONResponse:
    """The envelope response for a typed error, with its class's status (and
    ``Retry-After`` on a 503: the database or the store is down for now)."""
    headers = ({"WWW-Authenticate": "Bearer"} if error.status == 401 else
               {"Retry-After": str(RETRY_AFTER)} if error.status == 503 else None)
    return JSONResponse(error_to_dict(error), status_code=error.status, headers=headers)


def envelope(status: int, code: str, message: str,
             details: dict[str, Any] | None = None) -> JSONResponse:
    """An envelope for a status no :mod:`archivist.errors` class answers (405, 500)."""
    body = {"error": {"type": code, "code": code, "message": message,
                      "details": details or {}}}
    return JSONResponse(body, status_code=status)


def validation_error(errors: Sequence[Any]) -> InvalidInputError:
    """One ``invalid_input`` error listing what failed, as ``where: what``."""
    reported = []
    for item in list(errors)[:_MAX_REPORTED]:
        loc = ".".join(str(part) for part in item.get("loc", ()))
        reported.append({"loc": loc, "msg": str(item.get("msg", "")),
                         "type": str(item.get("type", ""))})
    summary = "; ".join(f"{r['loc']}: {r['msg']}" for r in reported[:5])
    return InvalidInputError(f"invalid request: {summary}", errors=reported)


async def _archivist(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ArchivistError)
    return error_response(exc)


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(validation_error(exc.errors()))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(ArtifactNotFoundError(
            f"no such endpoint: {request.method} {request.url.path} (see /openapi.json)"))
    if exc.status_code == 405:
        return envelope(405, "method_not_allowed",
                        f"{request.method} is not allowed on {request.url.path}")
    if exc.status_code == 413:
        return error_response(PayloadTooLargeError(str(exc.detail)))
    if exc.status_code < 500:
        return error_response(InvalidInputError(str(exc.detail)))
    return envelope(exc.status_code, "internal_error", str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    down = unreachable(request.url.path, exc)
    if down is not None:  # a store call no wrapper caught: still "unavailable", not a bug
        log.warning("blob store unreachable on %s %s: %s", request.method, request.url.path,
                    exc)
        return error_response(down)
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return envelope(500, "internal_error",
                    "the server failed unexpectedly; the error is in its log")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ArchivistError, _archivist)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
