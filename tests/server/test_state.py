"""What a server app holds between requests: the per-type counts of a project are
reused for a few seconds, then counted again."""

from __future__ import annotations

from pathlib import Path

import pytest

from archivist import ArtifactCatalog
from archivist.server import ServerSettings, state
from archivist.server.state import ServerState


def test_type_counts_are_reused_for_a_while(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    with ArtifactCatalog(home) as catalog:
        catalog.register("m", "Model")
    now = [1000.0]
    monkeypatch.setattr(state.time, "monotonic", lambda: now[0])
    held = ServerState(ServerSettings(home=str(home), insecure_single_user=True))
    try:
        assert held.type_counts("default") == {"Model": 1}
        with ArtifactCatalog(home) as catalog:
            catalog.register("d", "Dataset")
        now[0] += state.COUNTS_TTL - 1
        assert held.type_counts("default") == {"Model": 1}  # still the count of before
        now[0] += 2
        assert held.type_counts("default") == {"Model": 1, "Dataset": 1}
        assert held.type_counts("other") == {}
    finally:
        held.close()
