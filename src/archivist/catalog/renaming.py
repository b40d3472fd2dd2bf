"""The catalog's methods that edit what a name or a version is called and says:
``rename`` a name, ``update_description`` and ``update_metadata`` of a version (MLflow's
``rename_registered_model`` and ``update_model_version``, W&B's ``artifact.save()``),
``update_dataset_meta`` (MLRun's); docs/concepts.md, "Renaming" and "Editing a version".
A version's bytes and digest never change: only what is said about them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archivist import names
from archivist.catalog import logbook
from archivist.catalog.core import CatalogCore
from archivist.errors import InvalidInputError
from archivist.model import Artifact


class RenamingMethods:
    """``rename`` and ``update_description`` of :class:`ArtifactCatalog`."""

    def rename(self: CatalogCore, old_name: str, new_name: str, *,
               project: str | None = None) -> None:
        """Rename ``old_name`` to ``new_name``: every version (deleted ones too) keeps its
        id, number, tags, aliases, lineage and runs; only its ``name`` and ``uri`` change.
        The change goes to the history (``kind="rename"``); afterwards the old name is
        not found, and the error says what it was renamed to. A case-only change
        (``fraud`` -> ``Fraud``) is a rename; the same spelling changes nothing.

        Raises:
            InvalidNameError: either name is malformed.
            ArtifactNotFoundError: no artifact is named ``old_name`` (exact spelling).
            ConflictError: ``new_name`` exists in the project, in any case.
        """
        old, new = names.check_name(old_name), names.check_name(new_name)
        self.backend.rename(self._scope(project), old, new, self.user)

    def update_description(self: CatalogCore, ref: str | Artifact,
                           description: str | None) -> None:
        """Replace the description of a version (``None`` clears it); the change goes to
        the history (``kind="description"``) and full-text search finds the new words.

        Raises:
            ArtifactNotFoundError: nothing answers ``ref``.
            ConflictError: the version is deleted.
            InvalidInputError: not a string, over 1 MiB, or a control character.
        """
        text = names.check_text(description, "description", names.MAX_DESCRIPTION)
        self.backend.update_description(self._resolve(ref).id, text, self.user)

    def update_metadata(self: CatalogCore, ref: str | Artifact,
                        metadata: Mapping[str, Any] | None = None, *,
                        remove: Sequence[str] = ()) -> Artifact:
        """Set the top-level keys of ``metadata`` and remove the keys ``remove`` names
        (absent ones are ignored) on a registered version; returns the version as it now
        is. Search sees the new values (``metadata.reviewed=true``); each key whose value
        changed goes to the history (``kind="metadata"``, old and new value); the bytes,
        digest, tags and lineage stay as they were.

        Raises:
            ArtifactNotFoundError: nothing answers ``ref``.
            ConflictError: the version is deleted.
            InvalidInputError: values that are not JSON, a key over 128 characters, or a
                result over the 1 MiB metadata limit (then nothing changes).
        """
        clean = names.check_metadata(metadata)
        names.check_metadata_keys(clean)
        gone = names.check_metadata_keys(remove)
        target = self._resolve(ref)
        self.backend.update_metadata(target.id, clean, gone, self.user)
        return self._by_id(target.id)

    def update_dataset_meta(self: CatalogCore, artifact: str | Artifact, from_df: Any = None,
                            schema: Any = None, header: Sequence[str] | None = None,
                            preview: Sequence[Any] | None = None,
                            stats: Mapping[str, Any] | None = None,
                            extra_data: Mapping[str, Any] | None = None,
                            column_metadata: Mapping[str, Any] | None = None,
                            labels: Mapping[str, Any] | None = None) -> Artifact:
        """MLRun's ``update_dataset_meta`` for a ``Dataset`` version: ``from_df`` recomputes
        ``schema``/``rows``/``columns``/``preview``/``stats`` from a DataFrame; the other
        arguments replace those keys (``header`` and ``column_metadata`` too);
        ``extra_data`` maps names to other versions (stored as their ``archivist://`` URI)
        or to strings and is merged into the ``extra_data`` key; ``labels`` become tags.
        Goes through :meth:`update_metadata` and :meth:`tag`, so each change is in the
        history. Returns the version as it now is.

        Raises:
            InvalidInputError: the version is not a ``Dataset``; the errors of
                :meth:`update_metadata`.
        """
        target = self._resolve(artifact)
        if target.artifact_type.lower() != "dataset":
            raise InvalidInputError(f"update_dataset_meta updates a Dataset; {target.ref} is a "
                                    f"{target.artifact_type} (use update_metadata)")
        changes: dict[str, Any] = {}
        if from_df is not None:
            changes.update(logbook.describe_table(from_df))
        given = {"schema": schema, "header": None if header is None else list(header),
                 "preview": None if preview is None else list(preview), "stats": stats,
                 "column_metadata": column_metadata}
        changes.update({k: v for k, v in given.items() if v is not None})
        if extra_data:
            if not isinstance(extra_data, Mapping):
                raise InvalidInputError("extra_data must be a mapping of names to versions "
                                        "or strings")
            merged = dict(target.metadata.get("extra_data") or {})
            merged.update({str(key): item.uri if isinstance(item, Artifact) else item
                           for key, item in extra_data.items()})
            changes["extra_data"] = merged
        if labels:
            clean = names.check_tags(labels)
            self.backend.update_tags(target.id, clean, (), self.user)
        return RenamingMethods.update_metadata(self, target, changes)
