"""``make bench``: archivist against its targets, MLflow/DVC and the machine, in one run.

    python benchmarks/run.py [--quick] [--skip-peers] [--million] [--out FILE]
                             [--rounds N] [--rebuild-cache] [--only search] [--chart PNG]

Prints one JSON document on stdout (progress and a summary table go to stderr): the machine,
archivist's figures, the peers' figures measured in the same run, and one line per figure
with its target, the same-run reference (peer or machine floor), the ratio and ``met``.

Protocol (docs/benchmarks.md, research/performance.md Part 3): the run is cut into rounds;
each round measures archivist's metadata workloads, then MLflow, then archivist's byte
workloads interleaved with the machine floors (SHA-256 and kernel copy + fsync of the same
file), then DVC, then search and lineage, so that both sides see the same phase of this noisy
machine. Latencies are per-call samples after warm-ups (p50/p95/p99); repeated figures are
medians over rounds and repetitions (``x__min``/``x__max`` beside them in the raw sections).
Ratios are written so that > 1 means archivist is faster. Byte workloads run in a child
process (peak RSS), write fresh data, ``os.sync()`` untimed before each timing, and delete
outputs at once.

The 100,000-version search catalog and the lineage graph are built once through the bulk path
and cached under ``benchmarks/.work/cache/`` (key: data version, size, schema fingerprint).

Search at scale (``search_scale.py``, issue 14): the search rows at 1 k, 10 k and 100 k
versions on SQLite and on PostgreSQL (a cluster kept under the cache), against the raw
full-text query and ids-only search of the same run, and MLflow's tag search at 1 k and
10 k; ``--million`` adds 1,000,000 versions on both databases (each built once, cached).
``--only search`` runs this phase alone (``--skip-peers``: without MLflow);
``--chart PNG`` draws search p50 against catalog size (a full run without it writes
``benchmarks/results/<time>-search-scale.png``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import archivist_workloads as work
import machine
import peers
import search_scale
from common import (
    MIB,
    make_file,
    make_tree,
    mb_per_s,
    median_of_runs,
    ratio,
    run_in_child,
    settle,
    summarize,
)

import archivist
import pipelines as pipeline_bench

HERE = Path(__file__).resolve().parent
WORKDIR = HERE / ".work"


@dataclass(frozen=True)
class Sizes:
    rounds: int
    reps: int  # byte repetitions per round (file ingest and directory)
    register: int
    batch: int
    alias_versions: int
    latency_n: int
    file_mib: int
    tree_files: int
    search_versions: int
    lineage_versions: int
    million: int
    search_n: int
    scale_sizes: tuple[int, ...]
    mlflow_args: tuple[str, ...]
    dvc_args: tuple[str, ...]


FULL = Sizes(rounds=3, reps=2, register=2000, batch=10_000, alias_versions=2000,
             latency_n=300, file_mib=512, tree_files=10_000, search_versions=100_000,
             lineage_versions=100_000, million=1_000_000, search_n=200,
             scale_sizes=(1_000, 10_000, 100_000),
             mlflow_args=(), dvc_args=("--repeats", "2", "--huge-repeats", "1"))
QUICK = Sizes(rounds=1, reps=1, register=200, batch=1000, alias_versions=200, latency_n=50,
              file_mib=32, tree_files=500, search_versions=5000, lineage_versions=5000,
              million=20_000, search_n=30, scale_sizes=(1_000, 5_000),
              mlflow_args=("--quick",), dvc_args=("--quick",))

_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[bench {time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def dig(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...`` or None when a key is missing or a level is not a mapping."""
    for key in keys:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _git_state() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True,
                                  text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    status = git("status", "--porcelain", "--", "src")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "src_files_changed_or_new": None if status is None else len(status.splitlines())}


# --------------------------------------------------------------------------- byte reps


