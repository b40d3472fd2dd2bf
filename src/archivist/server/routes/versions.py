"""Versions: register, list, resolve a reference, look up by id, delete."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from archivist import names, wire
from archivist.errors import ArtifactNotFoundError, IntegrityError, InvalidInputError
from archivist.model import NewVersion
from archivist.refs import parse_ref
from archivist.server import responses
from archivist.server.auth import Principal, version_not_found
from archivist.server.checks import check_content, check_new_version, check_version_id
from archivist.server.deps import PrincipalDep, ReadProject, StateDep, WriteProject
from archivist.server.schemas import ArtifactList, ArtifactOut, ArtifactPage, CreateVersions, Lookup
from archivist.server.state import ServerState
from archivist.store.blobs import Blobs

router = APIRouter(prefix="/api/v1", tags=["versions"])
MINIMAL = "return=minimal"

_LIST_QUERY = responses.query_docs(
    ("type", "Artifact type (repeatable: any of them).", True),
    ("name", "Artifact name (exact).", False),
    ("tag", "key:value; the value is JSON-decoded when it parses (repeatable: all).", True),
    ("partition", "key:value (repeatable: all).", True),
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
def create_versions(project: WriteProject, body: CreateVersions, state: StateDep,
                    principal: PrincipalDep,
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
    records = [check_new_version(wire.new_version_from_dict(item.model_dump()), project)
               for item in body.versions]
    _check_parents(state, principal, records)
    blobs = state.blobs(project)
    needed = list(dict.fromkeys(d for r in records for d in r.blob_digests))
    seen = state.visible_blobs(project, needed)
    sizes: dict[str, int] = {}
    for digest in needed:
        size = _stored_size(blobs, digest) if digest in seen else None
        if size is None:
            raise InvalidInputError(f"blob {digest} was not uploaded to project {project!r}; "
                                    f"PUT its bytes to …/projects/{project}/blobs/{digest} "
                                    "first", digest=digest)
        sizes[digest] = size
    for record in records:
        check_content(record, blobs, sizes)
    records = [r if r.user is not None else replace(r, user=principal.user) for r in records]
    state.backend.create_versions(records)
    if prefer is not None and MINIMAL in prefer.replace(" ", "").lower().split(","):
        return Response(status_code=201, headers={"Preference-Applied": MINIMAL})
    return responses.artifacts(state.backend.get_versions_by_id([r.id for r in records]),
                               status=201)


def _stored_size(blobs: Blobs, digest: str) -> int | None:
    """The size of a stored blob, or ``None`` when its bytes are not there: one look at
    the store answers both."""
    try:
        return blobs.size(digest)
    except IntegrityError:
        return None


def _check_parents(state: ServerState, principal: Principal,
                   records: list[NewVersion]) -> None:
    """Parents outside the request must exist and be visible to the caller (a parent of
    another project is reported exactly like a missing one)."""
    ours = {r.id for r in records}
    outside = list(dict.fromkeys(p for r in records for p in r.parent_ids if p not in ours))
    if not outside:
        return
    found = {a.id for a in state.backend.get_versions_by_id(outside)
             if principal.sees(a.project)}
    missing = [p for p in outside if p not in found]
    if missing:
        raise ArtifactNotFoundError(f"parent version(s) not found: {', '.join(missing[:10])}; "
                                    "nothing was registered", missing=missing)


@router.get("/projects/{project}/versions", response_model=ArtifactPage,
            responses=responses.errors(403, 404), openapi_extra=_LIST_QUERY)
def list_versions(project: ReadProject, request: Request, state: StateDep) -> JSONResponse:
    """Live versions matching every filter, newest first, one page at a time."""
    filters = wire.filter_from_params(project, request.query_params.multi_items())
    for artifact_type in filters.artifact_type:
        names.check_artifact_type(artifact_type)
    if filters.name is not None:
        names.check_name(filters.name)
    names.check_tags(filters.tags)
    names.check_partitions(filters.partitions)
    for text, what in ((filters.source_step, "step"), (filters.source_run_id, "run"),
                       (filters.source_pipeline, "pipeline"), (filters.kind, "kind"),
                       (filters.digest, "digest")):
        names.check_text(text, what)
    found = state.backend.list_versions(filters)
    return responses.page(found, filters.offset, filters.limit)


@router.get("/projects/{project}/refs/{ref}", response_model=ArtifactOut,
            responses=responses.errors(403, 404))
def get_version(project: ReadProject, ref: str, state: StateDep) -> JSONResponse:
    """The version a reference names: `name`, `name:3`, `name@alias` or an id
    (URL-encode it)."""
    parsed = parse_ref(ref)
    if parsed.project is not None and parsed.project != project:
        raise InvalidInputError(f"the reference {ref!r:.80} names project {parsed.project!r}, "
                                f"but the path names project {project!r}")
    found = state.backend.get_version(parsed, project)
    if found.project != project:  # an id of another project: as if it did not exist
        raise version_not_found(ref)
    return JSONResponse(found.to_dict())


@router.post("/versions/lookup", response_model=ArtifactList, responses=responses.errors(403))
def lookup(body: Lookup, state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """Versions by id (deleted ones included), in the order asked; ids that do not exist,
    or belong to a project the key does not see, are left out."""
    principal.require("read")
    ids = [check_version_id(i) for i in body.ids]
    found = state.backend.get_versions_by_id(ids)
    return responses.artifacts(a for a in found if principal.sees(a.project))


@router.delete("/versions/{version_id}", status_code=204, response_class=Response,
               responses=responses.errors(403, 404, 409))
def delete_version(version_id: str, state: StateDep, principal: PrincipalDep) -> Response:
    """Tombstone a version (its aliases are removed; lineage keeps it)."""
    check_version_id(version_id)
    principal.version(state.backend.get_versions_by_id([version_id]), version_id, "write")
    state.backend.delete_version(version_id, principal.user)
    return responses.no_content()
