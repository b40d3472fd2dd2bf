"""The seed-page tests run on every backend: the contract suite's ``catalog`` fixture
(sqlite, postgres, remote-sqlite, remote-postgres)."""

from __future__ import annotations

from tests.contract.conftest import backend_name, capabilities, catalog

__all__ = ["backend_name", "capabilities", "catalog"]