def file_rep(src: Path, copy: Path, blobs_dir: Path, rundir: Path, order: int) -> dict[str, Any]:
    """One interleaved repetition: SHA-256 of ``src``, copy + fsync (read/write and kernel
    copy), hash-copy-fsync-rename and archivist's ingest (child process); archivist first
    on odd ``order``. The floor is the slower of SHA-256 and the kernel copy + fsync."""
    size = src.stat().st_size
    out: dict[str, Any] = {}

    def floors() -> None:
        settle()
        out["sha256_mb_per_s"] = mb_per_s(size, machine.sha256_file(src))
        settle()
        out["copy_fsync_mb_per_s"] = mb_per_s(size, machine.copy_fsync(src, rundir / "cp.bin"))
        settle()
        out["kernel_copy_fsync_mb_per_s"] = mb_per_s(
            size, machine.kernel_copy_fsync(src, rundir / "kcp.bin"))
        settle()
        out["hash_copy_fsync_rename_mb_per_s"] = mb_per_s(
            size, machine.hash_copy_fsync_rename(src, blobs_dir))

    def subject() -> None:
        home = Path(tempfile.mkdtemp(prefix="ingest-", dir=rundir))
        try:
            child = run_in_child(work.ingest_file_child, str(home), str(src), str(copy),
                                 timeout=900)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        res = child["result"]
        out.update({f"archivist_{k}": v for k, v in res.items()})
        out["peak_rss_mb"] = child["peak_rss_mb"]
        out["peak_growth_mb"] = child["peak_growth_mb"]
        out["baseline_rss_mb"] = child["baseline_rss_mb"]

    for step in ((subject, floors) if order % 2 else (floors, subject)):
        step()
    floor = min(out["sha256_mb_per_s"], out["kernel_copy_fsync_mb_per_s"])
    out["floor_mb_per_s"] = floor
    out["ratio_to_floor"] = ratio(out["archivist_mb_per_s"], floor, digits=3)
    out["sha256_of_dedup_copy"] = ratio(out.get("archivist_dedup_copy_mb_per_s"),
                                        out["sha256_mb_per_s"], digits=3)
    return out


def tree_rep(rundir: Path, files: int) -> dict[str, Any]:
    """One directory repetition: a fresh tree of ``files`` x 4 KiB (untimed), registered in a
    child process, then one file changed and registered again."""
    base = Path(tempfile.mkdtemp(prefix="tree-", dir=rundir))
    try:
        tree = make_tree(base / "data", files, 4096)
        home = base / "catalog"
        child = run_in_child(work.ingest_dir_child, str(home), str(tree),
                             str(tree / f"f{files // 2:06d}.bin"), timeout=900)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return {**child["result"], "files": files, "file_bytes": 4096,
            "peak_rss_mb": child["peak_rss_mb"], "peak_growth_mb": child["peak_growth_mb"]}


# --------------------------------------------------------------------------- figures


def _cmp(value: Any, op: str, bound: float) -> bool | None:
    if value is None or isinstance(value, str):
        return None
    v = float(value)
    return {">=": v >= bound, "<=": v <= bound, "<": v < bound, "==": v == bound}[op]


def fig(fid: str, what: str, value: Any, unit: str, target: str, met: bool | None, *,
        reference: Any = None, reference_what: str | None = None, ratio_value: Any = None,
        detail: Mapping[str, Any] | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"id": fid, "what": what, "value": value, "unit": unit,
                            "target": target, "met": met}
    if reference_what is not None:
        line.update(reference=reference, reference_what=reference_what, ratio=ratio_value)
    if detail:
        line["detail"] = dict(detail)
    return line


