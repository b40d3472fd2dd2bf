"""Bytes, content-addressed: blobs, directory manifests, external references.

Nothing here knows about versions or names; the catalog decides what to store and records
the digests this package hands back.
"""

from __future__ import annotations

from archivist.store.blobs import Blobs, CheckResult, FsspecBlobs
from archivist.store.hashcache import HashCache, NullHashCache
from archivist.store.hashing import (
    DIGEST_RE,
    HashingReader,
    VerifyingReader,
    check_digest,
    hash_bytes,
    hash_file,
)
from archivist.store.localfs import LocalBlobs
from archivist.store.manifest import Manifest, ManifestEntry, build_manifest, materialize
from archivist.store.paths import check_relative_path, contained, safe_relative_path
from archivist.store.references import check_reference, check_uri, describe_reference
from archivist.store.stores import open_blobs

__all__ = [
    "DIGEST_RE",
    "Blobs",
    "CheckResult",
    "FsspecBlobs",
    "HashCache",
    "HashingReader",
    "LocalBlobs",
    "Manifest",
    "ManifestEntry",
    "NullHashCache",
    "VerifyingReader",
    "build_manifest",
    "check_digest",
    "check_reference",
    "check_relative_path",
    "check_uri",
    "contained",
    "describe_reference",
    "hash_bytes",
    "hash_file",
    "materialize",
    "open_blobs",
    "safe_relative_path",
]
