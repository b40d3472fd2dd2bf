"""verify and gc over HTTP (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from archivist.server import responses
from archivist.server.deps import AdminProject, ReadProject, ServiceDep
from archivist.server.schemas import BlobReferences, GcReportOut, GcRequest, VerifyReportOut
from archivist.timeutil import parse_duration

router = APIRouter(prefix="/api/v1/projects/{project}", tags=["maintenance"])


@router.post("/verify", response_model=VerifyReportOut, responses=responses.errors(403, 404))
def verify(project: AdminProject, service: ServiceDep) -> JSONResponse:
    """Rehash every blob the project's versions refer to; list leftovers (see
    docs/storage.md). External references are listed, never read: the server does not
    fetch what a record points at."""
    return JSONResponse(service.verify(project).to_dict())


@router.post("/gc", response_model=GcReportOut, responses=responses.errors(403, 404))
def gc(project: AdminProject, body: GcRequest, service: ServiceDep) -> JSONResponse:
    """Free blobs no live version refers to, older than `grace` (a dry run by default).
    In a store shared by projects, only blobs the project may see are swept, and one that
    any project's live version needs is kept."""
    report = service.gc(project, body.dry_run, parse_duration(body.grace))
    return JSONResponse(report.to_dict())


@router.get("/blob-references", response_model=BlobReferences,
            responses=responses.errors(403, 404))
def blob_references(project: ReadProject, service: ServiceDep) -> JSONResponse:
    """Every blob a version of the project needs -> whether a live version needs it."""
    return JSONResponse({"data": service.blob_references(project)})