def search_figures(a: Mapping[str, Any], p: Mapping[str, Any],
                   sizes: Sizes) -> list[dict[str, Any]]:
    """The search lines: the main query against MLflow's tag search, then the issue-14 rows
    of the search-at-scale phase (at its largest size and at the main size)."""
    mlf = p.get("mlflow") or {}
    mlf_tag50 = dig(mlf, "search_model_versions", "tag", "p50_ms")
    mlf_tag99 = dig(mlf, "search_model_versions", "tag", "p99_ms")
    mlf_n = dig(mlf, "search_model_versions", "versions_in_table")
    mlf_search = f"MLflow search_model_versions(tags.stage=...) at {mlf_n or '?'} versions"
    srch = a.get("search", {})
    main = srch.get("main", {})
    n_s = srch.get("versions", sizes.search_versions)
    out = [fig("search.p50", f"search `{work.SEARCH_QUERY}` at {n_s:,} versions, p50",
               main.get("p50_ms"), "ms", "<= 5 ms", _cmp(main.get("p50_ms"), "<=", 5),
               reference=mlf_tag50, reference_what=mlf_search + ", p50",
               ratio_value=ratio(mlf_tag50, main.get("p50_ms")),
               detail={"rows": main.get("rows"), "matches": a.get("search_matches")}),
           fig("search.p99", "same, p99", main.get("p99_ms"), "ms", "<= 25 ms",
               _cmp(main.get("p99_ms"), "<=", 25), reference=mlf_tag99,
               reference_what=mlf_search + ", p99",
               ratio_value=ratio(mlf_tag99, main.get("p99_ms")))]
    scale = a.get("search_scale")
    if scale:
        out += search_scale.figures(scale, sizes.search_versions, max(scale["sizes"]), fig,
                                    _cmp)
    return out


