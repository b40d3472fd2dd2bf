"""Liveness, metrics, and the project list."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from archivist.server import responses
from archivist.server.deps import PrincipalDep, ServiceDep, StateDep
from archivist.server.errors import RETRY_AFTER
from archivist.server.metrics import CONTENT_TYPE
from archivist.server.schemas import Health, ProjectList, Ready

router = APIRouter(tags=["server"])


@router.get("/health", response_model=Health)
def health() -> JSONResponse:
    """`{"status": "ok"}` while the process serves (no key needed)."""
    return JSONResponse({"status": "ok"})


@router.get("/health/ready", response_model=Ready, responses={
    503: {"model": Ready, "description": "The database or the blob store fails; "
          "`checks` says which, and how."}})
def ready(state: StateDep) -> JSONResponse:
    """Readiness (no key needed): `200` when the database and the blob store both answer,
    else `503` with `Retry-After`; `checks` holds `"ok"` or the error of each. `/health`
    stays liveness: it answers while the process serves, whatever the database does."""
    checks = state.ready()
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ok", "checks": checks})
    return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503,
                        headers={"Retry-After": str(RETRY_AFTER)})


@router.get("/metrics", response_class=Response, responses={
    200: {"description": "Prometheus text format.",
          "content": {"text/plain": {"schema": {"type": "string"}}}},
    **responses.errors()})
def metrics(state: StateDep, principal: PrincipalDep) -> Response:
    """Request counts and latencies, blob bytes in and out, live versions."""
    principal.require("read")
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/api/v1/projects", response_model=ProjectList, responses=responses.errors())
def projects(service: ServiceDep) -> JSONResponse:
    """The projects this key sees: its own (every project with versions when the server
    runs without keys)."""
    return JSONResponse({"data": service.projects()})

