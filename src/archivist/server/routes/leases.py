"""Leases: blobs a registration in flight holds, so a concurrent gc keeps them."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from archivist.errors import InvalidInputError
from archivist.server import responses
from archivist.server.checks import check_version_id
from archivist.server.deps import ReadProject, StateDep, WriteProject
from archivist.server.schemas import Lease, Leased
from archivist.store.hashing import check_digest

router = APIRouter(prefix="/api/v1/projects/{project}/leases", tags=["leases"])


@router.put("/{token}", status_code=204, response_class=Response,
            responses=responses.errors(403, 404, 409))
def lease(project: WriteProject, token: str, body: Lease, state: StateDep) -> Response:
    """Record (or extend) a lease on these digests until `expires_at` (epoch seconds).
    The token is the id of the version being registered; the lease is the project's
    (a lease only keeps bytes from gc: it never lets the project read them)."""
    check_version_id(token, "lease token")
    digests = [check_digest(d) for d in body.digests]
    if not math.isfinite(body.expires_at):
        raise InvalidInputError("expires_at must be a time in epoch seconds")
    state.store.lease_project_blobs(project, token, digests, body.expires_at)
    return responses.no_content()


@router.delete("/{token}", status_code=204, response_class=Response,
               responses=responses.errors(403, 404))
def release(project: WriteProject, token: str, state: StateDep) -> Response:
    """Drop one of the project's leases (the registration committed or failed); an
    unknown token is fine."""
    check_version_id(token, "lease token")
    state.store.release_project_blobs(project, token)
    return responses.no_content()


@router.get("", response_model=Leased, responses=responses.errors(403, 404))
def leased(project: ReadProject, state: StateDep,
           now: Annotated[float, Query(description="Epoch seconds.")]) -> JSONResponse:
    """Digests under a lease of the project that has not expired at `now` (gc keeps
    every project's leased digests; each project sees only its own leases)."""
    if not math.isfinite(now):
        raise InvalidInputError("now must be a time in epoch seconds")
    return JSONResponse({"digests": sorted(state.store.project_leased_digests(project, now))})
