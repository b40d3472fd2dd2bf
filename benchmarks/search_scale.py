"""Search at scale (issue 14): the search rows of ``make bench`` and the chart of p50 against
catalog size, on SQLite and PostgreSQL, with MLflow's tag search where it can run.

Used by ``benchmarks/run.py`` (every run, or alone with ``--only search``). At each catalog
size (1 k, 10 k, 100 k; 1 M with ``--million``) and on each database it times, per call with
``perf_counter`` after warm-ups, in ``rounds`` interleaved rounds (the order of each pair
flips every round; figures are medians over rounds):

* ``main``: :data:`archivist_workloads.SEARCH_QUERY` (text + tag + comparison), limit 100;
* ``raw_text``: the bare full-text match of the query's word on the database's own index,
  returning the same page: FTS5 ``MATCH '"fraud"*' ORDER BY bm25`` on SQLite, tsvector
  ``@@ to_tsquery('simple', 'fraud:*') ORDER BY ts_rank DESC`` on PostgreSQL, LIMIT 100,
  through the catalog's own engine and read transaction (as ``main``);
* ``tags_only`` (``stage:production team:ads``) and ``comparison_only``
  (``metadata.accuracy>0.9``), limit 100;
* ``hydrated_50``: ``catalog.search(main, limit=50)`` (Artifact objects with tags, aliases
  and parents) against ``ids_50``: the same compiled statement executed directly, returning
  the 50 version seqs only (:func:`search_seqs`).

Catalogs come from the same generator (``build_search_catalog``). SQLite ones are the cached
homes of ``archivist_workloads.cached_catalog``; PostgreSQL ones are databases of one cluster
whose data folder is kept under ``benchmarks/.work/cache/pg-cluster`` (started and stopped
by the run, ``shared_buffers`` 1 GB, ``fsync=off``), one database per size with the same
cache key (data version, size, schema fingerprint), ``ANALYZE``d after the build.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import archivist_workloads as work
import peers
from common import median_of_runs, ratio, timeit_many

from archivist import ArtifactCatalog

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_BASE = work.CACHE_DIR / "pg-cluster"
PG_BLOBS = work.CACHE_DIR / "pg-blobs"  # the search catalogs are metadata only: stays empty
PG_SETTINGS = "shared_buffers = 1GB\n"

TAGS_ONLY = "stage:production team:ads"
COMPARISON_ONLY = "metadata.accuracy>0.9"
RAW_TEXT = {
    "sqlite": ("SELECT rowid FROM search_docs WHERE search_docs MATCH :q"
               " ORDER BY bm25(search_docs) LIMIT :n", '"fraud"*'),
    "postgresql": ("SELECT rowid FROM search_docs WHERE body @@ to_tsquery('simple', :q)"
                   " ORDER BY ts_rank(body, to_tsquery('simple', :q)) DESC LIMIT :n",
                   "fraud:*"),
}
#: MLflow registers one ``create_model_version`` call per version (it has no bulk path), so
#: its tag search is measured only where registering the catalog takes a minute or two.
MLFLOW_SIZES = (1_000, 10_000)

Log = Callable[[str], None]


# --------------------------------------------------------------------------- queries


def _engine(catalog: ArtifactCatalog) -> Any:
    engine = getattr(catalog.backend, "engine", None)
    if engine is None:
        raise TypeError(f"not an SQL catalog: {type(catalog.backend).__name__}")
    return engine


def search_seqs(catalog: ArtifactCatalog, query: str, limit: int) -> list[int]:
    """The seqs of ``catalog.search(query, limit=limit)``, in order, without hydration:
    the backend's compiled statement executed directly (what ``SqlBackend.search`` runs
    before ``reads.hydrate``)."""
    from archivist.backends.sql import engine as engines
    from archivist.backends.sql.search import compile_search
    from archivist.query.parser import parse_query

    parsed = parse_query(query)
    with engines.read_transaction(_engine(catalog)) as conn:
        stmt = compile_search(parsed, project=catalog.project, dialect=conn.dialect.name,
                              resolve_seq=_no_lineage, now=time.time(), limit=limit,
                              offset=0)
        return [int(s) for s in conn.execute(stmt).scalars()]


def _no_lineage(ref: str) -> int:
    raise ValueError(f"the benchmark queries name no lineage ref ({ref!r})")


def raw_text(catalog: ArtifactCatalog, limit: int = 100) -> list[int]:
    """The bare full-text match of ``fraud`` (prefix) on the database's own index, ranked,
    one page: the reference of the 1 M row (see the module docstring)."""
    import sqlalchemy as sa

    from archivist.backends.sql import engine as engines

    with engines.read_transaction(_engine(catalog)) as conn:
        sql, match = RAW_TEXT[conn.dialect.name]
        return [int(s) for s in conn.execute(sa.text(sql), {"q": match, "n": limit}).scalars()]


def measure_round(catalog: ArtifactCatalog, n: int, budget_s: float,
                  flip: bool) -> dict[str, Any]:
    """One round of every timing on ``catalog``; each pair's order flips with ``flip``."""
    main = work.SEARCH_QUERY
    pairs: list[list[tuple[str, Callable[[], object]]]] = [
        [("main", lambda: catalog.search(main)), ("raw_text", lambda: raw_text(catalog))],
        [("hydrated_50", lambda: catalog.search(main, limit=50)),
         ("ids_50", lambda: search_seqs(catalog, main, 50))],
        [("tags_only", lambda: catalog.search(TAGS_ONLY)),
         ("comparison_only", lambda: catalog.search(COMPARISON_ONLY))],
    ]
    out: dict[str, Any] = {}
    for pair in pairs:
        for key, fn in pair[::-1] if flip else pair:
            out[key] = _timed(fn, n, budget_s)
    return out


