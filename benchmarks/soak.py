"""Soak: many clients against a catalog server on PostgreSQL + S3 whose server gets killed.

    python benchmarks/soak.py [--minutes 5] [--clients 16] [--kill-every 20] [--out FILE]

Starts a throw-away PostgreSQL cluster (the tests' ``PostgresCluster``), moto's S3 server on
loopback, and ``archivist server --workers 2`` on them. ``--clients`` processes, each an
``ArtifactCatalog`` on the server URL (the remote backend), register versions with 1-16 KiB
of random bytes and a unique operation id in their metadata, and read back (and check the
digest of) a version they registered earlier, for ``--minutes``. Meanwhile the server's
whole process group is sent SIGKILL at random moments (on average every ``--kill-every``
seconds; 0 for none) and restarted on the same port.

Afterwards the catalog is read directly (PostgreSQL + S3, not through the server) and each
client's log is compared with it:

* acknowledged: registers whose call returned an id;
* lost: acknowledged operations with no version (must be 0);
* duplicated: operations with more than one version (a retry that wrote twice; must be 0);
* unacknowledged but committed: calls that failed for the client yet committed (the
  client saw an error; the version exists once, which is allowed);
* bad reads: a read whose bytes did not match (must be 0); ``verify`` problems (must be 0);
* latency p50/p99 of acknowledged registers and of reads, and the errors by type.

Prints one JSON document on stdout; progress on stderr. ``make soak`` runs it (not in CI).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from common import percentile, print_json  # noqa: E402
from machine import machine_info  # noqa: E402
from tests.fixtures.postgres import start_cluster  # noqa: E402
from tests.fixtures.s3 import s3_environment  # noqa: E402
from tests.fixtures.services import candidate_port as free_port  # noqa: E402

from server import make_key, wait_healthy  # noqa: E402

ARCHIVIST = Path(sys.executable).with_name("archivist")
NAMES = 8  # clients spread their versions over this many names (contention on numbering)


def log(message: str) -> None:
    print(f"[soak] {message}", file=sys.stderr, flush=True)


# -- the server, killed and restarted ------------------------------------------------------
class KilledServer:
    """``archivist server`` in its own process group, SIGKILLed at random and restarted."""

    def __init__(self, cmd: list[str], env: dict[str, str], health: str, logdir: Path,
                 kill_every: float, seed: int) -> None:
        self.cmd, self.env, self.health, self.logdir = cmd, env, health, logdir
        self.kill_every, self.random = kill_every, random.Random(seed)
        self.kills, self.proc = 0, None  # type: int, subprocess.Popen[bytes] | None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._killer, daemon=True)

    def start(self) -> None:
        logfile = self.logdir / f"server-{self.kills}.log"
        with open(logfile, "wb") as out:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_healthy(self.health, self.proc, logfile, timeout=120)

    def kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def _killer(self) -> None:
        while not self._stop.wait(self.random.expovariate(1 / self.kill_every)):
            self.kill()
            self.kills += 1
            log(f"killed the server ({self.kills})")
            self.start()

    def __enter__(self) -> KilledServer:
        self.start()
        if self.kill_every > 0:
            self._thread.start()
        return self

    def calm(self) -> None:
        """Stop killing; leave a healthy server running."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def __exit__(self, *exc: object) -> None:
        self.calm()
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


# -- one client ----------------------------------------------------------------------------
def _client(index: int, base: str, key: str, cache: str, seconds: float, ready: Any, go: Any,
            out: Any) -> None:
    os.environ["ARCHIVIST_CATALOG_ENDPOINT"] = base
    os.environ["ARCHIVIST_CATALOG_API_KEY"] = key
    os.environ["ARCHIVIST_CACHE_DIR"] = cache
    import warnings

    from archivist import ArchivistError, ArtifactCatalog

    warnings.simplefilter("ignore")
    rng = random.Random(index)
    catalog = ArtifactCatalog()
    acked: list[tuple[str, str, str]] = []  # (operation, version id, sha256 of the bytes)
    failed: list[str] = []
    errors: Counter[str] = Counter()
    examples: dict[str, str] = {}  # the first message of each kind of error
    register_ms: list[float] = []
    read_ms: list[float] = []
    bad_reads = 0
    ready.put(index)
    go.wait()
    stop = time.monotonic() + seconds
    n = 0
    while time.monotonic() < stop:
        n += 1
        operation = f"c{index}-{n}"
        data = rng.randbytes(rng.randint(1024, 16 * 1024))
        started = time.perf_counter()
        try:
            vid = catalog.register(f"soak_{rng.randrange(NAMES)}", "Dataset", data=data,
                                   metadata={"soak_op": operation}, tags={"client": index})
        except (ArchivistError, OSError) as exc:
            errors[f"register: {type(exc).__name__}"] += 1
            examples.setdefault(f"register: {type(exc).__name__}", str(exc)[:300])
            failed.append(operation)
            time.sleep(0.5)  # the server is down or restarting: a real client waits a little
            continue
        register_ms.append((time.perf_counter() - started) * 1e3)
        acked.append((operation, vid, hashlib.sha256(data).hexdigest()))
        if n % 4 == 0:
            _, old, digest = rng.choice(acked)
            started = time.perf_counter()
            try:
                got = catalog.load(old)
            except (ArchivistError, OSError) as exc:
                errors[f"read: {type(exc).__name__}"] += 1
                examples.setdefault(f"read: {type(exc).__name__}", str(exc)[:300])
                continue
            read_ms.append((time.perf_counter() - started) * 1e3)
            bad_reads += hashlib.sha256(got).hexdigest() != digest
    catalog.close()
    out.put({"index": index, "acked": acked, "failed": failed, "errors": dict(errors),
             "examples": examples, "register_ms": register_ms, "read_ms": read_ms,
             "bad_reads": bad_reads})


