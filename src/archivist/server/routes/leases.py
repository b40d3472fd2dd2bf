"""Leases: blobs a registration in flight holds, so a concurrent gc keeps them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from archivist.server import responses
from archivist.server.deps import ReadProject, ServiceDep, WriteProject
from archivist.server.schemas import Lease, Leased

router = APIRouter(prefix="/api/v1/projects/{project}/leases", tags=["leases"])


@router.put("/{token}", status_code=204, response_class=Response,
            responses=responses.errors(403, 404, 409))
def lease(project: WriteProject, token: str, body: Lease, service: ServiceDep) -> Response:
    """Record (or extend) a lease on these digests until `expires_at` (epoch seconds).
    The token is the id of the version being registered; the lease is the project's
    (a lease only keeps bytes from gc: it never lets the project read them)."""
    service.lease(project, token, body.digests, body.expires_at)
    return responses.no_content()


@router.delete("/{token}", status_code=204, response_class=Response,
               responses=responses.errors(403, 404))
def release(project: WriteProject, token: str, service: ServiceDep) -> Response:
    """Drop one of the project's leases (the registration committed or failed); an
    unknown token is fine."""
    service.release(project, token)
    return responses.no_content()


@router.get("", response_model=Leased, responses=responses.errors(403, 404))
def leased(project: ReadProject, service: ServiceDep,
           now: Annotated[float, Query(description="Epoch seconds.")]) -> JSONResponse:
    """Digests under a lease of the project that has not expired at `now` (gc keeps
    every project's leased digests; each project sees only its own leases)."""
    return JSONResponse({"digests": service.leased(project, now)})