def _timed(fn: Callable[[], object], n: int, budget_s: float) -> dict[str, Any]:
    """``timeit_many`` after one untimed call, and 4 more warm-ups when a call is quick
    (a call of seconds is warm after one: the budget goes to timed calls)."""
    t0 = time.perf_counter()
    fn()
    quick = time.perf_counter() - t0 < budget_s / 50
    return timeit_many(fn, n, warmup=4 if quick else 0, budget_s=budget_s)


def measure(catalog: ArtifactCatalog, rounds: int, n: int, budget_s: float) -> dict[str, Any]:
    """:func:`measure_round` ``rounds`` times (medians), the rows each call returns, and the
    two ratios of the issue's rows: ``main_over_raw`` and ``hydrated_over_ids`` (p50s).
    Where calls take seconds, rounds stop once the nominal time of all of them (6 timings
    of ``budget_s`` per round) is spent; ``rounds`` in the result says how many ran."""
    deadline = time.perf_counter() + 6 * budget_s * rounds
    runs: list[dict[str, Any]] = []
    for r in range(rounds):
        runs.append(measure_round(catalog, n, budget_s, flip=r % 2 == 1))
        if time.perf_counter() > deadline:
            break
    out = median_of_runs(runs)
    out["rounds"] = len(runs)
    out["rows"] = {
        "main": len(catalog.search(work.SEARCH_QUERY)),
        "raw_text": len(raw_text(catalog)),
        "hydrated_50": len(catalog.search(work.SEARCH_QUERY, limit=50)),
        "ids_50": len(search_seqs(catalog, work.SEARCH_QUERY, 50)),
        "tags_only": len(catalog.search(TAGS_ONLY)),
        "comparison_only": len(catalog.search(COMPARISON_ONLY)),
    }
    out["queries"] = {"main": work.SEARCH_QUERY, "tags_only": TAGS_ONLY,
                      "comparison_only": COMPARISON_ONLY,
                      "raw_text": RAW_TEXT[_engine(catalog).dialect.name][0]}
    p50 = {k: (out.get(k) or {}).get("p50_ms") for k in ("main", "raw_text", "hydrated_50",
                                                          "ids_50")}
    out["main_over_raw"] = ratio(p50["main"], p50["raw_text"])
    out["hydrated_over_ids"] = ratio(p50["hydrated_50"], p50["ids_50"])
    return out