def build_figures(a: Mapping[str, Any], p: Mapping[str, Any],
                  sizes: Sizes) -> list[dict[str, Any]]:
    """One line per measured figure, each with its target and ``met``."""
    mlf = p.get("mlflow") or {}
    dvc = p.get("dvc") or {}
    out: list[dict[str, Any]] = []

    # Registration.
    reg = a.get("register_single", {})
    mlf_vps = dig(mlf, "register", "versions_per_s")
    r1 = ratio(reg.get("versions_per_s"), mlf_vps)
    mlf_what = f"MLflow create_model_version, {dig(mlf, 'register', 'versions') or '?'} versions"
    out.append(fig("register.single", f"register, metadata only, one call each, "
                   f"{sizes.register:,} versions / 10 names", reg.get("versions_per_s"),
                   "versions/s", ">= 2,000", _cmp(reg.get("versions_per_s"), ">=", 2000),
                   reference=mlf_vps, reference_what=mlf_what, ratio_value=r1,
                   detail={"p50_ms": reg.get("p50_ms"), "p99_ms": reg.get("p99_ms")}))
    out.append(fig("register.single.vs_mlflow", "register one call each / MLflow (same run)",
                   r1, "x", ">= 10x", _cmp(r1, ">=", 10)))
    floor = a.get("register_raw_floor", {})
    r0 = ratio(reg.get("versions_per_s"), floor.get("versions_per_s"))
    out.append(fig("register.single.vs_floor", "register one call each / raw sqlite3 writing "
                   "the same rows, one transaction each (same run)", r0, "x", ">= 0.7",
                   _cmp(r0, ">=", 0.7), reference=floor.get("versions_per_s"),
                   reference_what="raw sqlite3: counter upsert, version, 4 tags, search "
                   "document; WAL, synchronous=NORMAL", ratio_value=r0,
                   detail={"floor_p50_ms": floor.get("p50_ms"), "p50_ms": reg.get("p50_ms")}))
    bat = a.get("register_batch", {})
    r2 = ratio(bat.get("versions_per_s"), mlf_vps)
    out.append(fig("register.batch", f"register, bulk `with catalog.batch()`, "
                   f"{sizes.batch:,} versions", bat.get("versions_per_s"), "versions/s",
                   ">= 10,000", _cmp(bat.get("versions_per_s"), ">=", 10_000),
                   reference=mlf_vps, reference_what=mlf_what, ratio_value=r2))
    out.append(fig("register.batch.vs_mlflow", "register bulk / MLflow one call each "
                   "(same run)", r2, "x", ">= 70x", _cmp(r2, ">=", 70)))

    # One large file.
    ing = a.get("ingest_file", {})
    out.append(fig("ingest.file", f"register(path=) one {sizes.file_mib} MiB file",
                   ing.get("archivist_mb_per_s"), "MB/s",
                   ">= 80 % of min(sha256, kernel copy+fsync)",
                   _cmp(ing.get("ratio_to_floor"), ">=", 0.8),
                   reference=ing.get("floor_mb_per_s"),
                   reference_what="min(sha256, kernel copy+fsync) of the same file, same reps",
                   ratio_value=ing.get("ratio_to_floor"),
                   detail={"sha256_mb_per_s": ing.get("sha256_mb_per_s"),
                           "copy_fsync_mb_per_s": ing.get("copy_fsync_mb_per_s"),
                           "kernel_copy_fsync_mb_per_s": ing.get("kernel_copy_fsync_mb_per_s"),
                           "hash_copy_fsync_rename_mb_per_s":
                               ing.get("hash_copy_fsync_rename_mb_per_s"),
                           "dvc_add_mb_per_s": dig(dvc, "file_huge", "add_mb_per_s", "median")
                           or dig(dvc, "file_big", "add_mb_per_s", "median")}))
    out.append(fig("ingest.file.peak_rss", "peak RSS of the registering process (child)",
                   ing.get("peak_rss_mb"), "MiB", "< 150", _cmp(ing.get("peak_rss_mb"), "<",
                                                                150),
                   detail={"baseline_rss_mb": ing.get("baseline_rss_mb"),
                           "growth_during_call_mb": ing.get("peak_growth_mb")}))
    new_files = ing.get("archivist_reregister_new_files")
    out.append(fig("ingest.file.reregister", "re-register the identical file (same path)",
                   ing.get("archivist_reregister_s"), "s", "writes nothing (0 new files)",
                   _cmp(new_files, "==", 0),
                   detail={"new_files": new_files,
                           "write_bytes": ing.get("archivist_reregister_write_bytes"),
                           "dedup_copy_s": ing.get("archivist_dedup_copy_s"),
                           "dedup_copy_write_bytes": ing.get("archivist_dedup_copy_write_bytes"),
                           "dedup_copy_new_files": ing.get("archivist_dedup_copy_new_files"),
                           "dedup_copy_rate_vs_sha256": ing.get("sha256_of_dedup_copy")}))

    # Directory.
    tre = a.get("ingest_dir", {})
    dvc_add = dig(dvc, "tree", "add_s", "median")
    out.append(fig("ingest.dir", f"register(path=) directory of {sizes.tree_files:,} x 4 KiB",
                   tre.get("seconds"), "s", "<= 1.5 s", _cmp(tre.get("seconds"), "<=", 1.5),
                   reference=dvc_add, reference_what="DVC `dvc add` (CLI), same run",
                   ratio_value=ratio(dvc_add, tre.get("seconds")),
                   detail={"peak_rss_mb": tre.get("peak_rss_mb")}))
    dvc_re = dig(dvc, "tree", "readd_one_changed_s", "median")
    out.append(fig("ingest.dir.one_changed", "re-register the directory, 1 file changed",
                   tre.get("reregister_one_changed_s"), "s", "<= 0.3 s",
                   _cmp(tre.get("reregister_one_changed_s"), "<=", 0.3), reference=dvc_re,
                   reference_what="DVC `dvc add` after changing 1 file, same run",
                   ratio_value=ratio(dvc_re, tre.get("reregister_one_changed_s"))))
    out.append(fig("ingest.dir.one_changed.new_blobs", "new blobs written by that re-register",
                   tre.get("reregister_new_blobs"), "blobs", "== 2 (file + manifest)",
                   _cmp(tre.get("reregister_new_blobs"), "==", 2)))

    out += search_figures(a, p, sizes)

    # Aliases.
    srch = a.get("search", {})
    n_s = srch.get("versions", sizes.search_versions)
    mlf_get = dig(mlf, "get_model_version_by_alias", "p50_ms")
    mlf_set = dig(mlf, "set_registered_model_alias", "p50_ms")
    al = a.get("alias", {})
    g50 = dig(al, "get_alias", "p50_ms")
    out.append(fig("get_alias", f"get(\"name@alias\") at {sizes.alias_versions:,} versions, "
                   "p50", g50, "ms", "<= 0.3 ms", _cmp(g50, "<=", 0.3), reference=mlf_get,
                   reference_what="MLflow get_model_version_by_alias, p50",
                   ratio_value=ratio(mlf_get, g50),
                   detail={"p99_ms": dig(al, "get_alias", "p99_ms")}))
    g50_big = dig(srch, "get_alias", "p50_ms")
    out.append(fig("get_alias.search_catalog", f"get(\"name@alias\") at {n_s:,} versions, p50",
                   g50_big, "ms", "<= 0.3 ms", _cmp(g50_big, "<=", 0.3), reference=mlf_get,
                   reference_what="MLflow get_model_version_by_alias, p50",
                   ratio_value=ratio(mlf_get, g50_big)))
    s50 = dig(al, "set_alias", "p50_ms")
    out.append(fig("set_alias", "set_alias p50", s50, "ms", "<= 1 ms", _cmp(s50, "<=", 1),
                   reference=mlf_set, reference_what="MLflow set_registered_model_alias, p50",
                   ratio_value=ratio(mlf_set, s50),
                   detail={"p99_ms": dig(al, "set_alias", "p99_ms")}))

    # Lineage.
    lin = a.get("lineage", {})
    up = lin.get("upstream_depth", {})
    out.append(fig("lineage.up50", "get_lineage(chain tip, depth=50, direction=\"up\"), "
                   f"{lin.get('edges', '?')} edges, p50",
                   up.get("p50_ms"), "ms", "<= 10 ms", _cmp(up.get("p50_ms"), "<=", 10),
                   detail={"upstream": up.get("upstream"), "p99_ms": up.get("p99_ms")}))
    down = lin.get("downstream_of", {})
    out.append(fig("lineage.downstream_of", f"search(`{down.get('query', 'downstream-of')}`)"
                   ", default limit 100, p50", down.get("p50_ms"), "ms", "<= 50 ms",
                   _cmp(down.get("p50_ms"), "<=", 50),
                   detail={"rows": down.get("rows"),
                           "downstream_total": down.get("downstream_total"),
                           "p99_ms": down.get("p99_ms"),
                           "all_rows_p50_ms": dig(lin, "downstream_of_all", "p50_ms")}))

    # Pipelines (issue 4): capture overhead and the step cache.
    pipe = a.get("pipelines", {})
    cap, cached, flow = (pipe.get(k, {}) for k in ("capture", "cached_rerun", "foreach_flow"))
    out.append(fig("pipelines.capture", "20-step function pipeline, 1 KB values: wall time "
                   "per captured artifact", cap.get("ms_per_artifact"), "ms", "<= 3",
                   cap.get("met"), detail={k: cap.get(k) for k in (
                       "register_floor_ms", "durable_write_ms")}))
    out.append(fig("pipelines.capture.vs_register", "capture per artifact / a plain "
                   "register(data=1 KB) in the same catalog (same run)",
                   cap.get("ratio_to_register"), "x", "<= 1.1",
                   _cmp(cap.get("ratio_to_register"), "<=", 1.1),
                   reference=cap.get("register_floor_ms"),
                   reference_what="register(data=1 KB), ms"))
    out.append(fig("pipelines.cached_rerun", "cached re-run of that pipeline (50 ms sleep per "
                   "step): speed-up over the first run", cached.get("speedup"), "x", ">= 30",
                   cached.get("met")))
    out.append(fig("pipelines.foreach_flow", "class flow, foreach of 100 tasks: wall time per "
                   "captured artifact", flow.get("ms_per_artifact"), "ms", "<= 4",
                   flow.get("met"), detail={k: flow.get(k) for k in (
                       "register_floor_ms", "durable_write_ms")}))
    return out


