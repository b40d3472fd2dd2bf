"""archivist's side of ``make bench``: one plain function per workload.

Every function that measures a fresh catalog creates it with ``ArtifactCatalog(tmpdir)`` in a
new temp dir under ``workdir`` and deletes it afterwards. The search and lineage catalogs are
big (100,000 and 1,000,000 versions), so they are built once with the bulk path and cached
under ``benchmarks/.work/cache/`` keyed by :data:`DATA_VERSION`, the size and a fingerprint of
archivist's SQL schema (see :func:`cached_catalog`); the measurements only read them.

The byte workloads (:func:`ingest_file_child`, :func:`ingest_dir_child`) are meant to run in a
child process through ``common.run_in_child`` so that the peak RSS of the registering process
is measured; they are module-level functions so that the ``spawn`` start method can import
them.

Conventions (as in ``common``): latencies in ms, durations in s, decimal MB/s, sizes in MiB.
Results are plain JSON-able dicts.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import random
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from common import mb_per_s, settle, summarize_ms, timeit_many

from archivist import ArtifactCatalog, DuplicateArtifactWarning

#: Bump when the generated data of the cached catalogs changes (invalidates the cache).
DATA_VERSION = 1

HERE = Path(__file__).resolve().parent
DEFAULT_WORKDIR = HERE / ".work"
CACHE_DIR = DEFAULT_WORKDIR / "cache"
SRC_ROOT = HERE.parent / "src" / "archivist"

STAGES = ("dev", "staging", "production")
STAGE_WEIGHTS = (0.60, 0.25, 0.15)
TEAMS = ("fraud", "churn", "search", "ads", "risk", "vision", "pricing", "forecast", "recsys",
         "speech")
KINDS = ("detector", "classifier", "features", "embeddings", "dataset", "ranker", "scorer",
         "encoder", "baseline", "ensemble")
FRAMEWORKS = ("sklearn", "xgboost", "torch", "lightgbm")

#: The core issue's query: full text + tag + numeric comparison.
SEARCH_QUERY = "fraud stage:production metadata.accuracy>=0.9"
#: Context queries on the same catalog (no target of their own).
EXTRA_QUERIES = {
    # The same shape with a rarer word (owner tags user0..user49: ~2 % of versions match).
    "selective_text": "user7 stage:production metadata.accuracy>=0.9",
    "tags_only": "team:fraud stage:production",
    "text_only": "detector",
    "name_prefix_sorted": "name:fraud* sort:-created",
}


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def fresh_catalog(workdir: Path, prefix: str) -> Iterator[tuple[ArtifactCatalog, Path]]:
    """A new catalog in a new temp dir under ``workdir``; closed and deleted afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix=prefix, dir=workdir))
    catalog = ArtifactCatalog(home)
    try:
        yield catalog, home
    finally:
        catalog.close()
        shutil.rmtree(home, ignore_errors=True)


def count_files(root: Path) -> int:
    """Regular files under ``root`` (recursively); 0 when it does not exist."""
    total = 0
    for _dirpath, _dirs, files in os.walk(root):
        total += len(files)
    return total


def write_bytes() -> int | None:
    """Bytes this process has passed to ``write()``-like calls so far (``wchar`` of
    ``/proc/self/io``, Linux); None elsewhere. The difference around a call says whether it
    wrote anything, even to a temp file it deleted afterwards."""
    try:
        with open("/proc/self/io", encoding="ascii") as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _delta(before: int | None) -> int | None:
    after = write_bytes()
    return None if before is None or after is None else after - before


def _warm(catalog: ArtifactCatalog) -> None:
    """One untimed registration: the database and its schema exist before any timing."""
    catalog.register("warmup_model", description="warm-up")


def _model_tags(i: int) -> dict[str, str]:
    """The 4 tags of the register workloads (the MLflow workload uses the same shape)."""
    return {
        "stage": STAGES[i % len(STAGES)],
        "team": TEAMS[i % 5],
        "owner": f"user{i % 17}",
        "dataset": f"ds-{i % 50}",
    }


def _names(n: int) -> list[str]:
    return [f"{TEAMS[i % 5]}_model_{i}" for i in range(n)]


# --------------------------------------------------------------------------- registration


