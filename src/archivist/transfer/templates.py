"""Export a run's artifacts (or chosen versions) to readable paths made from a template.

::

    catalog.export("fraud_detection/3", "./artifacts/{{project}}/{{run.uid}}")
    # ./artifacts/default/0192…/features.parquet, ./artifacts/default/0192…/model.skops

Placeholders (spaces inside the braces are allowed): ``{{project}}``, ``{{name}}``,
``{{version}}``, ``{{id}}``, ``{{type}}``, ``{{step}}``, ``{{pipeline}}``, ``{{run.uid}}``
(= ``{{run.id}}``), ``{{run.number}}``, ``{{run.pathspec}}`` (``pipeline/number``: two
folders) and ``{{run.pipeline}}``. The rendered template is each version's path; when it
names neither ``{{name}}`` nor ``{{id}}``, ``/{{name}}`` is appended, and versions that
would then share a path get ``-v<version>``. A file without a suffix gets its format's
(``.parquet``, ``.json``, ``.png``, …); a directory version becomes a folder; external
references and metadata-only versions have no bytes here and are listed as skipped.

Paths are safe: the part of the template before the first placeholder is the root, and
each rendered remainder must be a plain relative path (no ``..``, no absolute or drive
paths, no ``.git``; the rules of :mod:`archivist.store.paths`) that stays inside the root
once symlinks are resolved.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from archivist import names
from archivist.errors import ArtifactNotFoundError, InvalidInputError, InvalidNameError
from archivist.model import Artifact, RunRecord
from archivist.store.paths import contained, safe_relative_path
from archivist.transfer.source import CatalogView

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_.]+)\s*\}\}")
FIELDS = ("project", "name", "version", "id", "type", "step", "pipeline", "run.uid",
          "run.id", "run.number", "run.pathspec", "run.pipeline")
#: UTF-8 bytes of a name used whole as a file or folder name: with ``-v<version>`` and a
#: suffix it stays under the 255 bytes of NAME_MAX (128 CJK characters are 384 bytes)
SEGMENT_BYTES = 200
EXTENSIONS = {"parquet": ".parquet", "npy": ".npy", "json": ".json", "text": ".txt",
              "bytes": ".bin", "png": ".png", "skops": ".skops", "joblib": ".joblib",
              "pickle": ".pkl", "safetensors": ".safetensors"}


@dataclass(frozen=True)
class TemplateExport:
    """What a template export wrote: version id -> path, and what had no bytes."""

    root: str
    files: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "files": dict(self.files), "skipped": list(self.skipped)}


def is_template(dest: str | os.PathLike[str]) -> bool:
    """Whether ``dest`` is a path template (it contains ``{{``)."""
    return "{{" in os.fspath(dest)


def export_files(catalog: CatalogView, selection: Any,
                 template: str | os.PathLike[str]) -> TemplateExport:
    """Write the versions of a run (its id, pathspec or record) or the given refs to
    the paths ``template`` renders (see the module doc).

    Raises:
        InvalidInputError: an unknown placeholder, an unsafe rendered path, two
            versions rendered to one path, or a run placeholder for a version made
            outside any run.
        ArtifactNotFoundError: the run or a ref does not exist.
        PermissionDeniedError: a rendered path resolves outside the root.
    """
    text = os.fspath(template)
    for found in _PLACEHOLDER.findall(text):
        if found not in FIELDS:
            raise InvalidInputError(f"unknown placeholder {{{{{found}}}}} in {text!r}; "
                                    f"known: {', '.join(FIELDS)}")
    if "{{" in _PLACEHOLDER.sub("", text) or "}}" in _PLACEHOLDER.sub("", text):
        raise InvalidInputError(f"malformed placeholder in {text!r}: write {{{{name}}}}")
    first = _PLACEHOLDER.search(text)
    assert first is not None, "export_files is called with a template"
    root_text, _, _ = text[:first.start()].rpartition("/")
    root = Path(root_text or ".")
    remainder = text[len(root_text) + 1:] if root_text else text
    if not {"name", "id"} & set(_PLACEHOLDER.findall(remainder)):
        remainder = remainder.rstrip("/") + "/{{name}}"
    run, versions = _select(catalog, selection)
    runs: dict[str, RunRecord | None] = {run.id: run} if run is not None else {}
    paths: dict[str, str] = {}
    skipped: list[str] = []
    for artifact in versions:
        if artifact.kind not in ("file", "directory") or artifact.digest is None:
            skipped.append(artifact.id)
            continue
        values = _values(catalog, artifact, run, runs, remainder)
        rendered = _render(remainder, values)
        paths[artifact.id] = safe_relative_path(rendered.strip("/"), "exported path")
    _disambiguate(paths, {a.id: a for a in versions})
    files: dict[str, str] = {}
    root.mkdir(parents=True, exist_ok=True)
    by_id = {a.id: a for a in versions}
    for vid, rel in paths.items():
        artifact = by_id[vid]
        rel = _with_suffix(rel, artifact)
        target = contained(root, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        contained(root, target)  # a parent may have been a symlink created meanwhile
        files[vid] = str(catalog.download(artifact, target))
    return TemplateExport(root=str(root), files=files, skipped=skipped)


def _select(catalog: CatalogView, selection: Any) -> tuple[RunRecord | None,
                                                                 list[Artifact]]:
    if isinstance(selection, RunRecord):
        return selection, _versions(catalog, selection.produced)
    if isinstance(selection, str):
        try:
            run = catalog.get_run(selection)
        except InvalidNameError:  # not a run reference: a version reference
            return None, [catalog.get(selection)]
        except ArtifactNotFoundError:
            if "/" in selection:  # a pathspec: the run is what is missing
                raise
            return None, [catalog.get(selection)]  # an id: maybe a version's
        return run, _versions(catalog, run.produced)
    if isinstance(selection, Artifact):
        return None, [selection]
    if isinstance(selection, list | tuple):
        return None, [catalog.get(r) for r in selection]
    raise InvalidInputError("export takes a run (id, pathspec or record) or a list of refs, "
                            f"got {type(selection).__name__}")


def _versions(catalog: CatalogView, ids: list[str]) -> list[Artifact]:
    found = catalog.backend.get_versions_by_id(ids)
    return [a for a in found if not a.deleted]


def _values(catalog: CatalogView, artifact: Artifact, run: RunRecord | None,
            runs: dict[str, RunRecord | None], template: str) -> dict[str, str]:
    values = {"project": artifact.project, "name": artifact.name,
              "version": str(artifact.version), "id": artifact.id,
              "type": _segment(artifact.artifact_type), "step": artifact.source_step or "none",
              "pipeline": artifact.source_pipeline or "none"}
    if "run." in template:
        owner = run
        if owner is None and artifact.source_run_id is not None:
            if artifact.source_run_id not in runs:
                try:
                    runs[artifact.source_run_id] = catalog.get_run(artifact.source_run_id)
                except (ArtifactNotFoundError, InvalidNameError):
                    runs[artifact.source_run_id] = None
            owner = runs[artifact.source_run_id]
        if owner is None:
            raise InvalidInputError(f"{artifact.ref} was not made by a recorded run; the "
                                    "template's run placeholders cannot be filled")
        values.update({"run.uid": owner.id, "run.id": owner.id,
                       "run.number": str(owner.number), "run.pathspec": owner.pathspec,
                       "run.pipeline": owner.pipeline})
    return {k: "/".join(map(_segment, v.split("/"))) if k == "run.pathspec" else _segment(v)
            for k, v in values.items()}


def _render(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _segment(value: str) -> str:
    """A value as one path segment: names are safe already, but cut (with a hash of the
    whole) past ``SEGMENT_BYTES``; anything else is tamed."""
    if names.is_name(value):
        data = value.encode()
        if len(data) <= SEGMENT_BYTES:
            return value
        tail = "-" + hashlib.sha256(data).hexdigest()[:12]
        return data[:SEGMENT_BYTES - len(tail)].decode("utf-8", "ignore") + tail
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._") or "_"
    return cleaned.replace("..", "_")


def _disambiguate(paths: dict[str, str], by_id: dict[str, Artifact]) -> None:
    counts = Counter(paths.values())
    for vid, rel in list(paths.items()):
        if counts[rel] > 1:
            paths[vid] = f"{rel}-v{by_id[vid].version}"
    clashes = [p for p, n in Counter(paths.values()).items() if n > 1]
    if clashes:
        raise InvalidInputError(f"several versions export to {clashes[0]!r}; add "
                                "{{version}} or {{id}} to the template")


def _with_suffix(rel: str, artifact: Artifact) -> str:
    """``rel`` with the format's suffix unless it ends with it (names may hold dots)."""
    if artifact.kind != "file":
        return rel
    suffix = EXTENSIONS.get(artifact.format or "")
    if suffix is None and artifact.format == "file":
        suffix = PurePosixPath(str(artifact.metadata.get("filename", ""))).suffix or None
    return rel + suffix if suffix and not rel.endswith(suffix) else rel
