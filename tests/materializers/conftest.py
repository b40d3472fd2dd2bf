from __future__ import annotations

import pytest

from archivist.materializers import MaterializerRegistry, default_registry


@pytest.fixture
def registry() -> MaterializerRegistry:
    return default_registry()
