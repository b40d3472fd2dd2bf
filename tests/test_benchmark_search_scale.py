"""The search-at-scale benchmark's own pieces (``make bench`` is not run in CI): the ids-only
search returns the page the hydrated search returns, the raw full-text reference query
runs on both databases, the PostgreSQL catalog is cached, the issue's rows are judged
against their targets and the chart is drawn."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from archivist import ArtifactCatalog
from tests.fixtures.postgres import PostgresCluster

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def scale() -> ModuleType:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module("search_scale")


@pytest.fixture(scope="module")
def sqlite_catalog(scale: ModuleType,
                   tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = sys.modules["archivist_workloads"]
    with ArtifactCatalog(tmp_path_factory.mktemp("scale")) as catalog:
        work.build_search_catalog(catalog, 3000, chunk=1000)
        yield catalog


def _ids_of(catalog: ArtifactCatalog, seqs: list[int]) -> list[str]:
    engine = catalog.backend.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        found = dict(conn.execute(sa.text("SELECT seq, id FROM versions WHERE seq IN :s")
                                  .bindparams(sa.bindparam("s", expanding=True)),
                                  {"s": seqs}).all())
    return [found[s] for s in seqs]


@pytest.mark.parametrize("query", ["fraud stage:production metadata.accuracy>=0.9",
                                   "stage:production team:ads", "metadata.accuracy>0.9"])
def test_ids_only_is_the_hydrated_page(scale: ModuleType, sqlite_catalog: Any,
                                       query: str) -> None:
    hydrated = [a.id for a in sqlite_catalog.search(query, limit=50)]
    seqs = scale.search_seqs(sqlite_catalog, query, 50)
    assert hydrated  # the generated catalog matches every benchmark query
    assert _ids_of(sqlite_catalog, seqs) == hydrated


def test_raw_text_is_the_ranked_fts5_page(scale: ModuleType, sqlite_catalog: Any) -> None:
    seqs = scale.raw_text(sqlite_catalog)
    matches = len(sqlite_catalog.search("fraud", limit=1000))
    assert len(set(seqs)) == len(seqs) == min(100, matches) > 0
    assert all("fraud" in sqlite_catalog.get(i).description
               for i in _ids_of(sqlite_catalog, seqs))


def test_measure_records_the_two_ratios(scale: ModuleType, sqlite_catalog: Any) -> None:
    out = scale.measure(sqlite_catalog, rounds=2, n=3, budget_s=5.0)
    assert out["rounds"] == 2
    assert out["rows"]["hydrated_50"] == out["rows"]["ids_50"] > 0
    assert out["main_over_raw"] == round(out["main"]["p50_ms"] / out["raw_text"]["p50_ms"], 2)
    assert out["hydrated_over_ids"] == round(
        out["hydrated_50"]["p50_ms"] / out["ids_50"]["p50_ms"], 2)


def test_slow_calls_stop_the_rounds(scale: ModuleType, sqlite_catalog: Any) -> None:
    """A size whose calls outlast the nominal time of every round gets fewer rounds."""
    out = scale.measure(sqlite_catalog, rounds=3, n=1, budget_s=1e-6)
    assert out["rounds"] == 1 and out["main"]["n"] == 1


def test_postgres_catalog_is_built_once_and_measured(
        scale: ModuleType, postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    logged: list[str] = []
    url, built = scale.pg_catalog(postgres_cluster, 300, False, logged.append,
                                  cache_dir=tmp_path)
    try:
        again_url, again = scale.pg_catalog(postgres_cluster, 300, False, logged.append,
                                            cache_dir=tmp_path)
        assert (built["cached"], again["cached"], again_url) == (False, True, url)
        assert len([m for m in logged if "building" in m]) == 1
        with ArtifactCatalog(url, blobs=str(tmp_path / "blobs")) as catalog:
            out = scale.measure(catalog, rounds=1, n=2, budget_s=5.0)
            assert out["rows"]["raw_text"] == min(100, len(catalog.search("fraud",
                                                                          limit=1000)))
            assert _ids_of(catalog, scale.search_seqs(catalog, scale.TAGS_ONLY, 50)) == [
                a.id for a in catalog.search(scale.TAGS_ONLY, limit=50)]
        assert out["main_over_raw"] is not None
    finally:
        postgres_cluster.drop_database(url.rsplit("/", 1)[1])


def _line(fid: str, what: str, value: Any, unit: str, target: str, met: bool | None,
          **extra: Any) -> dict[str, Any]:
    return {"id": fid, "value": value, "met": met, **extra}


def _meets(value: Any, op: str, bound: float) -> bool | None:
    return None if value is None else (value <= bound if op == "<=" else value >= bound)


def test_figures_judge_the_issue_rows(scale: ModuleType) -> None:
    size = {"main": {"p50_ms": 12.0}, "raw_text": {"p50_ms": 3.0}, "main_over_raw": 4.0,
            "tags_only": {"p50_ms": 4.0}, "comparison_only": {"p50_ms": 6.0},
            "hydrated_over_ids": 1.2, "ids_50": {"p50_ms": 2.0}, "rows": {}}
    result = {"sizes": [100_000, 1_000_000], "sqlite": {"100000": size, "1000000": size},
              "postgresql": {"skipped": "no binaries"}}
    lines = {f["id"]: f for f in scale.figures(result, 100_000, 1_000_000, _line, _meets)}
    assert {k: v["met"] for k, v in lines.items() if "sqlite" in k} == {
        "search.1m.sqlite.p50": True, "search.1m.sqlite.vs_raw": False,
        "search.1m.sqlite.tags_only": True, "search.1m.sqlite.comparison_only": False,
        "search.hydrate50.sqlite": True}
    assert all(v["met"] is None for k, v in lines.items() if "postgresql" in k)
    assert scale.size_tag(5000) == "5k" and scale.size_tag(1_000_000) == "1m"


def test_chart_is_drawn(scale: ModuleType, tmp_path: Path) -> None:
    per = {"1000": {"versions": 1000, "main": {"p50_ms": 2.0}, "raw_text": {"p50_ms": 1.0}},
           "10000": {"versions": 10_000, "main": {"p50_ms": 4.0}}}
    result = {"sizes": [1000, 10_000], "sqlite": per, "postgresql": {"skipped": "none"},
              "mlflow": {"1000": {"versions": 1000, "tag": {"p50_ms": 40.0}}}}
    assert scale._curve(per, "main", "p50_ms") == ([1000, 10_000], [2.0, 4.0])
    chart = tmp_path / "scale.png"
    scale.plot(result, chart, "test")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mlflow_not_run_says_why(scale: ModuleType) -> None:
    reasons = scale.not_run_reason({"1000": {"register_versions_per_s": 50.0}}, [100_000])
    assert "~33 min" in reasons["100000"] and "50.0 versions/s" in reasons["100000"]


def test_register_vs_mlflow_target_is_ten_times(scale: ModuleType) -> None:
    """Issue 14 set the target to >= 10x MLflow (it was 15x)."""
    run = importlib.import_module("run")
    peers = {"mlflow": {"register": {"versions_per_s": 100.0, "versions": 1000}}}
    lines = {f["id"]: f for f in run.build_figures(
        {"register_single": {"versions_per_s": 1200.0}}, peers, run.FULL)}
    line = lines["register.single.vs_mlflow"]
    assert (line["value"], line["target"], line["met"]) == (12.0, ">= 10x", True)


def test_a_catalog_built_while_the_schema_changed_is_not_cached(
        scale: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The migrations are read from disk when a catalog is built, the rest of the code was
    imported at start: a build that straddles a schema change must not be reused."""
    work = sys.modules["archivist_workloads"]
    key = work.schema_fingerprint()
    monkeypatch.setattr(work, "_fingerprint_now", lambda: key + "-changed")
    home, man = work.cached_catalog("search", 10, lambda catalog, n: {"built": n},
                                    cache_dir=tmp_path)
    assert man["cached"] is False and "not_cached" in man
    assert not (home / "bench-manifest.json").exists()
    monkeypatch.undo()
    _home, again = work.cached_catalog("search", 10, lambda catalog, n: {"built": n},
                                       cache_dir=tmp_path)
    assert again["cached"] is False and (home / "bench-manifest.json").exists()


def test_row_counts_that_differ_between_databases_are_reported(scale: ModuleType) -> None:
    sqlite = {"1000": {"rows": {"main": 7, "tags_only": 18}}, "5000": {"rows": {"main": 21}}}
    postgresql = {"1000": {"rows": {"main": 0, "tags_only": 18}},
                  "5000": {"rows": {"main": 21}}, "server_version": "15"}
    assert scale.rows_differ(sqlite, postgresql) == {"1000": {"main": [7, 0]}}
    assert scale.rows_differ(sqlite, {"skipped": "no binaries"}) == {}
