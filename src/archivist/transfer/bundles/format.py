"""The bundle format, version 1: what each file of a bundle holds, and its validation.

A bundle is a folder (or an uncompressed ``.tar`` of the same members)::

    bundle.json               the manifest: {"format": 1, "files": …, "blobs": …, …}
    versions.jsonl            one version record per line (canonical JSON)
    runs.jsonl                one run record per line (RunRecord.to_dict)
    blobs/sha256/ab/cdef…     the exact bytes of every blob the versions need

Everything here is plain data checking: a bundle is untrusted input, so every record is
validated with the same rules (``names.py``, ``store/``) that ``register`` applies, and
anything unknown is refused rather than ignored (a newer format must say so with its
``format`` number). See docs/storage.md, "Bundles".
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

from archivist import names
from archivist.errors import InvalidInputError
from archivist.model import KINDS, NewVersion
from archivist.store.hashing import check_digest
from archivist.store.paths import check_relative_path
from archivist.store.references import check_uri

FORMAT = 1
MANIFEST = "bundle.json"
VERSIONS = "versions.jsonl"
RUNS = "runs.jsonl"
#: The roles of the record files a manifest may list, and where the writer puts them.
FILES = {"versions": VERSIONS, "runs": RUNS}
MAX_MANIFEST_BYTES = 512 * 1024 * 1024
MAX_VERSION = 2**31 - 1
_MANIFEST_KEYS = frozenset({"format", "archivist", "created_at", "project", "files",
                            "blobs"})
_FILE_KEYS = frozenset({"path", "digest", "size", "records"})
_BLOB_KEYS = frozenset({"digest", "size"})
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(NewVersion))
_RECORD_KEYS = frozenset(_RECORD_FIELDS)


def canonical(value: Any) -> bytes:
    """One canonical JSON spelling: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def blob_member(digest: str) -> str:
    """Where a blob lives inside a bundle (the blob store's own fan-out layout)."""
    hexd = check_digest(digest)[7:]
    return f"blobs/sha256/{hexd[:2]}/{hexd[2:]}"


# -- version records -----------------------------------------------------------------------
def record_to_dict(record: NewVersion) -> dict[str, Any]:
    """A version record as written to ``versions.jsonl`` (tuples become lists)."""
    out = dataclasses.asdict(record)
    for key in ("aliases", "parent_ids", "blob_digests"):
        out[key] = list(out[key])
    return out


def record_from_dict(raw: object, where: str) -> NewVersion:
    """Validate one line of ``versions.jsonl`` and build the record.

    Raises:
        InvalidInputError: unknown or missing keys, or any value ``register`` would refuse
            (names, tags, metadata, partitions, digests, URIs, sizes, version numbers);
            the message starts with ``where`` (e.g. ``versions.jsonl line 3``).
        InvalidNameError: a malformed name, alias, project or tag key.
    """
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where}: a version record must be a JSON object")
    if set(raw) != _RECORD_KEYS:
        unknown, missing = sorted(set(raw) - _RECORD_KEYS), sorted(_RECORD_KEYS - set(raw))
        raise InvalidInputError(f"{where}: unknown keys {unknown}, missing keys {missing}")
    r = dict(raw)
    if not isinstance(r["id"], str) or not names.ID_PATTERN.fullmatch(r["id"]):
        raise InvalidInputError(f"{where}: id {str(r['id'])[:60]!r} is not a version id")
    kind = r["kind"]
    if kind not in KINDS:
        raise InvalidInputError(f"{where}: kind {str(kind)[:20]!r} is not one of {KINDS}")
    digest = None if r["digest"] is None else check_digest(r["digest"])
    blob_digests = tuple(check_digest(d) for d in _strings(r["blob_digests"], where,
                                                           "blob_digests"))
    _check_content(kind, digest, blob_digests, r["reference_uri"], where)
    aliases = [names.check_alias(a) for a in _strings(r["aliases"], where, "aliases")]
    parents = _strings(r["parent_ids"], where, "parent_ids")
    if len(parents) > names.MAX_PARENTS or not all(names.ID_PATTERN.fullmatch(p)
                                                   for p in parents):
        raise InvalidInputError(f"{where}: parent_ids must be at most {names.MAX_PARENTS} "
                                "version ids")
    return NewVersion(
        id=r["id"], project=names.check_name(r["project"], "project"),
        name=names.check_name(r["name"]),
        artifact_type=names.check_artifact_type(r["artifact_type"]),
        created_at=_epoch(r["created_at"], where), kind=kind,
        format=names.check_text(r["format"], "format", names.MAX_TYPE), digest=digest,
        size=_count(r["size"], where, "size"),
        reference_uri=None if r["reference_uri"] is None else check_uri(r["reference_uri"]),
        metadata=names.check_metadata(_mapping(r["metadata"], where, "metadata")),
        tags=names.check_tags(_mapping(r["tags"], where, "tags")),
        aliases=tuple(dict.fromkeys(aliases)),
        partitions=names.check_partitions(_mapping(r["partitions"], where, "partitions")),
        parent_ids=tuple(dict.fromkeys(parents)), blob_digests=blob_digests,
        description=names.check_text(r["description"], "description", names.MAX_DESCRIPTION),
        source_step=names.check_text(r["source_step"], "source_step"),
        source_run_id=names.check_text(r["source_run_id"], "source_run_id"),
        source_pipeline=names.check_text(r["source_pipeline"], "source_pipeline"),
        user=names.check_text(r["user"], "user"),
        code_version=names.check_text(r["code_version"], "code_version"),
        version=_version(r["version"], where),
    )