def register_single(workdir: Path, versions: int = 2000, names: int = 10,
                    warmup: int = 20) -> dict[str, Any]:
    """Metadata-only registrations, one ``register`` call (one transaction) per version,
    round-robin over ``names`` names, 4 tags + a description each (as MLflow's workload).
    ``versions_per_s`` is computed from the per-call times, like the MLflow figure."""
    all_names = _names(names)
    with fresh_catalog(workdir, "reg-") as (catalog, _home):
        _warm(catalog)
        for _ in range(warmup):
            catalog.register("warmup_model", description="warm-up")
        settle()
        samples: list[int] = []
        t_wall = time.perf_counter()
        for i in range(versions):
            name = all_names[i % names]
            t0 = time.perf_counter_ns()
            catalog.register(name, tags=_model_tags(i),
                             description=f"version {i} of {name}: trained on ds-{i % 50}")
            samples.append(time.perf_counter_ns() - t0)
        wall = time.perf_counter() - t_wall
    total = sum(samples) / 1e9
    return {
        "versions": versions,
        "names": names,
        "tags_per_version": 4,
        "versions_per_s": round(versions / total, 1),
        "wall_versions_per_s": round(versions / wall, 1),
        **summarize_ms(samples),
    }


#: The rows one metadata-only ``register`` writes, as plain SQL on archivist's own schema.
_RAW_UPSERT = ("INSERT INTO artifacts (project, name, name_folded, last_version)"
               " VALUES (?, ?, ?, 1) ON CONFLICT (project, name_folded)"
               " DO UPDATE SET last_version ="
               " artifacts.last_version + excluded.last_version RETURNING pk, last_version")
_RAW_VERSION = ("INSERT INTO versions (id, artifact_pk, project, name, version, artifact_type,"
                " kind, metadata, partitions, description, user, created_at)"
                " VALUES (?, ?, ?, ?, ?, '', 'none', '{}', '{}', ?, ?, ?) RETURNING seq")
_RAW_TAG = "INSERT INTO tags (seq, key, value, text, num) VALUES (?, ?, ?, ?, NULL)"
_RAW_DOC = "INSERT INTO search_docs (rowid, body) VALUES (?, ?)"


def register_raw_floor(workdir: Path, versions: int = 2000, names: int = 10,
                       warmup: int = 20) -> dict[str, Any]:
    """The floor of :func:`register_single`: the same rows (artifact counter, version, 4
    tags, search document) written by plain ``sqlite3`` into a fresh catalog's own
    database, one ``BEGIN IMMEDIATE … COMMIT`` per version, with the pragmas archivist
    sets (WAL, ``synchronous=NORMAL``, ``wal_autocheckpoint=4000``, foreign keys on).
    No validation, no ORM: what the database alone costs. Timed per call like
    :func:`register_single`."""
    import re
    import sqlite3
    import uuid

    all_names = _names(names)
    separators = re.compile(r"[_\-./]+")
    with fresh_catalog(workdir, "rawreg-") as (catalog, home):
        _warm(catalog)
        con = sqlite3.connect(home / "catalog.db", isolation_level=None)
        try:
            for pragma in ("synchronous = NORMAL", "wal_autocheckpoint = 4000",
                           "foreign_keys = ON", "busy_timeout = 10000"):
                con.execute(f"PRAGMA {pragma}")

            def one(i: int) -> None:
                name = all_names[i % names]
                tags = _model_tags(i)
                description = f"version {i} of {name}: trained on ds-{i % 50}"
                con.execute("BEGIN IMMEDIATE")
                pk, number = con.execute(_RAW_UPSERT, ("default", name, name.lower())).fetchone()
                (seq,) = con.execute(_RAW_VERSION, (
                    str(uuid.uuid4()), pk, "default", name, number, description, "bench",
                    time.time())).fetchone()
                con.executemany(_RAW_TAG, [(seq, k, json.dumps(v), v) for k, v in tags.items()])
                body = separators.sub(" ", " ".join([name, description, *tags.values()]))
                con.execute(_RAW_DOC, (seq, body))
                con.execute("COMMIT")

            for i in range(warmup):
                one(versions + i)
            settle()
            samples: list[int] = []
            for i in range(versions):
                t0 = time.perf_counter_ns()
                one(i)
                samples.append(time.perf_counter_ns() - t0)
        finally:
            con.close()
    total = sum(samples) / 1e9
    return {"versions": versions, "names": names, "tags_per_version": 4,
            "versions_per_s": round(versions / total, 1), **summarize_ms(samples)}


