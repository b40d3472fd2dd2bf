"""Changes to versions and names: tags, aliases, descriptions, renames, history,
spellings, digests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from archivist.limits import MAX_PAGE
from archivist.server import responses
from archivist.server.deps import ReadProject, ServiceDep, WriteProject
from archivist.server.schemas import (
    ArtifactList,
    HistoryList,
    MetadataUpdate,
    Rename,
    Spelling,
    TagUpdate,
    VersionUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["artifacts"])


@router.patch("/versions/{version_id}/tags", status_code=204, response_class=Response,
              responses=responses.errors(403, 404, 409))
def update_tags(version_id: str, body: TagUpdate, service: ServiceDep) -> Response:
    """Set and remove tags of a live version (each change goes to the history)."""
    service.update_tags(version_id, body.set_tags, body.remove)
    return responses.no_content()


@router.patch("/versions/{version_id}", status_code=204, response_class=Response,
              responses=responses.errors(403, 404, 409))
def update_version(version_id: str, body: VersionUpdate, service: ServiceDep) -> Response:
    """Replace a live version's description (the change goes to the history)."""
    service.update_description(version_id, body.description)
    return responses.no_content()


@router.patch("/versions/{version_id}/metadata", status_code=204, response_class=Response,
              responses=responses.errors(403, 404, 409))
def update_metadata(version_id: str, body: MetadataUpdate, service: ServiceDep) -> Response:
    """Set and remove top-level metadata keys of a live version; search sees the new
    values, each changed key goes to the history, the bytes and digest never change."""
    service.update_metadata(version_id, body.set_keys, body.remove)
    return responses.no_content()


@router.post("/projects/{project}/artifacts/{name}/rename", status_code=204,
             response_class=Response, responses=responses.errors(403, 404, 409))
def rename(project: WriteProject, name: str, body: Rename, service: ServiceDep) -> Response:
    """Rename a name: its versions keep ids, numbers, tags, aliases and lineage."""
    service.rename(project, name, body.new_name)
    return responses.no_content()


@router.put("/versions/{version_id}/aliases/{alias}", status_code=204,
            response_class=Response, responses=responses.errors(403, 404, 409))
def set_alias(version_id: str, alias: str, service: ServiceDep) -> Response:
    """Point an alias of the version's name at it (moving it if set elsewhere)."""
    service.set_alias(version_id, alias)
    return responses.no_content()


@router.delete("/projects/{project}/artifacts/{name}/aliases/{alias}", status_code=204,
               response_class=Response, responses=responses.errors(403, 404))
def remove_alias(project: WriteProject, name: str, alias: str, service: ServiceDep) -> Response:
    """Remove an alias of a name."""
    service.remove_alias(project, name, alias)
    return responses.no_content()


@router.get("/projects/{project}/artifacts/{name}/history", response_model=HistoryList,
            responses=responses.errors(403, 404))
def history(project: ReadProject, name: str, service: ServiceDep,
            version: Annotated[str | None, Query(
                description="Only the changes of this version (its id).")] = None,
            limit: Annotated[int | None, Query(
                ge=1, le=MAX_PAGE, description="Only the newest this many.")] = None,
            ) -> JSONResponse:
    """Every tag, alias, description, rename and delete change of a name, oldest first."""
    found = service.history(project, name, version_id=version, limit=limit)
    return JSONResponse({"data": [e.to_dict() for e in found]})


@router.get("/projects/{project}/spellings/{name}", response_model=Spelling,
            responses=responses.errors(403, 404))
def spelling(project: ReadProject, name: str, service: ServiceDep) -> JSONResponse:
    """How a name is spelled in the project, whatever the case asked (or null)."""
    return JSONResponse({"spelling": service.spelling(project, name)})


@router.get("/projects/{project}/digests/{digest}", response_model=ArtifactList,
            responses=responses.errors(403, 404))
def find_digest(project: ReadProject, digest: str, service: ServiceDep) -> JSONResponse:
    """Live versions of the project whose content has this digest."""
    return responses.artifacts(service.find_digest(project, digest))
