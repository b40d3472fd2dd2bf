"""Response helpers shared by the routers: records in their wire form, pages, 204s, and
the error responses each route documents in ``/openapi.json``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from archivist.model import Artifact
from archivist.server.schemas import ErrorBody
from archivist.wire import next_cursor


def artifacts(found: Iterable[Artifact], status: int = 200) -> JSONResponse:
    """``{"data": [Artifact]}``."""
    return JSONResponse({"data": [a.to_dict() for a in found]}, status_code=status)


def page(found: Sequence[Any], offset: int, limit: int) -> JSONResponse:
    """``{"data": [...], "next_cursor": …}`` for records with ``to_dict``."""
    return JSONResponse({"data": [item.to_dict() for item in found],
                         "next_cursor": next_cursor(offset, limit, len(found))})


def no_content() -> Response:
    return Response(status_code=204)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: the envelope for each error status it may answer."""
    text = {401: "No API key, or an invalid or revoked one.",
            403: "The key's scope is too low.",
            404: "Not found (or not visible to this key).",
            409: "Conflicts with the catalog's state.",
            413: "The body is over the server's limit.",
            422: "Invalid input (names, JSON, fields, limits)."}
    return {status: {"model": ErrorBody, "description": text.get(status, "Error.")}
            for status in (401, 422, *statuses)}


def query_docs(*params: tuple[str, str, bool]) -> dict[str, Any]:
    """``openapi_extra`` documenting query parameters that the route decodes itself
    (through :mod:`archivist.wire`, so the rules live in one place):
    ``(name, description, repeatable)``."""
    out = []
    for name, description, repeatable in params:
        schema: dict[str, Any] = {"type": "string"}
        if repeatable:
            schema = {"type": "array", "items": {"type": "string"}}
        out.append({"name": name, "in": "query", "required": False,
                    "description": description, "schema": schema,
                    **({"style": "form", "explode": True} if repeatable else {})})
    return {"parameters": out}
