"""Liveness, metrics, and the project list."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from archivist.server import responses
from archivist.server.deps import PrincipalDep, ServiceDep, StateDep
from archivist.server.metrics import CONTENT_TYPE
from archivist.server.schemas import Health, ProjectList

router = APIRouter(tags=["server"])


@router.get("/health", response_model=Health)
def health() -> JSONResponse:
    """`{"status": "ok"}` while the process serves (no key needed)."""
    return JSONResponse({"status": "ok"})


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

