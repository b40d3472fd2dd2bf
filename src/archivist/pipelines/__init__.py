"""Pipelines record themselves: function steps, runs, logging helpers, OpenLineage.

The public names (``step``, ``pipeline``) are re-exported by :mod:`archivist`; this
package's ``__init__`` imports nothing so that :mod:`archivist.catalog` can use its
modules without an import cycle.
"""
