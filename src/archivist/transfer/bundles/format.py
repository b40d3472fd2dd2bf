"""The bundle format, version 1: what each file of a bundle holds, and its validation.

A bundle is a folder (or an uncompressed ``.tar`` of the same members)::

    bundle.json               the manifest: {"format": 1, "files": …, "blobs": …, …}
    versions.jsonl            one version record per line (canonical JSON)
    runs.jsonl                one run record per line (RunRecord.to_dict)
    blobs/sha256/ab/cdef…     the exact bytes of every blob the versions need

Everything here is plain data checking: a bundle is untrusted input, so every record is
validated with the rules every writer shares (:mod:`archivist.records`), and
anything unknown is refused rather than ignored (a newer format must say so with its
``format`` number). See docs/storage.md, "Bundles".
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from archivist import names, records
from archivist.errors import InvalidInputError, InvalidNameError
from archivist.limits import MAX_NUMBER
from archivist.model import NewVersion
from archivist.store.hashing import check_digest
from archivist.store.paths import check_relative_path
from archivist.wire import new_version_from_dict, new_version_to_dict

FORMAT = 1
MANIFEST = "bundle.json"
VERSIONS = "versions.jsonl"
RUNS = "runs.jsonl"
#: The roles of the record files a manifest may list, and where the writer puts them.
FILES = {"versions": VERSIONS, "runs": RUNS}
MAX_MANIFEST_BYTES = 512 * 1024 * 1024
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
#: A version record as written to ``versions.jsonl``: the wire form of the HTTP API.
record_to_dict = new_version_to_dict


def record_from_dict(raw: object, where: str) -> NewVersion:
    """Validate one line of ``versions.jsonl`` and build the record: every key present
    (the bundle's own rule), then the wire form's types and the rules every writer shares
    (:func:`archivist.records.check_new_version`; ``file://`` references allowed, as in
    the catalog the bundle came from). A bundle keeps version numbers: one is required.

    Raises:
        InvalidInputError: unknown or missing keys, or any value ``register`` would refuse
            (tags, metadata, partitions, digests, URIs, sizes, version numbers); the
            message starts with ``where`` (e.g. ``versions.jsonl line 3``).
        InvalidNameError: a malformed id, name, alias, project or tag key.
    """
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where}: a version record must be a JSON object")
    if set(raw) != _RECORD_KEYS:
        unknown, missing = sorted(set(raw) - _RECORD_KEYS), sorted(_RECORD_KEYS - set(raw))
        raise InvalidInputError(f"{where}: unknown keys {unknown}, missing keys {missing}")
    try:
        record = records.check_new_version(new_version_from_dict(raw), allow_file_uri=True)
    except (InvalidNameError, InvalidInputError) as exc:
        raise type(exc)(f"{where}: {exc.message}", **exc.details) from None
    if record.version is None:
        raise InvalidInputError(f"{where}: version must be an integer from 1 to "
                                f"{MAX_NUMBER}")
    return record


def _count(value: object, where: str, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise InvalidInputError(f"{where}: {key} must be a non-negative integer")
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
