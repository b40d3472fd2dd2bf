"""``python -m archivist.cli``: the same as the ``archivist`` console script."""

from __future__ import annotations

from archivist.cli import main

if __name__ == "__main__":
    main()