def register_batch(workdir: Path, versions: int = 10_000, names: int = 10) -> dict[str, Any]:
    """The bulk path: ``versions`` metadata-only registrations inside one
    ``with catalog.batch():`` block (one transaction), timed as a whole (the Python loop,
    validation and the commit included)."""
    all_names = _names(names)
    with fresh_catalog(workdir, "batch-") as (catalog, _home):
        _warm(catalog)
        settle()
        t0 = time.perf_counter()
        with catalog.batch():
            for i in range(versions):
                name = all_names[i % names]
                catalog.register(name, tags=_model_tags(i),
                                 description=f"version {i} of {name}: trained on ds-{i % 50}")
        seconds = time.perf_counter() - t0
        check = len(catalog.versions(all_names[0]))
    return {
        "versions": versions,
        "names": names,
        "transactions": 1,
        "seconds": round(seconds, 4),
        "versions_per_s": round(versions / seconds, 1),
        "versions_of_first_name": check,
    }


def alias_latency(workdir: Path, versions: int = 2000, names: int = 10, n: int = 300,
                  warmup: int = 20) -> dict[str, Any]:
    """``get("name@alias")`` and ``set_alias`` on a fresh catalog of ``versions`` versions
    (bulk-registered); ``set_alias`` alternates between versions 1 and 2 (as MLflow's)."""
    all_names = _names(names)
    with fresh_catalog(workdir, "alias-") as (catalog, _home):
        catalog.register_many([
            {"name": all_names[i % names], "tags": _model_tags(i),
             "description": f"version {i}"} for i in range(versions)])
        target = all_names[0]
        for name in all_names:
            catalog.set_alias(f"{name}:1", "champion")
        ref = f"{target}@champion"
        got = catalog.get(ref)
        get_stats: dict[str, Any] = timeit_many(lambda: catalog.get(ref), n, warmup=warmup)
        get_stats["returned_version"] = got.version
        flip = {"v": 1}

        def set_alias() -> None:
            flip["v"] = 3 - flip["v"]
            catalog.set_alias(f"{target}:{flip['v']}", "champion")

        set_stats = timeit_many(set_alias, n, warmup=warmup)
    return {"versions": versions, "get_alias": get_stats, "set_alias": set_stats}


# --------------------------------------------------------------------------- bytes (children)


def ingest_file_child(home: str, src: str, copy: str | None = None) -> dict[str, Any]:
    """In a child process: register the file ``src`` into a new catalog at ``home`` (timed),
    then register it again (identical bytes, same path: timed; must write nothing) and, if
    given, ``copy`` (the same bytes at another path, so that no stat-keyed hash cache can
    help: timed, must add no blob). Returns seconds, MB/s, blob-file counts and the bytes
    passed to ``write()`` during each re-registration (:func:`write_bytes`)."""
    size = os.path.getsize(src)
    blobs = Path(home) / "blobs"
    catalog = ArtifactCatalog(home)
    try:
        _warm(catalog)
        settle()
        t0 = time.perf_counter()
        catalog.register("big", path=src)
        seconds = time.perf_counter() - t0
        files_before = count_files(blobs)
        out: dict[str, Any] = {
            "bytes": size,
            "seconds": round(seconds, 4),
            "mb_per_s": mb_per_s(size, seconds),
            "blob_files": files_before,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DuplicateArtifactWarning)
            settle()
            w0 = write_bytes()
            t0 = time.perf_counter()
            catalog.register("big", path=src)
            out["reregister_s"] = round(time.perf_counter() - t0, 4)
            out["reregister_write_bytes"] = _delta(w0)
            out["reregister_new_files"] = count_files(blobs) - files_before
            if copy is not None:
                settle()
                w0 = write_bytes()
                t0 = time.perf_counter()
                catalog.register("big", path=copy)
                dedup = time.perf_counter() - t0
                out["dedup_copy_write_bytes"] = _delta(w0)
                out["dedup_copy_s"] = round(dedup, 4)
                out["dedup_copy_mb_per_s"] = mb_per_s(size, dedup)
                out["dedup_copy_new_files"] = count_files(blobs) - files_before
        return out
    finally:
        catalog.close()


