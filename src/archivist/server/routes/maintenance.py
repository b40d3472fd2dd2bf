"""verify and gc over HTTP (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from archivist import maintenance
from archivist.server import responses
from archivist.server.deps import AdminProject, ReadProject, StateDep
from archivist.server.schemas import BlobReferences, GcReportOut, GcRequest, VerifyReportOut
from archivist.server.scoped import ProjectRows
from archivist.timeutil import parse_duration

router = APIRouter(prefix="/api/v1/projects/{project}", tags=["maintenance"])


@router.post("/verify", response_model=VerifyReportOut, responses=responses.errors(403, 404))
def verify(project: AdminProject, state: StateDep) -> JSONResponse:
    """Rehash every blob the project's versions refer to; list leftovers (see
    docs/storage.md). External references are listed, never read: the server does not
    fetch what a record points at."""
    within = None if state.settings.blobs_per_project else state.project_digests(project)
    report = maintenance.verify(ProjectRows(state.backend, state.store, project),
                                state.blobs(project), within=within, fetch_references=False)
    return JSONResponse(report.to_dict())


@router.post("/gc", response_model=GcReportOut, responses=responses.errors(403, 404))
def gc(project: AdminProject, body: GcRequest, state: StateDep) -> JSONResponse:
    """Free blobs no live version refers to, older than `grace` (a dry run by default).
    In a store shared by projects, only blobs the project may see are swept, and one that
    any project's live version needs is kept."""
    grace = parse_duration(body.grace)
    if state.settings.blobs_per_project:
        report = maintenance.gc(ProjectRows(state.backend, state.store, project),
                                state.blobs(project), dry_run=body.dry_run, grace=grace)
    else:
        report = maintenance.gc(state.backend, state.blobs(project), dry_run=body.dry_run,
                                grace=grace, within=state.project_digests(project))
        if report.freed and not body.dry_run:
            state.store.forget_blobs(report.freed)
    return JSONResponse(report.to_dict())


@router.get("/blob-references", response_model=BlobReferences,
            responses=responses.errors(403, 404))
def blob_references(project: ReadProject, state: StateDep) -> JSONResponse:
    """Every blob a version of the project needs -> whether a live version needs it."""
    return JSONResponse({"data": state.store.project_blob_references(project)})
