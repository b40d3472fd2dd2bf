"""Moving versions between catalogs and out of them: ``push``, bundles (``export`` /
``import_bundle``) and template exports (``export_files``).

Nothing here imports the catalog: an operation takes the catalog it works on as a
:class:`~archivist.transfer.source.CatalogView` (what it reads of it) or as its backend
and blob store (what it writes), so :mod:`archivist.catalog` can offer every operation
as a method without an import circle.
"""