def ingest_dir_child(home: str, tree: str, changed_file: str) -> dict[str, Any]:
    """In a child process: register the directory ``tree`` into a new catalog at ``home``
    (timed); then overwrite the first 16 bytes of ``changed_file`` (untimed) and register the
    directory again (timed). Counts the blob files written by the second registration."""
    blobs = Path(home) / "blobs"
    catalog = ArtifactCatalog(home)
    try:
        _warm(catalog)
        settle()
        t0 = time.perf_counter()
        catalog.register("tree", path=tree)
        first = time.perf_counter() - t0
        files_before = count_files(blobs)
        with open(changed_file, "r+b") as f:
            f.write(os.urandom(16))
        settle()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DuplicateArtifactWarning)
            t0 = time.perf_counter()
            catalog.register("tree", path=tree)
            second = time.perf_counter() - t0
        return {
            "seconds": round(first, 4),
            "blob_files": files_before,
            "reregister_one_changed_s": round(second, 4),
            "reregister_new_blobs": count_files(blobs) - files_before,
        }
    finally:
        catalog.close()


# --------------------------------------------------------------------------- cached catalogs


@functools.cache
def schema_fingerprint() -> str:
    """A short hash of the files that decide what a built catalog holds on disk (the
    migrations, the table definitions and the search documents): a cached catalog built by
    another schema is rebuilt. Computed once per process, so that every catalog of a run
    gets the key of the code the run imported, even if the files change meanwhile."""
    return _fingerprint_now()


def schema_changed_since_start() -> bool:
    """Whether those files changed since this process started using them: a catalog built
    now mixes the imported code with migrations read from disk, so it is not cached."""
    return _fingerprint_now() != schema_fingerprint()


