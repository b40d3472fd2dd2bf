"""Changes to versions and names: tags, aliases, history, spellings, digests."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from archivist import names
from archivist.server import responses
from archivist.server.checks import check_version_id
from archivist.server.deps import PrincipalDep, ReadProject, StateDep, WriteProject
from archivist.server.schemas import ArtifactList, HistoryList, Spelling, TagUpdate
from archivist.store.hashing import check_digest

router = APIRouter(prefix="/api/v1", tags=["artifacts"])


@router.patch("/versions/{version_id}/tags", status_code=204, response_class=Response,
              responses=responses.errors(403, 404, 409))
def update_tags(version_id: str, body: TagUpdate, state: StateDep,
                principal: PrincipalDep) -> Response:
    """Set and remove tags of a live version (each change goes to the history)."""
    check_version_id(version_id)
    clean = names.check_tags(body.set_tags)
    remove = [names.check_name(key, "tag key") for key in body.remove]
    principal.version(state.backend.get_versions_by_id([version_id]), version_id, "write")
    state.backend.update_tags(version_id, clean, remove, principal.user)
    return responses.no_content()


@router.put("/versions/{version_id}/aliases/{alias}", status_code=204,
            response_class=Response, responses=responses.errors(403, 404, 409))
def set_alias(version_id: str, alias: str, state: StateDep,
              principal: PrincipalDep) -> Response:
    """Point an alias of the version's name at it (moving it if set elsewhere)."""
    check_version_id(version_id)
    names.check_alias(alias)
    principal.version(state.backend.get_versions_by_id([version_id]), version_id, "write")
    state.backend.set_alias(version_id, alias, principal.user)
    return responses.no_content()


@router.delete("/projects/{project}/artifacts/{name}/aliases/{alias}", status_code=204,
               response_class=Response, responses=responses.errors(403, 404))
def remove_alias(project: WriteProject, name: str, alias: str, state: StateDep,
                 principal: PrincipalDep) -> Response:
    """Remove an alias of a name."""
    names.check_name(name)
    names.check_alias(alias)
    state.backend.remove_alias(project, name, alias, principal.user)
    return responses.no_content()


@router.get("/projects/{project}/artifacts/{name}/history", response_model=HistoryList,
            responses=responses.errors(403, 404))
def history(project: ReadProject, name: str, state: StateDep) -> JSONResponse:
    """Every tag, alias and delete change of a name, oldest first."""
    names.check_name(name)
    return JSONResponse({"data": [e.to_dict() for e in state.backend.history(project, name)]})


@router.get("/projects/{project}/spellings/{name}", response_model=Spelling,
            responses=responses.errors(403, 404))
def spelling(project: ReadProject, name: str, state: StateDep) -> JSONResponse:
    """How a name is spelled in the project, whatever the case asked (or null)."""
    names.check_name(name)
    return JSONResponse({"spelling": state.backend.spelling(project, name)})


@router.get("/projects/{project}/digests/{digest}", response_model=ArtifactList,
            responses=responses.errors(403, 404))
def find_digest(project: ReadProject, digest: str, state: StateDep) -> JSONResponse:
    """Live versions of the project whose content has this digest."""
    check_digest(digest)
    return responses.artifacts(state.backend.find_digest(digest, project))
