"""verify and gc over HTTP (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from archivist import maintenance
from archivist.server import responses
from archivist.server.deps import AdminProject, ReadProject, StateDep
from archivist.server.schemas import BlobReferences, GcReportOut, GcRequest, VerifyReportOut
from archivist.server.scoped import ProjectRows
from archivist.server.state import ServerState
from archivist.timeutil import parse_duration

router = APIRouter(prefix="/api/v1/projects/{project}", tags=["maintenance"])


def _rows(state: ServerState, project: str) -> maintenance.Rows:
    # A project's own store holds only its blobs; a shared store is checked as a whole
    # (gc must keep a blob any project needs).
    if state.settings.blobs_per_project:
        return ProjectRows(state.backend, state.store, project)
    return state.backend


@router.post("/verify", response_model=VerifyReportOut, responses=responses.errors(403, 404))
def verify(project: AdminProject, state: StateDep) -> JSONResponse:
    """Rehash every blob the versions refer to; list leftovers (see docs/storage.md)."""
    report = maintenance.verify(_rows(state, project), state.blobs(project))
    return JSONResponse(report.to_dict())


@router.post("/gc", response_model=GcReportOut, responses=responses.errors(403, 404))
def gc(project: AdminProject, body: GcRequest, state: StateDep) -> JSONResponse:
    """Free blobs no live version refers to, older than `grace` (a dry run by default)."""
    report = maintenance.gc(_rows(state, project), state.blobs(project), dry_run=body.dry_run,
                            grace=parse_duration(body.grace))
    return JSONResponse(report.to_dict())


@router.get("/blob-references", response_model=BlobReferences,
            responses=responses.errors(403, 404))
def blob_references(project: ReadProject, state: StateDep) -> JSONResponse:
    """Every blob a version of the project needs -> whether a live version needs it."""
    return JSONResponse({"data": state.store.project_blob_references(project)})