# --------------------------------------------------------------------------- PostgreSQL


class PgUnavailable(Exception):
    """No PostgreSQL server binaries (or no user to run them as): the rows are skipped."""


def _start_pg(base: Path, log: Log) -> Any:
    """The cached cluster at ``base`` started on a free port (``initdb`` first if needed)."""
    from tests.fixtures.postgres import SERVER_USER, PostgresCluster, _run, find_binaries
    from tests.fixtures.services import on_a_free_port

    bin_dir = find_binaries()
    if bin_dir is None:
        raise PgUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        runuser = shutil.which("runuser")
        try:
            owner = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise PgUnavailable(f"running as root and there is no {SERVER_USER!r} user"
                                ) from None
        if runuser is None:
            raise PgUnavailable("running as root and runuser(1) is missing")
        run_as = [runuser, "-u", SERVER_USER, "--"]
    if not (base / "data" / "PG_VERSION").exists():
        log(f"initdb of the cached PostgreSQL cluster in {base}")
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        if run_as:
            os.chown(base, owner.pw_uid, owner.pw_gid)
        _run([*run_as, str(bin_dir / "initdb"), "-D", str(base / "data"), "-U", SERVER_USER,
              "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"], cwd=base)
        with open(base / "data" / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(PG_SETTINGS)

    def start_on(port: int) -> Any:
        cluster = PostgresCluster(bin_dir=bin_dir, base=base, port=port, run_as=run_as)
        cluster.start()
        return cluster

    return on_a_free_port(start_on, what="PostgreSQL")


@contextlib.contextmanager
def pg_cluster(log: Log, base: Path = PG_BASE) -> Iterator[Any]:
    """The cached cluster, running; stopped (its data kept) afterwards."""
    cluster = _start_pg(base, log)
    try:
        yield cluster
    finally:
        cluster.pg_ctl("-m", "fast", "-w", "-t", "120", "stop", check=False)


def _pg_query(cluster: Any, sql: str, *params: Any, database: str = "postgres") -> list[Any]:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres",
                         dbname=database, autocommit=True, connect_timeout=10) as conn:
        cur = conn.execute(sql, params or None)
        return list(cur.fetchall()) if cur.description else []


def pg_catalog(cluster: Any, versions: int, rebuild: bool, log: Log,
               cache_dir: Path = work.CACHE_DIR) -> tuple[str, dict[str, Any]]:
    """The URL of the cached PostgreSQL search catalog of ``versions`` versions (built,
    then ``ANALYZE``d, when missing) and its manifest (kept in ``cache_dir``). Stale
    databases of that size go."""
    key = f"search-{versions}-d{work.DATA_VERSION}-{work.schema_fingerprint()}"
    database = "pg_" + key.replace("-", "_")
    manifest_path = cache_dir / f"pg-{key}.json"
    existing = {name for (name,) in _pg_query(cluster, "SELECT datname FROM pg_database")
                if name.startswith(f"pg_search_{versions}_d")}
    if not rebuild and database in existing and manifest_path.exists():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        manifest["cached"] = True
        return cluster.url(database), manifest
    for stale in existing:
        cluster.drop_database(stale)
    for path in cache_dir.glob(f"pg-search-{versions}-*.json"):
        path.unlink()
    cluster.admin("CREATE DATABASE {}", database)
    log(f"building the PostgreSQL search catalog of {versions:,} versions ({database})")
    t0 = time.perf_counter()
    with ArtifactCatalog(cluster.url(database), blobs=str(PG_BLOBS)) as catalog:
        built = work.build_search_catalog(catalog, versions)
    _pg_query(cluster, "ANALYZE", database=database)
    seconds = time.perf_counter() - t0
    if work.schema_changed_since_start():
        log(f"the schema files changed during the build of {database}: not cached")
        return cluster.url(database), {"key": key, "versions": versions, "cached": False,
                                       "not_cached": "schema files changed during the build",
                                       **built}
    manifest = {"key": key, "kind": "search", "database": "postgresql", "versions": versions,
                "build_s": round(seconds, 2),
                "build_versions_per_s": round(versions / seconds, 1),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "analyzed": True, **built}
    manifest_path.write_text(json.dumps(manifest, indent=2))
    manifest["cached"] = False
    return cluster.url(database), manifest


