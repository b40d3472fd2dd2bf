"""Lineage walks from a version."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from archivist import wire
from archivist.server import responses
from archivist.server.deps import ServiceDep
from archivist.server.schemas import LineageOut

router = APIRouter(prefix="/api/v1", tags=["lineage"])


@router.get("/versions/{version_id}/lineage", response_model=LineageOut,
            responses=responses.errors(403, 404))
def lineage(
    version_id: str, service: ServiceDep,
    direction: Annotated[Literal["up", "down", "both"], Query(
        description="up: parents and ancestors; down: children and descendants.")] = "both",
    depth: Annotated[int | None, Query(ge=1, le=1000, description=(
        "Hops to walk; omit for unbounded."))] = None,
) -> JSONResponse:
    """Parents/children one hop away, ids within `depth` hops, and the edges among them."""
    return JSONResponse(wire.lineage_to_dict(service.lineage(version_id, direction, depth)))
