"""Downloads from the UI: a file version's bytes (inline for images), a directory
version as a streamed ``.tar`` or one of its files. Every byte goes out through the
verifying reader of the blob store, in chunks (never the whole content in memory)."""

from __future__ import annotations

import re
import tarfile
from collections.abc import Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from archivist.errors import ArtifactNotFoundError, InvalidInputError
from archivist.model import Artifact
from archivist.server.blobtransfer import iter_blob, started
from archivist.server.ui.lookups import manifest_of, visible_version
from archivist.server.ui.routing import UiRoute
from archivist.server.ui.session import UiSession, open_session
from archivist.store.blobs import Blobs
from archivist.store.manifest import ManifestEntry

router = APIRouter(route_class=UiRoute, include_in_schema=False)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
BLOCK = tarfile.BLOCKSIZE
INLINE_TYPES = {"png": "image/png"}


@router.get("/versions/{version_id}/content")
def content(request: Request, version_id: str, inline: bool = False) -> Response:
    ui = open_session(request)
    artifact = visible_version(ui, version_id)
    if artifact.kind == "directory":
        return _archive(ui, artifact)
    if artifact.kind != "file" or artifact.digest is None:
        where = f": {artifact.reference_uri}" if artifact.reference_uri else ""
        raise InvalidInputError(f"{artifact.name}:{artifact.version} stores no bytes here "
                                f"({artifact.kind}{where})")
    blobs = ui.service.readable_blob(artifact.project, artifact.digest)
    media = INLINE_TYPES.get(artifact.format or "") if inline else None
    disposition = "inline" if media else f'attachment; filename="{_filename(artifact)}"'
    return _stream(ui, blobs, artifact.digest, artifact.size, media, disposition)


@router.get("/versions/{version_id}/files/{path:path}")
def one_file(request: Request, version_id: str, path: str) -> Response:
    ui = open_session(request)
    artifact = visible_version(ui, version_id)
    entry = next((e for e in manifest_of(ui, artifact).entries if e.path == path), None)
    if entry is None:
        raise ArtifactNotFoundError(f"{artifact.name}:{artifact.version} has no file {path!r}")
    blobs = ui.service.readable_blob(artifact.project, entry.digest)
    name = _UNSAFE.sub("_", path.rsplit("/", 1)[-1]) or "file"
    return _stream(ui, blobs, entry.digest, entry.size, None,
                   f'attachment; filename="{name}"')


def _archive(ui: UiSession, artifact: Artifact) -> Response:
    entries = manifest_of(ui, artifact).entries
    blobs = ui.service.version_blobs(artifact)
    root = _UNSAFE.sub("_", f"{artifact.name}-v{artifact.version}")
    headers = [_header(root, e) for e in entries]
    size = sum(len(h) + _padded(e.size) for h, e in zip(headers, entries, strict=True))
    sent = ui.service.state.metrics.blob_bytes_out.inc
    return StreamingResponse(_tar(entries, headers, blobs, sent),
                             media_type="application/x-tar",
                             headers={"content-disposition": f'attachment; filename="{root}.tar"',
                                      "content-length": str(size + 2 * BLOCK)})


def _header(root: str, entry: ManifestEntry) -> bytes:
    info = tarfile.TarInfo(f"{root}/{entry.path}")
    info.size, info.mode = entry.size, entry.mode & 0o755
    return info.tobuf(format=tarfile.PAX_FORMAT)


def _tar(entries: tuple[ManifestEntry, ...], headers: list[bytes], blobs: Blobs,
         sent: Callable[[int], None]) -> Iterator[bytes]:
    """A tar stream, file by file: header, bytes, padding; two empty blocks at the end."""
    for entry, header in zip(entries, headers, strict=True):
        yield header
        yield from iter_blob(blobs, entry.digest, None, sent)
        if entry.size % BLOCK:
            yield b"\0" * (BLOCK - entry.size % BLOCK)
    yield b"\0" * (2 * BLOCK)


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _stream(ui: UiSession, blobs: Blobs, digest: str, size: int | None, media: str | None,
            disposition: str) -> Response:
    sent = ui.service.state.metrics.blob_bytes_out.inc  # counted like the API's downloads
    chunks = started(iter_blob(blobs, digest, None, sent))
    headers = {"content-disposition": disposition, "x-content-type-options": "nosniff"}
    if size is not None:
        headers["content-length"] = str(size)
    return StreamingResponse(chunks, media_type=media or "application/octet-stream",
                             headers=headers)


def _filename(artifact: Artifact) -> str:
    given = artifact.metadata.get("filename")
    if isinstance(given, str) and _UNSAFE.sub("_", given).strip("._"):
        return _UNSAFE.sub("_", given)
    extension = {"parquet": ".parquet", "json": ".json", "png": ".png", "text": ".txt",
                 "npy": ".npy", "skops": ".skops", "joblib": ".joblib",
                 "safetensors": ".safetensors", "pickle": ".pkl"}.get(artifact.format or "", "")
    return _UNSAFE.sub("_", f"{artifact.name}-v{artifact.version}") + extension