# --------------------------------------------------------------------------- the phase


def _measure_size(target: str, manifest: Mapping[str, Any], rounds: int, n: int,
                  budget_s: float, blobs: str | None = None) -> dict[str, Any]:
    with ArtifactCatalog(target, blobs=blobs) as catalog:
        return {"versions": manifest["versions"], "catalog": dict(manifest),
                **measure(catalog, rounds, n, budget_s)}


def run_sqlite(sizes: Sequence[int], rounds: int, n: int, budget_s: float, rebuild: bool,
               log: Log) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for versions in sizes:
        home, man = work.cached_catalog("search", versions, work.build_search_catalog,
                                        rebuild=rebuild, log=log)
        log(f"search at scale: SQLite, {versions:,} versions")
        out[str(versions)] = _measure_size(str(home), man, rounds, n, budget_s)
    return out


def run_postgres(sizes: Sequence[int], rounds: int, n: int, budget_s: float, rebuild: bool,
                 log: Log) -> dict[str, Any]:
    try:
        with pg_cluster(log) as cluster:
            server = _pg_query(cluster, "SHOW server_version")[0][0]
            out: dict[str, Any] = {"server_version": server,
                                   "settings": PG_SETTINGS.strip() + ", fsync=off"}
            for versions in sizes:
                url, man = pg_catalog(cluster, versions, rebuild, log)
                log(f"search at scale: PostgreSQL, {versions:,} versions")
                out[str(versions)] = _measure_size(url, man, rounds, n, budget_s,
                                                   blobs=str(PG_BLOBS))
            return out
    except PgUnavailable as exc:
        log(f"search at scale: PostgreSQL skipped: {exc}")
        return {"skipped": str(exc)}


def run_mlflow(python: Path | None, sizes: Sequence[int], quick: bool,
               log: Log) -> dict[str, Any]:
    """MLflow's ``search_model_versions("tags.stage = 'production'")`` (all matches, and
    ``max_results=100``) after registering each of ``sizes`` versions one call each."""
    if python is None:
        return {"skipped": "MLflow not installed (--skip-peers or its install failed)"}
    out: dict[str, Any] = {}
    for versions in sizes:
        log(f"search at scale: MLflow, {versions:,} versions (one call each)")
        args = ["--versions", str(versions), "--search-n", "10" if quick else "30",
                "--latency-n", "5", "--warmup", "5", "--budget-s", "900"]
        res = peers.run_peer(peers.PEERS["mlflow"], python, args, timeout_s=1500)
        if "error" in res:
            out[str(versions)] = {"error": res["error"]}
            continue
        srch = res.get("search_model_versions", {})
        out[str(versions)] = {
            "versions": srch.get("versions_in_table"),
            "register_versions_per_s": res.get("register", {}).get("versions_per_s"),
            "tag": srch.get("tag"), "tag_max100": srch.get("tag_max100")}
    return out


def not_run_reason(mlflow: Mapping[str, Any], sizes: Sequence[int]) -> dict[str, str]:
    """Why MLflow has no point at the larger sizes: its one-call-per-version register rate
    measured in this run, and the time that size would take to register."""
    rates = [v.get("register_versions_per_s") for v in mlflow.values()
             if isinstance(v, Mapping) and v.get("register_versions_per_s")]
    rate = min(rates) if rates else None
    out = {}
    for versions in sizes:
        minutes = f"~{versions / rate / 60:,.0f} min" if rate else "too long"
        out[str(versions)] = (
            "not run: MLflow registers one create_model_version call per version (no bulk "
            f"path); at the {rate or '?'} versions/s measured in this run {versions:,} "
            f"versions would take {minutes} to register, per round")
    return out


