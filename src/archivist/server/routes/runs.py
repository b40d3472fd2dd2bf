"""Runs of pipelines, flows and steps, with their tasks and linked versions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from archivist import wire
from archivist.server import responses
from archivist.server.deps import ReadProject, ServiceDep, WriteProject
from archivist.server.schemas import (
    CachedTask,
    CreateRun,
    RunData,
    RunLinks,
    RunPage,
    RunUpdate,
    TaskIn,
)

router = APIRouter(prefix="/api/v1", tags=["runs"])

_LIST_QUERY = responses.query_docs(
    ("pipeline", "Only runs of this pipeline.", False),
    ("status", "running, succeeded or failed.", False),
    ("limit", "Page size, 1-1000 (default 100).", False),
    ("cursor", "next_cursor of the previous page.", False),
)


@router.post("/projects/{project}/runs", status_code=201, response_model=RunData,
             responses=responses.errors(403, 404, 409))
def create_run(project: WriteProject, body: CreateRun, service: ServiceDep) -> JSONResponse:
    """Create a run (numbered per pipeline, gap-free)."""
    run = service.create_run(project, body.run.record())
    return JSONResponse({"data": run.to_dict()}, status_code=201)


@router.get("/projects/{project}/runs", response_model=RunPage,
            responses=responses.errors(403, 404), openapi_extra=_LIST_QUERY)
def list_runs(project: ReadProject, request: Request, service: ServiceDep) -> JSONResponse:
    """Runs of the project, newest first."""
    items = request.query_params.multi_items()
    limit, offset = wire.page_from_params(items, known=("pipeline", "status"))
    single = dict(items)
    found = service.list_runs(project, single.get("pipeline"), single.get("status"),
                              limit, offset)
    return responses.page(found, offset, limit)


@router.get("/projects/{project}/runs/{run_ref:path}", response_model=RunData,
            responses=responses.errors(403, 404))
def get_run(project: ReadProject, run_ref: str, service: ServiceDep) -> JSONResponse:
    """A run by id or pathspec (`<pipeline>/<number>`), with its tasks and versions."""
    return JSONResponse({"data": service.get_run(project, run_ref).to_dict()})


@router.get("/projects/{project}/cached-tasks/{cache_key}", response_model=CachedTask,
            responses=responses.errors(403, 404))
def cached_task(project: ReadProject, cache_key: str, service: ServiceDep) -> JSONResponse:
    """The newest succeeded task with this cache key (a `sha256:` digest), or null."""
    found = service.cached_task(project, cache_key)
    return JSONResponse({"data": None if found is None else found.to_dict()})


@router.patch("/runs/{run_id}", status_code=204, response_class=Response,
              responses=responses.errors(403, 404))
def update_run(run_id: str, body: RunUpdate, service: ServiceDep) -> Response:
    """End a run (or change its status), with its end time, error and details."""
    service.update_run(run_id, body.status, body.ended_at, body.error, body.details)
    return responses.no_content()


@router.put("/runs/{run_id}/tasks/{task_id}", status_code=204, response_class=Response,
            responses=responses.errors(403, 404, 409))
def save_task(run_id: str, task_id: str, body: TaskIn, service: ServiceDep) -> Response:
    """Insert or replace a task of a run (at its start, and again at its end)."""
    service.save_task(run_id, task_id, body.record())
    return responses.no_content()


@router.post("/runs/{run_id}/links", status_code=204, response_class=Response,
             responses=responses.errors(403, 404))
def link_versions(run_id: str, body: RunLinks, service: ServiceDep) -> Response:
    """Link versions the run consumed or produced (a set: repeating is harmless)."""
    service.link_versions(run_id, body.consumed, body.produced)
    return responses.no_content()
