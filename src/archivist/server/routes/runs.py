"""Runs of pipelines, flows and steps, with their tasks and linked versions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from archivist import names, wire
from archivist.errors import ArtifactNotFoundError, InvalidInputError
from archivist.model import check_status
from archivist.refs import check_run_ref
from archivist.server import responses
from archivist.server.auth import Principal
from archivist.server.checks import check_new_run, check_task, check_version_id
from archivist.server.deps import PrincipalDep, ReadProject, StateDep, WriteProject
from archivist.server.schemas import (
    CachedTask,
    CreateRun,
    RunData,
    RunLinks,
    RunPage,
    RunUpdate,
    TaskIn,
)
from archivist.server.state import ServerState
from archivist.store.hashing import check_digest

router = APIRouter(prefix="/api/v1", tags=["runs"])

_LIST_QUERY = responses.query_docs(
    ("pipeline", "Only runs of this pipeline.", False),
    ("status", "running, succeeded or failed.", False),
    ("limit", "Page size, 1-1000 (default 100).", False),
    ("cursor", "next_cursor of the previous page.", False),
)


@router.post("/projects/{project}/runs", status_code=201, response_model=RunData,
             responses=responses.errors(403, 404, 409))
def create_run(project: WriteProject, body: CreateRun, state: StateDep) -> JSONResponse:
    """Create a run (numbered per pipeline, gap-free)."""
    run = check_new_run(wire.new_run_from_dict(body.run.model_dump()), project)
    return JSONResponse({"data": state.backend.create_run(run).to_dict()}, status_code=201)


@router.get("/projects/{project}/runs", response_model=RunPage,
            responses=responses.errors(403, 404), openapi_extra=_LIST_QUERY)
def list_runs(project: ReadProject, request: Request, state: StateDep) -> JSONResponse:
    """Runs of the project, newest first."""
    items = request.query_params.multi_items()
    limit, offset = wire.page_from_params(items, known=("pipeline", "status"))
    single = dict(items)
    pipeline = single.get("pipeline")
    if pipeline is not None:
        names.check_name(pipeline, "pipeline")
    found = state.backend.list_runs(project, pipeline, check_status(single.get("status")),
                                    limit, offset)
    return responses.page(found, offset, limit)


@router.get("/projects/{project}/runs/{run_ref:path}", response_model=RunData,
            responses=responses.errors(403, 404))
def get_run(project: ReadProject, run_ref: str, state: StateDep) -> JSONResponse:
    """A run by id or pathspec (`<pipeline>/<number>`), with its tasks and versions."""
    return JSONResponse({"data": state.backend.get_run(check_run_ref(run_ref),
                                                       project).to_dict()})


@router.get("/projects/{project}/cached-tasks/{cache_key}", response_model=CachedTask,
            responses=responses.errors(403, 404))
def cached_task(project: ReadProject, cache_key: str, state: StateDep) -> JSONResponse:
    """The newest succeeded task with this cache key (a `sha256:` digest), or null."""
    check_digest(cache_key)
    found = state.backend.find_cached_task(project, cache_key)
    return JSONResponse({"data": None if found is None else found.to_dict()})


@router.patch("/runs/{run_id}", status_code=204, response_class=Response,
              responses=responses.errors(403, 404))
def update_run(run_id: str, body: RunUpdate, state: StateDep,
               principal: PrincipalDep) -> Response:
    """End a run (or change its status), with its end time, error and details."""
    _enter_run(state, principal, run_id)
    error = names.check_text(body.error, "error", names.MAX_DESCRIPTION)
    details = None if body.details is None else names.check_metadata(body.details)
    if body.ended_at is not None and not 0 <= body.ended_at < 2**40:
        raise InvalidInputError("ended_at must be a time in epoch seconds")
    state.backend.update_run(run_id, body.status, body.ended_at, error, details)
    return responses.no_content()


@router.put("/runs/{run_id}/tasks/{task_id}", status_code=204, response_class=Response,
            responses=responses.errors(403, 404, 409))
def save_task(run_id: str, task_id: str, body: TaskIn, state: StateDep,
              principal: PrincipalDep) -> Response:
    """Insert or replace a task of a run (at its start, and again at its end)."""
    _enter_run(state, principal, run_id)
    task = check_task(wire.task_from_dict(body.model_dump()), run_id, task_id)
    state.backend.save_task(task)
    return responses.no_content()


@router.post("/runs/{run_id}/links", status_code=204, response_class=Response,
             responses=responses.errors(403, 404))
def link_versions(run_id: str, body: RunLinks, state: StateDep,
                  principal: PrincipalDep) -> Response:
    """Link versions the run consumed or produced (a set: repeating is harmless)."""
    _enter_run(state, principal, run_id)
    consumed = [check_version_id(v) for v in body.consumed]
    produced = [check_version_id(v) for v in body.produced]
    state.backend.link_run_versions(run_id, consumed, produced)
    return responses.no_content()


def _enter_run(state: ServerState, principal: Principal, run_id: str) -> str:
    """The run's project, if the caller may write to it (else the 404 of a missing run).

    Raises:
        InvalidNameError: not a run id.
        ArtifactNotFoundError: no such run, or one of another project.
        PermissionDeniedError: the key cannot write.
    """
    check_version_id(run_id, "run id")
    try:
        project = state.store.run_project(run_id)
    except ArtifactNotFoundError:
        project = None
    if project is None or not principal.sees(project):
        raise ArtifactNotFoundError(f"no run with id {run_id!r}", ref=run_id)
    principal.require("write")
    return project
