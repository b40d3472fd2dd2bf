"""Logging in with an API key, logging out, and choosing a project (single user)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from archivist.errors import UnauthenticatedError
from archivist.server.ui.render import page
from archivist.server.ui.routing import UiRoute
from archivist.server.ui.session import (
    KEY_COOKIE,
    check_same_origin,
    safe_next,
    state_of,
)

router = APIRouter(route_class=UiRoute, include_in_schema=False)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    state = state_of(request)
    if state.settings.insecure_single_user:
        return RedirectResponse(safe_next(next), status_code=303)
    message = "log in again" if request.cookies.get(KEY_COOKIE) else None
    return page(request, "login.html", {"title": "Log in", "next": safe_next(next),
                                        "message": message})


@router.post("/login")
def login(request: Request, key: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/") -> Response:
    check_same_origin(request)
    state = state_of(request)
    try:
        state.keys.authenticate(key.strip())
    except UnauthenticatedError:
        return page(request, "login.html", {"title": "Log in", "next": safe_next(next),
                                            "message": "that API key is not valid"},
                    status=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(KEY_COOKIE, key.strip(), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    check_same_origin(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(KEY_COOKIE, path="/", httponly=True, samesite="strict")
    return response