def print_table(figures: Sequence[Mapping[str, Any]]) -> None:
    """The figures as a plain table on stderr."""
    def show(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    print("\n" + f"{'figure':34} {'archivist':>12} {'unit':10} {'reference':>10} "
          f"{'ratio':>7}  {'target':36} met", file=sys.stderr)
    for f in figures:
        met = {True: "yes", False: "NO", None: "n/a"}[f["met"]]
        print(f"{f['id']:34} {show(f['value']):>12} {f['unit']:10} "
              f"{show(f.get('reference')):>10} {show(f.get('ratio')):>7}  {f['target']:36} "
              f"{met}", file=sys.stderr)


# --------------------------------------------------------------------------- the run


def pick_sizes(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else FULL
    return Sizes(**{**asdict(sizes), "rounds": args.rounds}) if args.rounds else sizes


def _header(benchmark: str, args: argparse.Namespace, sizes: Sizes,
            started: float) -> dict[str, Any]:
    return {"benchmark": benchmark,
            "command": "python benchmarks/run.py " + " ".join(sys.argv[1:]),
            "mode": "quick" if args.quick else "full",
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "sizes": asdict(sizes)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = pick_sizes(args)
    started = time.time()
    WORKDIR.mkdir(parents=True, exist_ok=True)
    rundir = Path(tempfile.mkdtemp(prefix="run-archivist-", dir=WORKDIR))
    loads = {"start": _loadavg()}
    result = _header("archivist make bench", args, sizes, started)
    if args.quick:
        result["note"] = ("--quick: a smoke test at small sizes; the met flags do not say "
                          "whether the issue's targets (full sizes) are met")
    try:
        log("machine info and sqlite floor")
        info = machine.machine_info(WORKDIR)
        sqlite_floor = machine.sqlite_txn(rundir / "txn.sqlite3", n=500 if args.quick else 2000)

        # Peers: install once (not timed as part of anything).
        peer_pythons: dict[str, Path] = {}
        peer_errors: dict[str, Any] = {}
        if not args.skip_peers:
            for name in ("mlflow", "dvc"):
                log(f"peer {name}: checking its venv (first time: pip install)")
                try:
                    peer_pythons[name] = peers.ensure_peer(peers.PEERS[name])
                except peers.PeerError as exc:
                    peer_errors[name] = {"error": str(exc)}
                    log(f"peer {name}: {exc}")

        # Cached catalogs.
        search_home, search_man = work.cached_catalog(
            "search", sizes.search_versions, work.build_search_catalog,
            rebuild=args.rebuild_cache, log=log)
        lineage_home, lineage_man = work.cached_catalog(
            "lineage", sizes.lineage_versions, work.build_lineage_catalog,
            rebuild=args.rebuild_cache, log=log)
        # Byte sources: one file (and a copy of it for the dedup-by-hash figure).
        log(f"creating the {sizes.file_mib} MiB source file")
        src = make_file(rundir / "source.bin", sizes.file_mib * MIB)
        copy = rundir / "source-copy.bin"
        shutil.copyfile(src, copy)
        blobs_dir = rundir / "floor-blobs"
        blobs_dir.mkdir()
        machine.sha256_file(src)  # warm-up: read once from the page cache

        runs: dict[str, list[dict[str, Any]]] = {
            k: [] for k in ("register_single", "register_raw_floor", "register_batch", "alias",
                            "ingest_file",
                            "ingest_dir", "search", "lineage")}
        peer_runs: dict[str, list[dict[str, Any]]] = {name: [] for name in peer_pythons}
        rep = 0

        def peer_round(r: int, name: str, extra: Sequence[str]) -> None:
            if name in peer_pythons:
                log(f"round {r + 1}: {name}")
                res = peers.run_peer(peers.PEERS[name], peer_pythons[name], list(extra),
                                     WORKDIR)
                if "error" in res:
                    log(f"{name} failed: {res['error']}")
                peer_runs[name].append(res)

        for r in range(sizes.rounds):
            loads[f"round{r + 1}"] = _loadavg()
            log(f"round {r + 1}/{sizes.rounds}: archivist registration and aliases")
            for i in range(sizes.reps):
                # archivist and its raw-sqlite3 floor (the same rows), order swapped per rep
                pair = [("register_single", work.register_single),
                        ("register_raw_floor", work.register_raw_floor)]
                for key, workload in pair if (r + i) % 2 == 0 else pair[::-1]:
                    runs[key].append(workload(rundir, sizes.register))
                runs["register_batch"].append(work.register_batch(rundir, sizes.batch))
            runs["alias"].append(work.alias_latency(rundir, sizes.alias_versions,
                                                    n=sizes.latency_n))
            peer_round(r, "mlflow", sizes.mlflow_args)
            log(f"round {r + 1}: file ingest ({sizes.reps} reps) and directory")
            for _ in range(sizes.reps):
                runs["ingest_file"].append(file_rep(src, copy, blobs_dir, rundir, rep))
                runs["ingest_dir"].append(tree_rep(rundir, sizes.tree_files))
                rep += 1
            peer_round(r, "dvc", sizes.dvc_args)
            log(f"round {r + 1}: search and lineage")
            runs["search"].append(work.search_latency(search_home, search_man,
                                                      n=sizes.search_n))
            runs["lineage"].append(work.lineage_latency(lineage_home, lineage_man,
                                                        n=sizes.search_n))

        arch: dict[str, Any] = {k: median_of_runs(v) for k, v in runs.items() if v}
        log("pipelines: capture, cached re-run, foreach flow")
        arch["pipelines"] = pipeline_bench.run_all(sizes.rounds, workdir=rundir)
        arch["search_matches"] = work.search_matches(search_home)
        arch["search_catalog"] = search_man
        arch["lineage_catalog"] = lineage_man
        ingest_reps = runs["ingest_file"]
        floors = {
            key: summarize(x[f"{key}_mb_per_s"] for x in ingest_reps)
            for key in ("sha256", "copy_fsync", "kernel_copy_fsync", "hash_copy_fsync_rename")
        }
        arch["ingest_file"]["ratio_to_floor_per_rep"] = [x["ratio_to_floor"]
                                                         for x in ingest_reps]
        arch["search_scale"] = search_phase(args, sizes, peer_pythons.get("mlflow"))

        peer_results: dict[str, Any] = dict(peer_errors)
        for name, pruns in peer_runs.items():
            merged = median_of_runs(pruns)
            errors = [x["error"] for x in pruns if "error" in x]
            if errors and "error" not in merged:
                merged["round_errors"] = errors
            peer_results[name] = {**merged, "requirements": list(peers.PEERS[name].requirements)}

        loads["end"] = _loadavg()
        result["machine"] = {
            **info,
            "loadavg_1_5_15": loads,
            "floors": {
                "file_mib": sizes.file_mib,
                "page_cache": "warm",
                "mb_per_s": floors,
                "sqlite_txn": sqlite_floor,
            },
        }
        result["archivist"] = {"version": archivist.__version__, "git": _git_state(), **arch}
        result["peers"] = peer_results
        return finish(result, build_figures(arch, peer_results, sizes), started)
    finally:
        shutil.rmtree(rundir, ignore_errors=True)


def finish(result: dict[str, Any], figures: list[dict[str, Any]],
           started: float) -> dict[str, Any]:
    result["figures"] = figures
    result["summary"] = {
        "met": sum(1 for f in figures if f["met"] is True),
        "not_met": [f["id"] for f in figures if f["met"] is False],
        "no_data": [f["id"] for f in figures if f["met"] is None],
    }
    result["wall_s"] = round(time.time() - started, 1)
    return result


def search_phase(args: argparse.Namespace, sizes: Sizes,
                 mlflow_python: Path | None) -> dict[str, Any]:
    """The search-at-scale phase (``search_scale.run_scale``) and its chart."""
    scale_sizes = [*sizes.scale_sizes, *([sizes.million] if args.million else [])]
    log(f"search at scale: {', '.join(f'{n:,}' for n in scale_sizes)} versions")
    scale = search_scale.run_scale(
        scale_sizes, rounds=sizes.rounds, n=sizes.search_n, budget_s=2.0 if args.quick else 8.0,
        rebuild=args.rebuild_cache, mlflow_python=mlflow_python, quick=args.quick, log=log,
        pg_max=args.pg_max_versions)
    chart = args.chart
    if chart is None and not args.quick:
        stamp = time.strftime("%Y-%m-%dT%H%MZ", time.gmtime())
        chart = HERE / "results" / f"{stamp}-search-scale.png"
    if chart is not None:
        search_scale.plot(scale, chart, "search p50 against catalog size, limit 100\n"
                          f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} "
                          f"CPUs, load average {_loadavg()}")
        scale["chart"] = str(chart)
        log(f"chart: {chart}")
    return scale


def run_search_only(args: argparse.Namespace, sizes: Sizes) -> dict[str, Any]:
    """``--only search``: the search-at-scale phase alone (MLflow's tag search at 1 k as the
    reference of the main query, from that phase)."""
    started = time.time()
    loads = {"start": _loadavg()}
    mlflow_python: Path | None = None
    if not args.skip_peers:
        try:
            mlflow_python = peers.ensure_peer(peers.PEERS["mlflow"])
        except peers.PeerError as exc:
            log(f"peer mlflow: {exc}")
    scale = search_phase(args, sizes, mlflow_python)
    loads["end"] = _loadavg()
    main_size = str(sizes.search_versions)
    main = dig(scale, "sqlite", main_size) or {}
    arch = {"search": {"versions": sizes.search_versions, "main": {
        **(main.get("main") or {}), "rows": dig(main, "rows", "main")}},
        "search_scale": scale}
    mlf_1k = dig(scale, "mlflow", str(min(sizes.scale_sizes))) or {}
    mlf = {"search_model_versions": {"versions_in_table": mlf_1k.get("versions"),
                                     "tag": mlf_1k.get("tag")}}
    result = {**_header("archivist make bench --only search", args, sizes, started),
              "machine": {**machine.machine_info(WORKDIR), "loadavg_1_5_15": loads},
              "archivist": {"version": archivist.__version__, "git": _git_state(), **arch}}
    return finish(result, search_figures(arch, {"mlflow": mlf}, sizes), started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="archivist benchmarks (make bench)")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--skip-peers", action="store_true", help="do not run MLflow and DVC")
    parser.add_argument("--million", action="store_true",
                        help="add the 1,000,000-version search catalogs (SQLite, PostgreSQL)")
    parser.add_argument("--pg-max-versions", type=int, default=None,
                        help="search at scale on PostgreSQL only up to this many versions "
                        "(building 1 M there takes ~30 min)")
    parser.add_argument("--only", choices=["search"], default=None,
                        help="run one phase alone: search = the search-at-scale rows")
    parser.add_argument("--chart", type=Path, default=None,
                        help="write the search p50 vs catalog size chart (PNG) here")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--rounds", type=int, default=0, help="override the number of rounds")
    parser.add_argument("--rebuild-cache", action="store_true",
                        help="rebuild the cached search/lineage catalogs")
    args = parser.parse_args(argv)
    result = run_search_only(args, pick_sizes(args)) if args.only else run(args)
    text = json.dumps(result, indent=2, default=str)
    print(text, flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print_table(result["figures"])
    log(f"done: {result['summary']['met']} met, not met: {result['summary']['not_met']}, "
        f"no data: {result['summary']['no_data']}")
    with contextlib.suppress(OSError):
        WORKDIR.rmdir()  # only if empty (the cache usually stays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
