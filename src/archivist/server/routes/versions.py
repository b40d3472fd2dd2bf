"""Versions: register, list, resolve a reference, look up by id, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from archivist import wire
from archivist.server import responses
from archivist.server.deps import ReadProject, ServiceDep, WriteProject
from archivist.server.schemas import ArtifactList, ArtifactOut, ArtifactPage, CreateVersions, Lookup

router = APIRouter(prefix="/api/v1", tags=["versions"])
MINIMAL = "return=minimal"

_LIST_QUERY = responses.query_docs(
    ("type", "Artifact type (repeatable: any of them).", True),
    ("name", "Artifact name (exact).", False),
    ("tag", "key:value; the value is JSON-decoded when it parses (repeatable: all).", True),
    ("partition", "key:value (repeatable: all).", True),
    ("partition_in", "key:granularity:value, granularity empty or minute, hour, day, month: "
     "the key holds value and key.granularity holds granularity (repeatable: any of one "
     "key's, all keys).", True),
    ("since", "Created at or after (epoch seconds).", False),
    ("until", "Created before (epoch seconds).", False),
    ("step", "Producing step.", False), ("run", "Producing run id.", False),
    ("pipeline", "Producing pipeline.", False), ("digest", "Content digest.", False),
    ("kind", "file, directory, reference or none.", False),
    ("latest_only", "true: only the newest version of each name.", False),
    ("include_deleted", "true: deleted versions too.", False),
    ("order", "newest (default) or oldest.", False),
    ("limit", "Page size, 1-1000 (default 100).", False),
    ("cursor", "next_cursor of the previous page.", False),
)


@router.post("/projects/{project}/versions", status_code=201, response_model=ArtifactList,
             responses=responses.errors(403, 404, 409, 413))
def create_versions(project: WriteProject, body: CreateVersions, service: ServiceDep,
                    prefer: Annotated[str | None, Header(
                        description="`return=minimal`: answer 201 with no body (the "
                        "records are not read back).")] = None) -> Response:
    """Register versions, all or none (one transaction).

    Every record is checked again with the catalog's rules; each of its `blob_digests`
    must already be in the project's blob store (upload with PUT …/blobs/{digest}).
    The answer holds the records as stored, unless the request says
    `Prefer: return=minimal` (RFC 7240): then it is an empty 201, one read fewer (the ids
    were chosen by the client).
    """
    ids = service.register(project, [item.record() for item in body.versions])
    if prefer is not None and MINIMAL in prefer.replace(" ", "").lower().split(","):
        return Response(status_code=201, headers={"Preference-Applied": MINIMAL})
    return responses.artifacts(service.lookup(ids), status=201)


@router.get("/projects/{project}/versions", response_model=ArtifactPage,
            responses=responses.errors(403, 404), openapi_extra=_LIST_QUERY)
def list_versions(project: ReadProject, request: Request, service: ServiceDep) -> JSONResponse:
    """Live versions matching every filter, newest first, one page at a time."""
    filters = wire.filter_from_params(project, request.query_params.multi_items())
    return responses.page(service.list_versions(filters), filters.offset, filters.limit)


@router.get("/projects/{project}/refs/{ref}", response_model=ArtifactOut,
            responses=responses.errors(403, 404))
def get_version(project: ReadProject, ref: str, service: ServiceDep) -> JSONResponse:
    """The version a reference names: `name`, `name:3`, `name@alias` or an id
    (URL-encode it)."""
    return JSONResponse(service.get_version(project, ref).to_dict())


@router.post("/versions/lookup", response_model=ArtifactList, responses=responses.errors(403))
def lookup(body: Lookup, service: ServiceDep) -> JSONResponse:
    """Versions by id (deleted ones included), in the order asked; ids that do not exist,
    or belong to a project the key does not see, are left out."""
    return responses.artifacts(service.lookup(body.ids))


@router.delete("/versions/{version_id}", status_code=204, response_class=Response,
               responses=responses.errors(403, 404, 409))
def delete_version(version_id: str, service: ServiceDep) -> Response:
    """Tombstone a version (its aliases are removed; lineage keeps it)."""
    service.delete_version(version_id)
    return responses.no_content()