def run_scale(sizes: Sequence[int], *, rounds: int, n: int, budget_s: float, rebuild: bool,
              mlflow_python: Path | None, quick: bool, log: Log,
              pg_max: int | None = None) -> dict[str, Any]:
    """The whole phase: SQLite, PostgreSQL (sizes up to ``pg_max`` when given), then MLflow
    at :data:`MLFLOW_SIZES` (those present in ``sizes``, or the smallest in ``--quick``)."""
    pg_sizes = [s for s in sizes if pg_max is None or s <= pg_max]
    mlflow_sizes = [s for s in sizes if s in MLFLOW_SIZES] or list(sizes[:1])
    result: dict[str, Any] = {
        "sizes": list(sizes), "rounds": rounds, "calls_per_timing": n,
        "budget_s_per_timing": budget_s,
        "sqlite": run_sqlite(sizes, rounds, n, budget_s, rebuild, log),
        "postgresql": run_postgres(pg_sizes, rounds, n, budget_s, rebuild, log),
        "mlflow": run_mlflow(mlflow_python, mlflow_sizes, quick, log),
    }
    skipped = result["mlflow"].get("skipped")
    result["mlflow_not_run"] = ({str(s): f"not run: {skipped}" for s in sizes} if skipped
                                else not_run_reason(result["mlflow"],
                                                    [s for s in sizes if s not in mlflow_sizes]))
    result["rows_differ"] = rows_differ(result["sqlite"], result["postgresql"])
    for size, rows in result["rows_differ"].items():
        log(f"search at scale: SQLite and PostgreSQL return different row counts at {size} "
            f"versions (a stale cached catalog?): {rows}")
    return result


def rows_differ(sqlite: Mapping[str, Any], postgresql: Mapping[str, Any]) -> dict[str, Any]:
    """Per size, the queries whose row counts differ between the two databases (the same
    generated data must give the same answers: a difference means a broken catalog)."""
    out: dict[str, Any] = {}
    for size, res in sqlite.items():
        other = postgresql.get(size)
        if not (size.isdigit() and isinstance(other, Mapping)):
            continue
        a, b = res.get("rows", {}), other.get("rows", {})
        diff = {k: [a[k], b.get(k)] for k in a if a[k] != b.get(k)}
        if diff:
            out[size] = diff
    return out


# --------------------------------------------------------------------------- figures, chart


def figures(scale: Mapping[str, Any], main_size: int, big_size: int,
            line: Callable[..., dict[str, Any]],
            meets: Callable[[Any, str, float], bool | None]) -> list[dict[str, Any]]:
    """The issue's search rows from :func:`run_scale`'s result: at ``big_size`` (1 M) the
    main query's p50 and its ratio to the raw full-text query, tag-only and comparison-only
    p50, per database; at ``main_size`` (100 k) hydrated / ids-only."""
    out: list[dict[str, Any]] = []
    for db, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        big = dict(scale.get(db, {}).get(str(big_size)) or {})
        p50 = (big.get("main") or {}).get("p50_ms")
        raw = (big.get("raw_text") or {}).get("p50_ms")
        tag = f"search.{size_tag(big_size)}.{db}"
        where = f"at {big_size:,} versions, {label}"
        out.append(line(f"{tag}.p50", f"search `{work.SEARCH_QUERY}` {where}, p50", p50,
                        "ms", "<= 15 ms", meets(p50, "<=", 15),
                        detail={"p99_ms": (big.get("main") or {}).get("p99_ms"),
                                "rows": (big.get("rows") or {}).get("main")}))
        out.append(line(f"{tag}.vs_raw", f"same / the raw full-text query alone {where} "
                        "(p50 over p50)", big.get("main_over_raw"), "x", "<= 3x",
                        meets(big.get("main_over_raw"), "<=", 3), reference=raw,
                        reference_what=f"raw query p50 ms: {RAW_TEXT[db][0]} ({RAW_TEXT[db][1]})",
                        ratio_value=big.get("main_over_raw")))
        for key, query in (("tags_only", TAGS_ONLY), ("comparison_only", COMPARISON_ONLY)):
            v = (big.get(key) or {}).get("p50_ms")
            out.append(line(f"{tag}.{key}", f"search `{query}` {where}, p50", v, "ms",
                            "<= 5 ms", meets(v, "<=", 5),
                            detail={"rows": (big.get("rows") or {}).get(key)}))
        mid = dict(scale.get(db, {}).get(str(main_size)) or {})
        h = mid.get("hydrated_over_ids")
        out.append(line(f"search.hydrate50.{db}", f"search(limit=50) hydrated / the same "
                        f"statement returning ids only, {main_size:,} versions, {label} "
                        "(p50 over p50)", h, "x", "<= 1.5x", meets(h, "<=", 1.5),
                        reference=(mid.get("ids_50") or {}).get("p50_ms"),
                        reference_what="ids-only p50 ms (compiled statement executed "
                        "directly)", ratio_value=h,
                        detail={"hydrated_p50_ms": (mid.get("hydrated_50") or {}).get(
                            "p50_ms")}))
    return out


