"""Step caching: content digests of values and the cache key of a step call.

A value's digest is the digest its bytes would have in the catalog: the value is written
through the catalog's materializers to a scratch file and hashed, so a DataFrame built
anew with the same rows matches the version an earlier step stored.

The cache key of a call hashes the step's identity and code (its qualified name and the
source text of the function), its output layout, and the digest of every argument by
parameter name. The git commit is deliberately left out: an unrelated commit elsewhere in
the repository would otherwise invalidate every cached step (docs/pipelines.md, "Caching").
A call with an argument that cannot be hashed (an object no materializer writes) has no
key and always runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archivist.errors import ArchivistError
from archivist.materializers.registry import InMemoryMaterializer
from archivist.model import Artifact
from archivist.store.hashing import hash_bytes, hash_file

if TYPE_CHECKING:
    from archivist.catalog import ArtifactCatalog

KEY_VERSION = 1


def value_digest(catalog: ArtifactCatalog, value: Any) -> str | None:
    """The content digest ``value`` would be stored under, or ``None`` when it cannot
    be written (no materializer takes it) or it is an :class:`Artifact` without content
    (whose id then stands in, see :func:`input_digest`)."""
    if isinstance(value, Artifact):
        return value.digest
    if isinstance(value, bytes | bytearray | memoryview):
        return hash_bytes(value)  # the bytes materializer stores them as they are
    in_memory = _builtin_bytes(catalog, value)
    if in_memory is not None:
        return hash_bytes(in_memory)
    scratch = _scratch(catalog)
    scratch.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="digest-", dir=scratch))
    try:
        target = workdir / "object"
        try:
            catalog.materializers.save(value, target)
        except (ArchivistError, TypeError, ValueError, AttributeError, OSError):
            return None
        except Exception:  # a pickle fallback may raise anything the object's state raises
            return None
        return hash_file(target)[0]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _builtin_bytes(catalog: ArtifactCatalog, value: Any) -> bytes | None:
    """The exact bytes an in-memory materializer (text, JSON, …) writes, without a file
    (``None`` when another materializer takes the value)."""
    try:
        chosen = catalog.materializers.for_object(value)
        if isinstance(chosen, InMemoryMaterializer):
            return chosen.encode(value)[0]
    except (ArchivistError, TypeError, ValueError):
        return None
    return None


def input_digest(catalog: ArtifactCatalog, value: Any, known: str | None) -> str | None:
    """What identifies an argument in a cache key: the digest of the version it came
    from (``known``), an Artifact's digest (or its id when it has no content), else the
    digest of the value itself."""
    if known is not None:
        return known
    if isinstance(value, Artifact):
        return value.digest or f"id:{value.id}"
    return value_digest(catalog, value)


def cache_key(step: str, code_hash: str, outputs: Sequence[str] | None,
              inputs: Mapping[str, str | None], extra: Mapping[str, Any]) -> str | None:
    """``sha256:`` over the step, its code, its outputs and its inputs' digests; ``None``
    when an input has no digest (the call is not cacheable)."""
    if any(d is None for d in inputs.values()):
        return None
    body = json.dumps({"v": KEY_VERSION, "step": step, "code": code_hash,
                       "outputs": list(outputs) if outputs is not None else None,
                       "inputs": dict(sorted(inputs.items())), "extra": dict(extra)},
                      sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def _scratch(catalog: ArtifactCatalog) -> Path:
    """The catalog's own scratch folder when it has a home (same filesystem as the
    store), else the system's temporary folder."""
    return catalog.home / "tmp" if catalog.home is not None else Path(tempfile.gettempdir())
