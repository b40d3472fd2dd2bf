"""Server benchmarks (issue 3): ``archivist server`` on loopback, load from the same machine.

    python benchmarks/server.py [--quick] [--seconds 10] [--skip-mlflow] [--file-mib 1024]
    python benchmarks/server.py --only-get --chart benchmarks/results/server-connections.png

Starts a throw-away PostgreSQL cluster (the tests' ``PostgresCluster``), an ``archivist
server --workers 2`` on it with a local blob folder, and an admin API key, then measures:

* ``get_by_alias``: ``GET /api/v1/projects/default/refs/bench_model@production`` with 32
  concurrent connections from ``wrk`` (Debian package ``wrk``; C, so the load generator
  takes little of the 2 cores the server needs): requests/s and p50/p99 latency.
  Targets: >= 1,500 requests/s, p99 <= 50 ms, and >= 0.6x the requests/s of the same
  server's ``/health`` (no database, no key: uvicorn + FastAPI alone), measured in the
  same run: ``--rounds`` interleaved runs of each, the median kept.
* ``connections_sweep``: both URLs at each of ``--sweep`` connection counts;
  ``--chart PATH`` draws requests/s and p99 against connections (matplotlib PNG).
* ``register_remote``: 8 client processes, each an ``ArtifactCatalog`` on the server URL
  (the remote backend), registering metadata-only versions (4 tags, metadata, description)
  for ``--seconds``. Target: >= 500 versions/s. The same workload through ``MlflowClient``
  against ``mlflow server`` on another database of the same cluster gives the ratio.
* ``transfer``: register (upload) and download a ``--file-mib`` file through the server;
  MB/s each way (including the client's hashing: what a user waits for) and the growth of
  the server processes' RSS (sampled every 50 ms). Targets: >= 200 MB/s each way, < 100 MB.

Prints one JSON document on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import httpx  # noqa: E402
import psutil  # noqa: E402
from common import make_file, mb_per_s, print_json  # noqa: E402
from machine import machine_info  # noqa: E402
from tests.fixtures.postgres import PostgresCluster, start_cluster  # noqa: E402
from tests.fixtures.services import candidate_port as free_port  # noqa: E402

TARGETS = {"get_rps": 1500.0, "get_p99_ms": 50.0, "get_to_health": 0.6, "register_per_s": 500.0,
           "upload_mb_s": 200.0, "download_mb_s": 200.0, "rss_growth_mb": 100.0}
ARCHIVIST = Path(sys.executable).with_name("archivist")


def log(message: str) -> None:
    print(f"[server-bench] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def process(cmd: list[str], env: dict[str, str],
            logfile: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_healthy(url: str, proc: subprocess.Popen[bytes], logfile: Path,
                 timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {logfile.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server not healthy after {timeout}s: {logfile.read_text()[-2000:]}")


def tree_rss_mb(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 1e6


class RssSampler:
    """Peak RSS of a process tree, sampled every 50 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- workloads ----------------------------------------------------------------------------