def _check_content(kind: str, digest: str | None, blob_digests: tuple[str, ...],
                   reference_uri: object, where: str) -> None:
    """The blobs a record claims must be the ones its kind needs."""
    if kind == "file" and (digest is None or blob_digests != (digest,)):
        raise InvalidInputError(f"{where}: a file version needs its digest as its only blob")
    if kind == "directory" and (digest is None or not blob_digests
                                or blob_digests[0] != digest):
        raise InvalidInputError(f"{where}: a directory version needs its manifest digest "
                                "as its first blob")
    if kind in ("reference", "none") and blob_digests:
        raise InvalidInputError(f"{where}: a {kind} version stores no blobs")
    if kind == "none" and digest is not None:
        raise InvalidInputError(f"{where}: a metadata-only version has no digest")
    if (kind == "reference") != (reference_uri is not None):
        raise InvalidInputError(f"{where}: reference_uri is set exactly for references")


def _strings(value: object, where: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(f"{where}: {key} must be a list of strings")
    return list(value)


def _mapping(value: object, where: str, key: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInputError(f"{where}: {key} must be a JSON object")
    return value


def _epoch(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value < 0:
        raise InvalidInputError(f"{where}: created_at must be seconds since the epoch")
    return float(value)


def _count(value: object, where: str, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise InvalidInputError(f"{where}: {key} must be a non-negative integer")
    return value


def _version(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VERSION:
        raise InvalidInputError(f"{where}: version must be an integer from 1 to {MAX_VERSION}")
    return value


# -- the manifest --------------------------------------------------------------------------
def check_manifest(doc: object) -> dict[str, Any]:
    """Validate ``bundle.json``; return it with ``files`` keyed by role and ``blobs`` as
    ``{digest: size}``.

    Raises:
        InvalidInputError: an unknown ``format`` (with an upgrade hint), unknown keys,
            a file path that is absolute, escapes the bundle or is not where format 1
            puts it, a malformed digest or size, or a blob listed twice.
    """
    if not isinstance(doc, dict):
        raise InvalidInputError(f"{MANIFEST} must hold a JSON object")
    fmt = doc.get("format")
    if fmt != FORMAT or isinstance(fmt, bool):
        raise InvalidInputError(f"bundle format {str(fmt)[:20]!r} is not supported (this "
                                f"archivist reads format {FORMAT}); upgrade archivist")
    if set(doc) != _MANIFEST_KEYS:
        raise InvalidInputError(f"{MANIFEST} must have exactly the keys "
                                f"{sorted(_MANIFEST_KEYS)}")
    names.check_name(doc["project"], "project")
    for key in ("archivist", "created_at"):
        names.check_text(doc[key], key)
    files = doc["files"]
    if not isinstance(files, dict) or "versions" not in files or not set(files) <= set(FILES):
        raise InvalidInputError(f"{MANIFEST}: 'files' must map 'versions' (and optionally "
                                "'runs') to their files")
    checked = {role: _file_entry(role, entry) for role, entry in files.items()}
    blobs = doc["blobs"]
    if not isinstance(blobs, list):
        raise InvalidInputError(f"{MANIFEST}: 'blobs' must be a list")
    sizes: dict[str, int] = {}
    for i, entry in enumerate(blobs):
        if not isinstance(entry, dict) or set(entry) != _BLOB_KEYS:
            raise InvalidInputError(f"{MANIFEST}: blob entry {i} must have exactly "
                                    f"{sorted(_BLOB_KEYS)}")
        digest = check_digest(entry["digest"])
        if digest in sizes:
            raise InvalidInputError(f"{MANIFEST}: blob {digest} is listed twice")
        size = _count(entry["size"], MANIFEST, f"blob {digest} size")
        assert size is not None
        sizes[digest] = size
    return {**doc, "files": checked, "blobs": sizes}


def _file_entry(role: str, entry: object) -> dict[str, Any]:
    where = f"{MANIFEST}: file {role!r}"
    if not isinstance(entry, dict) or set(entry) != _FILE_KEYS:
        raise InvalidInputError(f"{where} must have exactly {sorted(_FILE_KEYS)}")
    path = check_relative_path(entry["path"], f"{where} path")
    if path != FILES[role]:
        raise InvalidInputError(f"{where} is at {path!r}; format {FORMAT} keeps it at "
                                f"{FILES[role]!r}")
    check_digest(entry["digest"])
    for key in ("size", "records"):
        if _count(entry[key], where, key) is None:
            raise InvalidInputError(f"{where}: {key} must be a non-negative integer")
    return dict(entry)