def size_tag(versions: int) -> str:
    """``1m``, ``100k``, ``5k``: a catalog size in a figure id."""
    if versions % 1_000_000 == 0:
        return f"{versions // 1_000_000}m"
    return f"{versions // 1000}k" if versions % 1000 == 0 else str(versions)


def _curve(per_size: Mapping[str, Any], *keys: str) -> tuple[list[int], list[float]]:
    xs: list[int] = []
    ys: list[float] = []
    for size, res in per_size.items():
        value: Any = res
        for k in keys:
            value = value.get(k) if isinstance(value, Mapping) else None
        if isinstance(res, Mapping) and value is not None:
            xs.append(int(res.get("versions") or size))
            ys.append(float(value))
    order = sorted(range(len(xs)), key=xs.__getitem__)
    return [xs[i] for i in order], [ys[i] for i in order]


def plot(scale: Mapping[str, Any], path: Path, title: str) -> None:
    """Search p50 against catalog size (log-log): archivist on SQLite and PostgreSQL (the
    main query, dashed: the raw full-text query alone) and MLflow's tag search."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5))
    for db, label, marker in (("sqlite", "SQLite", "o"), ("postgresql", "PostgreSQL", "s")):
        per = {k: v for k, v in (scale.get(db) or {}).items() if k.isdigit()}
        ax.plot(*_curve(per, "main", "p50_ms"), marker + "-",
                label=f"archivist, {label}: `{work.SEARCH_QUERY}`")
        ax.plot(*_curve(per, "raw_text", "p50_ms"), marker + "--", alpha=0.6,
                label=f"{label}: raw full-text query alone")
    mlf = {k: v for k, v in (scale.get("mlflow") or {}).items() if k.isdigit()}
    ax.plot(*_curve(mlf, "tag", "p50_ms"), "^-", color="black",
            label="MLflow search_model_versions(tags.stage=...), all matches")
    ax.plot(*_curve(mlf, "tag_max100", "p50_ms"), "v:", color="black",
            label="MLflow, same, max_results=100")
    sizes = sorted({int(s) for s in scale.get("sizes", [])})
    ax.set(xscale="log", yscale="log", xlabel="versions in the catalog",
           ylabel="p50 per call, ms (log)")
    ax.set_title(title, fontsize=9)
    if sizes:
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.minorticks_off()
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    missing = [f"{int(k):,}" for k in (scale.get("mlflow_not_run") or {})]
    if missing:
        ax.annotate(f"MLflow not run at {', '.join(missing)} versions\n(one call per "
                    "version to register: see mlflow_not_run in the JSON)",
                    xy=(1.01, 0.0), xycoords="axes fraction", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