def _fingerprint_now() -> str:
    h = hashlib.sha256()
    sql = SRC_ROOT / "backends" / "sql"
    files = sorted((sql / "migrations").rglob("*.py"))
    files += [sql / "tables.py", sql / "documents.py"]
    for path in files:
        if path.exists():
            h.update(str(path.relative_to(SRC_ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def cached_catalog(kind: str, versions: int,
                   build: Callable[[ArtifactCatalog, int], dict[str, Any]],
                   cache_dir: Path = CACHE_DIR, rebuild: bool = False,
                   log: Callable[[str], None] | None = None) -> tuple[Path, dict[str, Any]]:
    """The home of a catalog built by ``build(catalog, versions)``, from the cache if a
    complete one with the same key exists. Returns ``(home, manifest)``; the manifest holds
    what ``build`` returned (ids and refs to query), the key and whether it was cached.
    Stale builds of the same kind and size are removed."""
    key = f"{kind}-{versions}-d{DATA_VERSION}-{schema_fingerprint()}"
    home = cache_dir / key
    manifest_path = home / "bench-manifest.json"
    if not rebuild and manifest_path.exists():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if manifest.get("key") == key:
            manifest["cached"] = True
            return home, manifest
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob(f"{kind}-{versions}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if log is not None:
        log(f"building the {kind} catalog of {versions:,} versions in {home} (cached after)")
    t0 = time.perf_counter()
    catalog = ArtifactCatalog(home)
    try:
        built = build(catalog, versions)
    finally:
        catalog.close()
    seconds = time.perf_counter() - t0
    if schema_changed_since_start():
        if log is not None:
            log(f"the schema files changed during the build of {home}: not cached")
        return home, {"key": key, "kind": kind, "versions": versions, "cached": False,
                      "not_cached": "schema files changed during the build", **built}
    manifest = {
        "key": key,
        "kind": kind,
        "versions": versions,
        "build_s": round(seconds, 2),
        "build_versions_per_s": round(versions / seconds, 1),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **built,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2))
    manifest["cached"] = False
    return home, manifest


# --------------------------------------------------------------------------- search catalog


def search_item(i: int, rng: random.Random) -> dict[str, Any]:
    """Version ``i`` of the search catalog: 100 names (10 teams x 10 kinds), tags stage
    (dev 60 %, staging 25 %, production 15 %), team, owner, dataset; numeric metadata
    (accuracy uniform in 0.60-0.99, so ~23 % have >= 0.9), a description that names the team
    and, for 20 % of the risk and ads versions, also the word "fraud"."""
    team = TEAMS[i % len(TEAMS)]
    kind = KINDS[(i // len(TEAMS)) % len(KINDS)]
    name = f"{team}_{kind}"
    stage = rng.choices(STAGES, STAGE_WEIGHTS)[0]
    dataset = f"ds-{rng.randrange(200)}"
    extra = " for fraud screening" if team in ("risk", "ads") and rng.random() < 0.2 else ""
    item: dict[str, Any] = {
        "name": name,
        "artifact_type": "Model",
        "tags": {"stage": stage, "team": team, "owner": f"user{rng.randrange(50)}",
                 "dataset": dataset},
        "metadata": {
            "accuracy": round(rng.uniform(0.60, 0.99), 4),
            "f1": round(rng.uniform(0.40, 0.95), 4),
            "rows": rng.randrange(1_000, 5_000_000),
            "framework": rng.choice(FRAMEWORKS),
            "params": {"max_depth": rng.randrange(2, 16), "lr": round(rng.uniform(1e-4, 0.3), 5)},
        },
        "description": f"{kind} for the {team} team, trained on {dataset}{extra}",
    }
    if stage == "production":
        item["aliases"] = ["production"]
    return item


def build_search_catalog(catalog: ArtifactCatalog, versions: int,
                         chunk: int = 20_000) -> dict[str, Any]:
    """Fill ``catalog`` with ``versions`` :func:`search_item` versions through
    ``register_many`` in transactions of ``chunk`` versions."""
    rng = random.Random(20261124)
    t0 = time.perf_counter()
    for start in range(0, versions, chunk):
        stop = min(versions, start + chunk)
        catalog.register_many([search_item(i, rng) for i in range(start, stop)])
    seconds = time.perf_counter() - t0
    return {
        "register_many_s": round(seconds, 2),
        "register_many_versions_per_s": round(versions / seconds, 1),
        "chunk": chunk,
        "alias_ref": "fraud_detector@production",
    }


def search_latency(home: Path, manifest: Mapping[str, Any], n: int = 200, warmup: int = 10,
                   budget_s: float = 30.0, extra: bool = True) -> dict[str, Any]:
    """Latency of :data:`SEARCH_QUERY` (and the context queries) on a built search catalog,
    default limit (100), plus ``get("name@alias")`` at that size."""
    catalog = ArtifactCatalog(home)
    try:
        queries = {"main": SEARCH_QUERY, **(EXTRA_QUERIES if extra else {})}
        out: dict[str, Any] = {"versions": manifest["versions"]}
        for key, query in queries.items():
            rows = len(catalog.search(query))

            def one(q: str = query) -> object:
                return catalog.search(q)

            stats: dict[str, Any] = timeit_many(one, n, warmup=warmup, budget_s=budget_s)
            stats["query"] = query
            stats["rows"] = rows
            out[key] = stats
        ref = str(manifest["alias_ref"])
        get_stats: dict[str, Any] = timeit_many(lambda: catalog.get(ref), max(n, 300),
                                                warmup=20, budget_s=budget_s)
        get_stats["ref"] = ref
        out["get_alias"] = get_stats
        return out
    finally:
        catalog.close()


def search_matches(home: Path) -> int:
    """How many versions match :data:`SEARCH_QUERY` in all (context: the query returns 100)."""
    catalog = ArtifactCatalog(home)
    try:
        return len(catalog.search(SEARCH_QUERY, limit=10_000))
    finally:
        catalog.close()


# --------------------------------------------------------------------------- lineage catalog


def lineage_edges(versions: int, chain: int = 64,
                  seed: int = 20261124) -> tuple[list[list[int]], int, int]:
    """Parents of each node of the lineage graph, by index.

    Nodes ``0 .. versions-chain-1`` form a random recursive tree: node ``i >= 1`` has one
    parent drawn uniformly from the earlier nodes (so early nodes have large downstream sets,
    late ones small). The last ``chain`` nodes are a chain hanging from a random tree node,
    and the chain's tip gets a second parent from the tree, so there are exactly ``versions``
    edges. Returns ``(parents, tree_nodes, extra_parent)``.
    """
    rng = random.Random(seed)
    tree = versions - chain
    parents: list[list[int]] = [[]]
    parents += [[rng.randrange(i)] for i in range(1, tree)]
    parents.append([rng.randrange(tree)])
    parents += [[tree + j - 1] for j in range(1, chain)]
    extra = rng.randrange(tree)
    parents[-1].append(extra)
    return parents, tree, extra


def _descendants(parents: list[list[int]], start: int) -> int:
    children: dict[int, list[int]] = {}
    for child, ps in enumerate(parents):
        for p in ps:
            children.setdefault(p, []).append(child)
    seen: set[int] = set()
    stack = [start]
    while stack:
        for c in children.get(stack.pop(), ()):
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return len(seen)


def build_lineage_catalog(catalog: ArtifactCatalog, versions: int, chain: int = 64,
                          fanout: int = 500) -> dict[str, Any]:
    """Register the graph of :func:`lineage_edges` in one ``batch()`` (ids are assigned
    client-side, so each version names its parent by id). Tree nodes are spread round-robin
    over 1,000 names (``step000`` ...); the chain is the name ``chain`` (versions 1..chain).
    Picks as the ``downstream-of`` start the tree node whose downstream set is closest to
    ``fanout`` versions."""
    parents, tree, _extra = lineage_edges(versions, chain)
    # Downstream-set sizes in the tree part (parents precede children), to pick the start.
    sizes = [0] * tree
    for i in range(tree - 1, 0, -1):
        sizes[parents[i][0]] += 1 + sizes[i]
    start = min(range(tree), key=lambda i: (abs(sizes[i] - fanout), i))
    names_n = min(1000, max(1, tree // 100))
    ids: list[str] = []
    t0 = time.perf_counter()
    with catalog.batch():
        for i, ps in enumerate(parents):
            name = "chain" if i >= tree else f"step{i % names_n:03d}"
            ids.append(catalog.register(
                name, artifact_type="Dataset", parent_ids=[ids[p] for p in ps],
                tags={"stage": STAGES[i % 3]}, description=f"node {i}"))
    seconds = time.perf_counter() - t0
    start_version = catalog.get(ids[start])
    tip = catalog.get(ids[-1])
    return {
        "batch_s": round(seconds, 2),
        "batch_versions_per_s": round(versions / seconds, 1),
        "edges": sum(len(ps) for ps in parents),
        "chain_length": chain,
        "chain_tip_ref": f"{tip.name}:{tip.version}",
        "downstream_ref": f"{start_version.name}:{start_version.version}",
        "downstream_total": _descendants(parents, start),
        "downstream_node_index": start,
    }


def lineage_latency(home: Path, manifest: Mapping[str, Any], n: int = 200, warmup: int = 10,
                    depth: int = 50, budget_s: float = 30.0) -> dict[str, Any]:
    """``get_lineage(tip, depth=50, direction="up")`` on the chain tip, and
    ``search("downstream-of:NAME:V")`` (default limit 100, and limit 10,000 for the whole
    downstream set) from the chosen start node."""
    catalog = ArtifactCatalog(home)
    try:
        tip = str(manifest["chain_tip_ref"])
        lineage = catalog.get_lineage(tip, depth=depth, direction="up")
        up: dict[str, Any] = timeit_many(
            lambda: catalog.get_lineage(tip, depth=depth, direction="up"), n, warmup=warmup,
            budget_s=budget_s)
        up.update(ref=tip, depth=depth, upstream=len(lineage["upstream"]),
                  nodes=len(lineage["nodes"]))
        query = f"downstream-of:{manifest['downstream_ref']}"
        down: dict[str, Any] = timeit_many(lambda: catalog.search(query), n, warmup=warmup,
                                           budget_s=budget_s)
        down.update(query=query, limit=100, rows=len(catalog.search(query)),
                    downstream_total=manifest["downstream_total"])
        down_all: dict[str, Any] = timeit_many(
            lambda: catalog.search(query, limit=10_000), max(20, n // 4), warmup=3,
            budget_s=budget_s)
        down_all.update(query=query, limit=10_000,
                        rows=len(catalog.search(query, limit=10_000)))
        return {"versions": manifest["versions"], "edges": manifest["edges"],
                "upstream_depth": up, "downstream_of": down, "downstream_of_all": down_all}
    finally:
        catalog.close()