def _wrk(url: str, key: str, connections: int, seconds: float) -> dict[str, Any]:
    wrk = shutil.which("wrk") or "wrk"
    threads = max(1, min(2, connections))
    out = subprocess.run([wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, int(seconds))}s",
                          "--latency", "-H", f"Authorization: Bearer {key}", url],
                         capture_output=True, text=True, check=True).stdout
    return {"requests_per_s": _wrk_rps(out), "latency_ms": _wrk_latency(out),
            "non_2xx": _wrk_errors(out), "connections": connections}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["requests_per_s"])
    middle = dict(ordered[len(ordered) // 2])
    middle["rounds_requests_per_s"] = [r["requests_per_s"] for r in runs]
    middle["rounds_p99_ms"] = [r["latency_ms"].get("p99") for r in runs]
    return middle


def bench_get(base: str, key: str, seconds: float, rounds: int = 3,
              connections: int = 32) -> dict[str, Any]:
    """GET by alias and, as the same-run reference, ``/health`` (no database, no key
    check: what uvicorn + FastAPI cost), ``rounds`` interleaved runs of each with
    ``connections`` connections; the median run of each and the ratio."""
    if shutil.which("wrk") is None:
        return {"error": "wrk not found: apt-get install wrk"}
    url = f"{base}/api/v1/projects/default/refs/bench_model%40production"
    health = f"{base}/health"
    check = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=5)
    check.raise_for_status()
    _wrk(url, key, connections, 2)  # warm-up
    _wrk(health, key, connections, 2)
    alias_runs, health_runs = [], []
    for _ in range(rounds):
        alias_runs.append(_wrk(url, key, connections, seconds))
        health_runs.append(_wrk(health, key, connections, seconds))
    alias, ref = _median_run(alias_runs), _median_run(health_runs)
    ratios = [a["requests_per_s"] / h["requests_per_s"]
              for a, h in zip(alias_runs, health_runs, strict=True) if h["requests_per_s"]]
    alias["health"] = ref
    alias["ratio_to_health"] = round(sorted(ratios)[len(ratios) // 2], 3) if ratios else None
    alias["rounds_ratio_to_health"] = [round(r, 3) for r in ratios]
    return alias


def bench_sweep(base: str, key: str, seconds: float,
                connections: list[int]) -> list[dict[str, Any]]:
    """Requests/s and p99 of GET by alias and ``/health`` at each connection count (one
    run each, alias then health at every step)."""
    if shutil.which("wrk") is None:
        return []
    url = f"{base}/api/v1/projects/default/refs/bench_model%40production"
    rows = []
    for count in connections:
        alias = _wrk(url, key, count, seconds)
        health = _wrk(f"{base}/health", key, count, seconds)
        rows.append({"connections": count,
                     "alias_rps": alias["requests_per_s"],
                     "alias_p99_ms": alias["latency_ms"].get("p99"),
                     "health_rps": health["requests_per_s"],
                     "health_p99_ms": health["latency_ms"].get("p99")})
        log(f"  {count:>3} connections: alias {alias['requests_per_s']:.0f}/s, "
            f"health {health['requests_per_s']:.0f}/s")
    return rows


def plot_sweep(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Requests/s (and p99) against connections, GET by alias and ``/health``: a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = [r["connections"] for r in rows]
    fig, (rps, p99) = plt.subplots(1, 2, figsize=(10, 4))
    rps.plot(counts, [r["health_rps"] for r in rows], "o-", label="/health (reference)")
    rps.plot(counts, [r["alias_rps"] for r in rows], "s-", label="GET …/refs/name@alias")
    rps.set(xscale="log", xlabel="concurrent connections (wrk)", ylabel="requests/s",
            title="throughput")
    p99.plot(counts, [r["health_p99_ms"] for r in rows], "o-", label="/health")
    p99.plot(counts, [r["alias_p99_ms"] for r in rows], "s-", label="GET by alias")
    p99.axhline(TARGETS["get_p99_ms"], color="grey", linestyle=":", label="p99 target")
    p99.set(xscale="log", xlabel="concurrent connections (wrk)", ylabel="p99 ms",
            title="p99 latency")
    for ax in (rps, p99):
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_ylim(bottom=0)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _wrk_rps(out: str) -> float:
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else 0.0


def _wrk_latency(out: str) -> dict[str, float]:
    found = {}
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        factor = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
        found[f"p{pct}"] = round(float(value) * factor, 3)
    return found


def _wrk_errors(out: str) -> int:
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return int(match.group(1)) if match else 0


def _register_loop(base: str, key: str, seconds: float, index: int, home: str,
                   ready: Any, go: Any, out: Any) -> None:
    os.environ["ARCHIVIST_CATALOG_ENDPOINT"] = base
    os.environ["ARCHIVIST_CATALOG_API_KEY"] = key
    os.environ["ARCHIVIST_CACHE_DIR"] = home
    import warnings

    from archivist import ArtifactCatalog

    warnings.simplefilter("ignore")
    catalog = ArtifactCatalog()
    for i in range(5):
        catalog.register(f"bench_reg_{(index + i) % 10}", "Model", metadata={"warmup": True})
    ready.put(index)
    go.wait()
    start_at = time.time()
    done, stop = 0, start_at + seconds
    while time.time() < stop:
        catalog.register(
            f"bench_reg_{(index + done) % 10}", "Model",
            metadata={"framework": "sklearn", "accuracy": 0.9 + (done % 10) / 100},
            tags={"stage": ("production", "staging", "development")[done % 3],
                  "team": "fraud", "owner": f"user{index}", "f1_score": 0.8},
            description="benchmark version")
        done += 1
    out.put((index, done, time.time() - start_at))
    catalog.close()


def bench_register(base: str, key: str, seconds: float, clients: int,
                   work: Path) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_register_loop,
                         args=(base, key, seconds, i, str(work / f"cache{i}"), ready, go, out))
             for i in range(clients)]
    for p in procs:
        p.start()
    for _ in procs:  # every client imported, connected and warmed up: start together
        ready.get(timeout=300)
    go.set()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    total = sum(done for _, done, _ in results)
    wall = max(elapsed for _, _, elapsed in results)
    return {"clients": clients, "versions": total, "seconds": round(wall, 3),
            "versions_per_s": round(total / wall, 1)}


def bench_transfer(base: str, key: str, server_pid: int, file_mib: int,
                   work: Path) -> dict[str, Any]:
    os.environ["ARCHIVIST_CATALOG_ENDPOINT"] = base
    os.environ["ARCHIVIST_CATALOG_API_KEY"] = key
    os.environ["ARCHIVIST_CACHE_DIR"] = str(work / "transfer-cache")
    from archivist import ArtifactCatalog

    src = make_file(work / "big.bin", file_mib * 1024 * 1024)
    size = src.stat().st_size
    catalog = ArtifactCatalog()
    baseline = tree_rss_mb(server_pid)
    with RssSampler(server_pid) as up_rss:
        t0 = time.perf_counter()
        ref = catalog.register("bench_big", "File", path=src)
        up_s = time.perf_counter() - t0
    dest = work / "big.out"
    with RssSampler(server_pid) as down_rss:
        t0 = time.perf_counter()
        catalog.download(ref, dest)
        down_s = time.perf_counter() - t0
    same = dest.stat().st_size == size
    catalog.close()
    src.unlink()
    dest.unlink()
    return {"bytes": size, "upload_s": round(up_s, 3), "upload_mb_s": mb_per_s(size, up_s),
            "download_s": round(down_s, 3), "download_mb_s": mb_per_s(size, down_s),
            "server_rss_baseline_mb": round(baseline, 1),
            "server_rss_growth_mb": round(max(up_rss.peak, down_rss.peak) - baseline, 1),
            "download_size_matches": same}


def bench_mlflow(cluster: PostgresCluster, seconds: float, clients: int,
                 work: Path) -> dict[str, Any]:
    import peers

    try:
        python = peers.ensure_peer(peers.PEERS["mlflow"])
    except peers.PeerError as exc:
        return {"error": str(exc)}
    probe = subprocess.run([str(python), "-c", "import psycopg2"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "psycopg2-binary==2.9.13"],
                       check=True, capture_output=True)
    database = cluster.create_database()
    # MLflow's own driver: psycopg2 (archivist's URLs name psycopg 3).
    db_url = "postgresql+psycopg2://" + cluster.url(database).split("://", 1)[1]
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    mlflow_bin = python.with_name("mlflow")
    cmd = [str(mlflow_bin), "server", "--backend-store-uri", db_url, "--host", "127.0.0.1",
           "--port", str(port), "--workers", "2",
           "--default-artifact-root", (work / "mlflow-artifacts").as_uri()]
    logfile = work / "mlflow-server.log"
    with process(cmd, env, logfile) as proc:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, logfile, timeout=180)
        out = subprocess.run(
            [str(python), str(HERE / "peer_workloads" / "mlflow_server_register.py"),
             "--tracking-uri", f"http://127.0.0.1:{port}", "--clients", str(clients),
             "--seconds", str(seconds)],
            capture_output=True, text=True, env=env, timeout=seconds + 300)
    if out.returncode != 0:
        return {"error": out.stderr[-2000:]}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["version"] = subprocess.run(
        [str(python), "-c", "import mlflow;print(mlflow.__version__)"],
        capture_output=True, text=True).stdout.strip()
    return result


# -- driver ------------------------------------------------------------------------------
def seed(base: str, key: str) -> None:
    os.environ["ARCHIVIST_CATALOG_ENDPOINT"] = base
    os.environ["ARCHIVIST_CATALOG_API_KEY"] = key
    from archivist import ArtifactCatalog

    with ArtifactCatalog() as catalog:
        for i in range(20):
            ref = catalog.register("bench_model", "Model", metadata={"accuracy": 0.9 + i / 1000},
                                   tags={"stage": "staging"})
        catalog.set_alias(ref, "production")


def make_key(url: str, blobs: Path) -> str:
    from archivist import ArtifactCatalog, keys

    with ArtifactCatalog(url, blobs=str(blobs)) as catalog:
        _, secret = keys.create_key(catalog.backend, "default", "admin", "bench")  # type: ignore[arg-type]
    return secret


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s phases, 64 MiB file")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--file-mib", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved wrk runs of GET by alias and /health (median kept)")
    parser.add_argument("--sweep", default="1,4,16,32,64",
                        help="connection counts of the throughput sweep ('' skips it)")
    parser.add_argument("--chart", type=Path, default=None,
                        help="PNG of the sweep: requests/s and p99 against connections")
    parser.add_argument("--only-get", action="store_true",
                        help="GET by alias, /health and the sweep only (no register, "
                        "transfer or MLflow)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.file_mib, args.rounds = 3.0, 64, 1
    if args.only_get:
        args.skip_mlflow = True
    for var in ("ARCHIVIST_CATALOG_ENDPOINT", "ARCHIVIST_CATALOG_API_KEY", "ARCHIVIST_HOME"):
        os.environ.pop(var, None)
    work = Path(tempfile.mkdtemp(prefix="server-bench-", dir=HERE / ".work"
                                 if (HERE / ".work").exists() else None))
    log("starting PostgreSQL")
    cluster = start_cluster()
    results: dict[str, Any] = {"machine": machine_info(),
                               "args": vars(args) | {"out": None, "chart": None}}
    try:
        database_url = cluster.url(cluster.create_database())
        blobs = work / "blobs"
        key = make_key(database_url, blobs)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = [str(ARCHIVIST), "server", "--database", database_url, "--blobs", str(blobs),
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
        logfile = work / "server.log"
        env = {**os.environ, "ARCHIVIST_LOG_LEVEL": "warning"}
        with process(cmd, env, logfile) as server:
            wait_healthy(f"{base}/health", server, logfile, timeout=180)
            seed(base, key)
            log(f"GET by alias and /health (wrk, 32 connections, {args.rounds} rounds)")
            load_before = os.getloadavg()
            results["get_by_alias"] = bench_get(base, key, args.seconds, args.rounds)
            counts = [int(c) for c in args.sweep.split(",") if c.strip()]
            if counts:
                log(f"throughput against connections: {counts}")
                results["connections_sweep"] = bench_sweep(base, key, args.seconds, counts)
            results["load_average"] = {"before_get": [round(x, 2) for x in load_before],
                                       "after_get": [round(x, 2) for x in os.getloadavg()]}
            if not args.only_get:
                log(f"register through the remote backend ({args.clients} clients)")
                results["register_remote"] = bench_register(base, key, args.seconds,
                                                            args.clients, work)
                log(f"upload + download {args.file_mib} MiB")
                results["transfer"] = bench_transfer(base, key, server.pid, args.file_mib,
                                                      work)
        if not args.skip_mlflow:
            log(f"MLflow server register ({args.clients} clients)")
            try:
                results["mlflow_server_register"] = bench_mlflow(cluster, args.seconds,
                                                                 args.clients, work)
            except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                results["mlflow_server_register"] = {"error": str(exc)[-2000:]}
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["summary"] = summary(results)
    if args.chart and results.get("connections_sweep"):
        load = results["load_average"]["before_get"][0]
        plot_sweep(results["connections_sweep"], args.chart,
                   f"archivist server --workers {args.workers} on PostgreSQL, wrk on the same "
                   f"{os.cpu_count()}-core machine, {args.seconds:g} s per point "
                   f"(1-min load average {load} before)")
        log(f"chart: {args.chart}")
    for line in results["summary"]:
        log(json.dumps(line))
    print_json(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


def summary(r: dict[str, Any]) -> list[dict[str, Any]]:
    get = r.get("get_by_alias", {})
    reg = r.get("register_remote", {})
    tr = r.get("transfer", {})
    ml = r.get("mlflow_server_register", {})
    rows = [
        ("GET by alias, requests/s (32 conns)", get.get("requests_per_s"), ">=",
         TARGETS["get_rps"]),
        ("GET by alias, p99 ms", get.get("latency_ms", {}).get("p99"), "<=",
         TARGETS["get_p99_ms"]),
        ("GET by alias / same-run /health, requests/s", get.get("ratio_to_health"), ">=",
         TARGETS["get_to_health"]),
        ("register via remote, versions/s (8 clients)", reg.get("versions_per_s"), ">=",
         TARGETS["register_per_s"]),
        ("upload MB/s", tr.get("upload_mb_s"), ">=", TARGETS["upload_mb_s"]),
        ("download MB/s", tr.get("download_mb_s"), ">=", TARGETS["download_mb_s"]),
        ("server RSS growth MB", tr.get("server_rss_growth_mb"), "<=",
         TARGETS["rss_growth_mb"]),
    ]
    out = []
    for name, value, op, target in rows:
        met = None if value is None else (value >= target if op == ">=" else value <= target)
        out.append({"figure": name, "value": value, "target": f"{op} {target}", "met": met})
    if ml.get("versions_per_s") and reg.get("versions_per_s"):
        out.append({"figure": "register ratio archivist / MLflow server",
                    "value": round(reg["versions_per_s"] / ml["versions_per_s"], 2),
                    "mlflow_versions_per_s": ml["versions_per_s"], "target": "> 1 (reported)",
                    "met": reg["versions_per_s"] > ml["versions_per_s"]})
    return out


if __name__ == "__main__":
    sys.exit(main())
