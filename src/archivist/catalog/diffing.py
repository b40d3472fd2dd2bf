"""``diff``: what changed between two versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from archivist.model import Artifact

if TYPE_CHECKING:
    from archivist.catalog.reading import Reader

#: Metadata keys a dataset materializer writes; compared in the ``dataset`` section.
DATASET_KEYS = ("schema", "rows", "preview", "stats")


def diff_versions(a: Artifact, b: Artifact, reader: Reader) -> dict[str, Any]:
    """A JSON-ready description of the changes from ``a`` to ``b``."""
    out: dict[str, Any] = {
        "a": {"id": a.id, "ref": a.ref},
        "b": {"id": b.id, "ref": b.ref},
        "same_content": a.digest is not None and a.digest == b.digest,
        "digest": _pair(a.digest, b.digest),
        "size": _pair(a.size, b.size),
        "artifact_type": _pair(a.artifact_type, b.artifact_type),
        "metadata": mapping_diff(
            {k: v for k, v in a.metadata.items() if k not in DATASET_KEYS},
            {k: v for k, v in b.metadata.items() if k not in DATASET_KEYS}),
        "tags": mapping_diff(a.tags, b.tags),
        "partitions": mapping_diff(a.partitions, b.partitions),
    }
    if a.kind == b.kind == "directory" and a.digest != b.digest:
        out["files"] = reader.manifest(a).diff(reader.manifest(b))
    if "schema" in a.metadata or "schema" in b.metadata:
        out["dataset"] = _dataset_diff(a.metadata, b.metadata)
    return out


def mapping_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """``added``/``removed`` (key -> value) and ``changed`` (key -> {"a", "b"})."""
    return {
        "added": {k: b[k] for k in b if k not in a},
        "removed": {k: a[k] for k in a if k not in b},
        "changed": {k: {"a": a[k], "b": b[k]} for k in a if k in b and a[k] != b[k]},
    }


def _pair(a: Any, b: Any) -> dict[str, Any]:
    return {"a": a, "b": b, "changed": a != b}


def _dataset_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    cols_a = {c["name"]: c.get("type") for c in a.get("schema") or []}
    cols_b = {c["name"]: c.get("type") for c in b.get("schema") or []}
    stats_a, stats_b = a.get("stats") or {}, b.get("stats") or {}
    stats: dict[str, Any] = {}
    for column in cols_a.keys() & cols_b.keys():
        changed = mapping_diff(stats_a.get(column) or {}, stats_b.get(column) or {})["changed"]
        if changed:
            stats[column] = changed
    return {
        "rows": _pair(a.get("rows"), b.get("rows")),
        "schema": mapping_diff(cols_a, cols_b),
        "stats": stats,
    }
