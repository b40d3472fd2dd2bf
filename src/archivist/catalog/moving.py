"""The catalog's methods that move versions out and in: bundles (``export``,
``import_bundle``; docs/transfer.md) and template exports (``export_files``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from archivist.transfer.bundles import ExportReport, export_bundle, import_bundle
from archivist.transfer.copier import CopyReport
from archivist.transfer.source import CatalogView
from archivist.transfer.templates import TemplateExport, export_files, is_template


class MovingMethods:
    """``export``, ``export_files`` and ``import_bundle`` of :class:`ArtifactCatalog`."""

    def export(self: CatalogView, refs_or_query: Any, dest: str | os.PathLike[str], *,
               ancestors: bool = False) -> ExportReport | TemplateExport:
        """Write the versions ``refs_or_query`` names (a search query, a list of refs,
        or ``None`` for every live version of the project) with their runs and blobs to
        a new bundle at ``dest`` (a ``.tar`` file when the name ends in ``.tar``, else a
        folder); ``ancestors=True`` adds every live version they derive from.

        A ``dest`` holding ``{{`` is a path template: that is :meth:`export_files`
        (kept here for code written before it had its own name).

        Raises:
            InvalidInputError: ``dest`` exists (an empty folder is fine).
            InvalidQueryError, ArtifactNotFoundError: a bad query or ref.
            ConflictError: a ref names a deleted version (bundles carry live ones).
            IntegrityError: a chosen version's bytes are missing or corrupt.
        """
        if is_template(dest):
            return export_files(self, refs_or_query, dest)
        return export_bundle(self, refs_or_query, dest, ancestors=ancestors)

    def export_files(self: CatalogView, run_or_refs: Any,
                     template: str | os.PathLike[str]) -> TemplateExport:
        """Write the bytes of a run's versions (``run_or_refs``: a run id, pathspec or
        record) or of the given refs to readable paths made from ``template``, e.g.
        ``"./artifacts/{{project}}/{{run.uid}}/{{name}}"`` (docs/pipelines.md, "Export").
        Placeholders, rules and errors: :func:`archivist.transfer.templates.export_files`.
        """
        return export_files(self, run_or_refs, template)

    def import_bundle(self: CatalogView, src: str | os.PathLike[str], *,
                      project: str | None = None, as_new_versions: bool = False,
                      rename: Mapping[str, str] | None = None) -> CopyReport:
        """Import a bundle made by :meth:`export`: ids, version numbers, tags, aliases,
        lineage and runs preserved; versions already here are skipped, so importing
        twice changes nothing. The versions land in this catalog's project, or in
        ``project`` when given. ``as_new_versions`` (versions whose numbers are taken
        here land as new versions) and ``rename``: see docs/transfer.md.

        Raises:
            InvalidInputError: a malformed bundle (format, records, unsafe member paths).
            IntegrityError: a blob or record file does not match its digest.
            ConflictError: an id or version number here belongs to another version
                (without ``as_new_versions``).
            Nothing is written when any of these is raised.
        """
        return import_bundle(self, src, project=project, as_new_versions=as_new_versions,
                             rename=rename)
