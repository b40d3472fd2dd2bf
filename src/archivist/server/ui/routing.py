"""UI routes answer in HTML, errors included: a typed error becomes a page with the
error's status (404 for what does not exist or is not visible), a missing login a
redirect to the login page. The REST API under ``/api`` keeps its JSON envelope."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from archivist.errors import ArchivistError
from archivist.server.ui.render import page
from archivist.server.ui.session import KEY_COOKIE, LoginRequired, login_url

log = logging.getLogger("archivist.server")


class UiRoute(APIRoute):
    """An APIRoute whose errors are pages, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                response = RedirectResponse(login_url(exc.next_url), status_code=303)
                if exc.message:
                    response.delete_cookie(KEY_COOKIE, path="/")
                return response
            except ArchivistError as exc:
                return error_page(request, exc.status, exc.code, exc.message)
            except RequestValidationError as exc:
                reasons = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}"
                                    for e in exc.errors()[:5])
                return error_page(request, 422, "invalid_input", reasons)
            except HTTPException:
                raise
            except Exception:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                return error_page(request, 500, "internal_error",
                                  "the server failed unexpectedly; the error is in its log")

        return handle


def error_page(request: Request, status: int, code: str, message: str) -> Response:
    titles = {401: "Log in needed", 403: "Not allowed", 404: "Not found",
              409: "Conflict", 422: "Invalid input"}
    return page(request, "error.html", {"status": status, "code": code, "message": message,
                                        "title": titles.get(status, "Error")},
                status=status)