def run_clients(base: str, key: str, clients: int, seconds: float,
                work: Path) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_client, args=(i, base, key, str(work / f"cache{i}"), seconds,
                                               ready, go, out))
             for i in range(clients)]
    for p in procs:
        p.start()
    waiting = len(procs)
    deadline = time.monotonic() + 300
    while waiting:
        if time.monotonic() > deadline or any(p.exitcode not in (None, 0) for p in procs):
            for p in procs:
                p.kill()
            raise RuntimeError("a client process did not start (its traceback is above)")
        with contextlib.suppress(queue.Empty):
            ready.get(timeout=1)
            waiting -= 1
    go.set()
    results = [out.get(timeout=seconds + 600) for _ in procs]
    for p in procs:
        p.join()
    return results


# -- the verdict ---------------------------------------------------------------------------
def audit(database_url: str, blobs: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare what the clients were told with what the catalog holds."""
    from archivist import ArtifactCatalog

    stored: Counter[str] = Counter()
    with ArtifactCatalog(database_url, blobs=blobs) as catalog:
        for i in range(NAMES):
            with contextlib.suppress(Exception):
                for art in catalog.versions(f"soak_{i}"):
                    stored[str(art.metadata.get("soak_op"))] += 1
        report = catalog.verify()
    acked = {op for r in results for op, _, _ in r["acked"]}
    failed = {op for r in results for op in r["failed"]}
    return {
        "acknowledged": len(acked),
        "failed_calls": len(failed),
        "lost": len(acked - set(stored)),
        "duplicated": sum(1 for count in stored.values() if count > 1),
        "unacknowledged_but_committed": len(failed & set(stored)),
        "stored_versions": sum(stored.values()),
        "verify_ok": report.ok,
        "verify_checked": report.checked,
        "verify_corrupt_or_missing": len(report.corrupt) + len(report.missing),
        "verify_leftovers": len(report.unreferenced) + len(report.stale_temp),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--kill-every", type=float, default=20.0,
                        help="mean seconds between server kills (0: never)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    for var in ("ARCHIVIST_CATALOG_ENDPOINT", "ARCHIVIST_CATALOG_API_KEY", "ARCHIVIST_HOME"):
        os.environ.pop(var, None)
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port)
    with contextlib.redirect_stdout(sys.stderr):  # its banner is not the result
        moto.start()
    endpoint = f"http://127.0.0.1:{moto_port}"
    os.environ.update(s3_environment(endpoint, work))
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="soak")
    blobs = "s3://soak/blobs"
    log("starting PostgreSQL")
    cluster = start_cluster()
    results: dict[str, Any] = {"machine": machine_info(), "args": vars(args) | {"out": None}}
    try:
        database_url = cluster.url(cluster.create_database())
        key = make_key(database_url, blobs)  # type: ignore[arg-type]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = [str(ARCHIVIST), "server", "--database", database_url, "--blobs", blobs,
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
        env = {**os.environ, "ARCHIVIST_LOG_LEVEL": "warning"}
        with KilledServer(cmd, env, f"{base}/health", work, args.kill_every,
                          args.seed) as server:
            log(f"{args.clients} clients for {args.minutes} min, a kill every "
                f"~{args.kill_every} s")
            clients = run_clients(base, key, args.clients, args.minutes * 60, work)
            server.calm()
            results["kills"] = server.kills
        results["audit"] = audit(database_url, blobs, clients)
        register = [ms for r in clients for ms in r["register_ms"]]
        reads = [ms for r in clients for ms in r["read_ms"]]
        errors: Counter[str] = Counter()
        examples: dict[str, str] = {}
        for r in clients:
            errors.update(r["errors"])
            examples.update(r["examples"])
        results["latency_ms"] = {
            "register_p50": round(percentile(register, 50), 1),
            "register_p99": round(percentile(register, 99), 1),
            "read_p50": round(percentile(reads, 50), 1) if reads else None,
            "read_p99": round(percentile(reads, 99), 1) if reads else None,
        }
        results["registers_per_s"] = round(len(register) / (args.minutes * 60), 1)
        results["bad_reads"] = sum(r["bad_reads"] for r in clients)
        results["errors"] = dict(errors)
        results["error_examples"] = examples
    finally:
        cluster.stop()
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)
    audit_ = results.get("audit", {})
    log(json.dumps({"kills": results.get("kills"), **audit_,
                    **results.get("latency_ms", {}), "bad_reads": results.get("bad_reads")}))
    print_json(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    sound = (audit_.get("lost") == 0 and audit_.get("duplicated") == 0
             and results.get("bad_reads") == 0 and audit_.get("verify_ok"))
    return 0 if sound else 1


if __name__ == "__main__":
    sys.exit(main())
