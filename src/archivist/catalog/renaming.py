"""The catalog's methods that edit what a name or a version is called and says:
``rename`` a name, ``update_description`` of a version (MLflow's
``rename_registered_model`` and ``update_model_version``; docs/concepts.md, "Renaming")."""

from __future__ import annotations

from archivist import names
from archivist.catalog.core import CatalogCore
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
