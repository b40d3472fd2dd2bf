"""The catalog: :class:`ArtifactCatalog`, the one object users hold, and what it is
made of.

==================  ==============================================================
``facade.py``       ``ArtifactCatalog``: validates once, delegates
``lineage.py``      its lineage methods; ``runs.py``: runs and ``log_*``;
                    ``moving.py``: ``export``, ``export_files``, ``import_bundle``;
                    ``renaming.py``: ``rename``, ``update_description``
``core.py``         what those method groups need of the catalog (a protocol)
``arguments.py``    the façade's arguments turned into backend filters and limits
``registration.py`` validate, land the content, lease its blobs, write the rows
``content.py``      bytes of a registration: files, folders, objects, references
``reading.py``      load, open and download, verified against the digest
``diffing.py``      what changed between two versions
``graph.py``        lineage as a graph (Mermaid, DOT)
``logbook.py``      ``log_dataset``, ``log_model``, ``log_plot``, ``log_metrics``
==================  ==============================================================
"""

from archivist.catalog.facade import ArtifactCatalog

__all__ = ["ArtifactCatalog"]
