"""Search in the query language (docs/query-language.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from archivist import wire
from archivist.errors import InvalidInputError
from archivist.server import responses
from archivist.server.deps import ReadProject, ServiceDep
from archivist.server.schemas import ArtifactPage

router = APIRouter(prefix="/api/v1", tags=["search"])

_QUERY = responses.query_docs(
    ("q", "The query, e.g. `type:model AND tag.stage:production`.", False),
    ("limit", "Page size, 1-1000 (default 100).", False),
    ("cursor", "next_cursor of the previous page.", False),
)


@router.get("/projects/{project}/search", response_model=ArtifactPage,
            responses=responses.errors(403, 404), openapi_extra=_QUERY)
def search(project: ReadProject, request: Request, service: ServiceDep) -> JSONResponse:
    """Live versions matching a query, in the query's order."""
    items = request.query_params.multi_items()
    limit, offset = wire.page_from_params(items, known=("q",))
    queries = [value for key, value in items if key == "q"]
    if len(queries) != 1:
        raise InvalidInputError("give the query once, as q=…")
    found = service.search(project, queries[0], limit, offset)
    return responses.page(found, offset, limit)
