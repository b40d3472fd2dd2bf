"""The ``archivist`` command line: a thin shell over :class:`ArtifactCatalog` (SPEC §8).

One module per command group — ``registering`` (init, add), ``reading`` (ls, show, search,
get, diff, lineage), ``changing`` (tag, alias, rm), ``maintenance`` (verify, gc) — with
``app`` holding the global options and exit-status rules, ``output``/``views``/``datasets``
the printing (``tables`` fits tables to the terminal), ``helptext`` the ``--help`` layout,
examples and docs links, and ``progress`` the Rich bars. Reference: docs/cli.md.
"""

from __future__ import annotations

from archivist.cli.app import app, main

__all__ = ["app", "main"]
