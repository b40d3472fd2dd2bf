"""Blobs of a project: ask which are missing, upload (verified), download (ranges)."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

import fsspec
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from archivist import wire
from archivist.errors import InvalidInputError
from archivist.server import responses
from archivist.server.blobtransfer import (
    RangeNotSatisfiable,
    iter_blob,
    parse_range,
    spool_upload,
    started,
)
from archivist.server.deps import AdminProject, ReadProject, ServiceDep, WriteProject
from archivist.server.errors import envelope
from archivist.server.schemas import BlobStored, DigestPage, Digests, Missing
from archivist.store.hashing import check_digest

router = APIRouter(prefix="/api/v1/projects/{project}/blobs", tags=["blobs"])

_OCTETS = {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                               "format": "binary"}}}}
_UPLOAD = {"requestBody": {"required": True, "description": "The blob's exact bytes.",
                           **_OCTETS}}
_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {"description": "The bytes.", **_OCTETS},
    206: {"description": "The bytes of the requested range.", **_OCTETS},
    307: {"description": "Redirect to a presigned URL (S3 store, --presign)."},
    416: {"description": "The range starts past the end."},
}


@router.get("", response_model=DigestPage, responses=responses.errors(403, 404),
            openapi_extra=responses.query_docs(
                ("limit", "Page size, 1-1000 (default 100).", False),
                ("cursor", "next_cursor of the previous page.", False)))
def list_blobs(project: AdminProject, request: Request, service: ServiceDep) -> JSONResponse:
    """The digests in the project's blob store, sorted (in a store shared by projects,
    only those the project may see: its versions' and its own uploads)."""
    limit, offset = wire.page_from_params(request.query_params.multi_items())
    found = service.list_blobs(project, limit, offset)
    return JSONResponse({"data": found, "next_cursor": wire.next_cursor(offset, limit,
                                                                        len(found))})


@router.post("/missing", response_model=Missing, responses=responses.errors(403, 404))
def missing(project: ReadProject, body: Digests, service: ServiceDep) -> JSONResponse:
    """Which of these digests the project's store lacks (ask before uploading). In a store
    shared by projects, a blob the project has not uploaded itself and no version of it
    needs is missing too, whoever else holds it: the project proves it has the bytes by
    uploading them."""
    return JSONResponse({"missing": service.missing_blobs(project, body.digests)})


@router.head("/{digest}", responses={200: {"description": "Present; Content-Length is "
                                                         "its size."},
                                     **responses.errors(403, 404)})
def head_blob(project: ReadProject, digest: str, service: ServiceDep) -> Response:
    """Whether the project's store has this blob, its size and when it was stored
    (`Last-Modified`: gc's grace period counts from it)."""
    blobs = service.readable_blob(project, digest)
    return Response(status_code=200, headers={
        "content-length": str(blobs.size(digest)), "accept-ranges": "bytes",
        "last-modified": formatdate(blobs.mtime(digest), usegmt=True)})


@router.put("/{digest}", status_code=201, response_model=BlobStored, openapi_extra=_UPLOAD,
            responses=responses.errors(403, 404, 413))
async def put_blob(project: WriteProject, digest: str, request: Request,
                   service: ServiceDep) -> JSONResponse:
    """Upload a blob's bytes (streamed, any size up to the server's limit).

    The body is spooled and hashed; it becomes visible only if it hashes to `digest`
    (else 422 and nothing is stored). Uploading a blob that exists is harmless: in a
    store shared by projects it is how a project shows it holds those bytes.
    """
    check_digest(digest)
    state = service.state
    settings = state.settings
    blobs = state.blobs(project)
    async with spool_upload(request, settings.max_blob_size, settings.spool_dir,
                            blobs) as spooled:
        if spooled.digest != digest:
            raise InvalidInputError(
                f"the uploaded bytes hash to {spooled.digest}, not {digest}; nothing was "
                "stored (was the file changed or cut short?)", expected=digest,
                actual=spooled.digest)
        # The spool is what was hashed: the store takes it without reading it again.
        size = await run_in_threadpool(service.store_upload, project, digest, spooled.path,
                                       spooled.size)
    state.metrics.blob_bytes_in.inc(size)
    return JSONResponse({"digest": digest, "size": size}, status_code=201)


@router.get("/{digest}", response_class=StreamingResponse, responses={
    **_DOWNLOAD, **responses.errors(403, 404)})
def get_blob(project: ReadProject, digest: str, request: Request,
             service: ServiceDep) -> Response:
    """Download a blob of the project (streamed; `Range: bytes=a-b` answers 206). In a
    store shared by projects: one that a version of the project needs or that the
    project uploaded itself."""
    blobs = service.readable_blob(project, digest)
    state = service.state
    if state.settings.presign and blobs.path(digest).startswith("s3://"):
        return RedirectResponse(_presigned(blobs.path(digest), state.settings.presign_expires),
                                status_code=307)
    size = blobs.size(digest)
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except RangeNotSatisfiable:
        response = envelope(416, "invalid_input", f"the range is past the end of the blob "
                            f"({size} bytes)", {"size": size})
        response.headers["content-range"] = f"bytes */{size}"
        return response
    headers = {"accept-ranges": "bytes", "etag": f'"{digest}"',
               "content-length": str(size if wanted is None else wanted.length)}
    if wanted is not None:
        headers["content-range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    chunks = started(iter_blob(blobs, digest, wanted, state.metrics.blob_bytes_out.inc))
    return StreamingResponse(chunks,
                             status_code=200 if wanted is None else 206,
                             media_type="application/octet-stream", headers=headers)


def _presigned(url: str, expires: int) -> str:
    fs, path = fsspec.core.url_to_fs(url)
    return str(fs.sign(path, expiration=expires))

