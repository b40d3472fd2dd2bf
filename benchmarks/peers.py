"""Peer side of ``make bench``: MLflow and DVC, each in its own venv, measured in this run.

For each peer, creates (once) ``benchmarks/.peers/<peer>`` with ``python -m venv`` and installs
the pinned requirements with pip (log in ``benchmarks/.peers/<peer>.install.log``; a
``.installed`` marker holds the pins, a change of pins rebuilds the venv). Then runs the peer's
workload script (``benchmarks/peer_workloads/*.py``) with that venv's interpreter in a
subprocess, bounded by a timeout, and reads the one JSON object it prints.

A peer that cannot be installed or whose workload fails is recorded as ``{"error": ...}``; the
run goes on.

    python benchmarks/peers.py [--peers mlflow,dvc] [--rounds 1] [--quick] [--install-only]

prints ``{"peers": {"mlflow": {...}, "dvc": {...}}}``. From benchmarks/run.py, call
``ensure_peer()`` once and ``run_peer()`` per round, interleaved with archivist's own rounds,
then ``common.median_of_runs()`` over the rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import median_of_runs, print_json

HERE = Path(__file__).resolve().parent
PEERS_DIR = HERE / ".peers"
WORKLOADS_DIR = HERE / "peer_workloads"
DEFAULT_WORKDIR = HERE / ".work"


@dataclass(frozen=True)
class Peer:
    name: str
    requirements: tuple[str, ...]
    workload: str
    import_check: str
    args: tuple[str, ...] = field(default=())
    timeout_s: float = 300.0


PEERS: dict[str, Peer] = {
    # Same versions as research/performance.md Part 2 (MLflow 3.17.2, DVC 3.67.1).
    "mlflow": Peer(
        name="mlflow",
        requirements=("mlflow==3.17.2",),
        workload="mlflow_registry.py",
        import_check="import mlflow",
    ),
    "dvc": Peer(
        name="dvc",
        requirements=("dvc==3.67.1",),
        workload="dvc_add.py",
        import_check="import dvc.cli",
    ),
}


class PeerError(Exception):
    """A peer could not be installed or run; the message goes into the results."""


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_peer(
    peer: Peer,
    peers_dir: Path = PEERS_DIR,
    base_python: str = sys.executable,
    timeout_s: float = 1200.0,
) -> Path:
    """The interpreter of the peer's venv, creating the venv and installing it if needed.

    Raises :class:`PeerError` when the venv cannot be created, pip fails or the peer cannot be
    imported afterwards.
    """
    venv = peers_dir / peer.name
    python = _venv_python(venv)
    marker = venv / ".installed"
    wanted = "\n".join(peer.requirements)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python

    peers_dir.mkdir(parents=True, exist_ok=True)
    log_path = peers_dir / f"{peer.name}.install.log"
    if venv.exists():
        shutil.rmtree(venv)
    steps = [
        [base_python, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", *peer.requirements],
        [str(python), "-c", peer.import_check],
    ]
    deadline = time.monotonic() + timeout_s
    with open(log_path, "w", encoding="utf-8") as log:
        for cmd in steps:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            remaining = max(1.0, deadline - time.monotonic())
            try:
                proc = subprocess.run(
                    cmd, stdout=log, stderr=subprocess.STDOUT, timeout=remaining, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise PeerError(f"install of {peer.name} failed: {exc} (see {log_path})") from exc
            if proc.returncode != 0:
                log.flush()
                detail = _tail(log_path.read_text(encoding="utf-8", errors="replace"), 5)
                raise PeerError(
                    f"install of {peer.name} failed at `{' '.join(cmd[1:4])}`"
                    f" (exit {proc.returncode}, see {log_path}): {detail}"
                )
    marker.write_text(wanted)
    return python


def run_peer(
    peer: Peer,
    python: Path,
    extra_args: list[str] | None = None,
    workdir: Path = DEFAULT_WORKDIR,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Run the peer's workload once in a subprocess of its venv; its JSON result, or
    ``{"error": ...}`` when it fails, times out or prints no JSON."""
    script = WORKLOADS_DIR / peer.workload
    workdir.mkdir(parents=True, exist_ok=True)
    rundir = Path(tempfile.mkdtemp(prefix=f"run-{peer.name}-", dir=workdir))
    cmd = [str(python), str(script), "--workdir", str(rundir), *peer.args, *(extra_args or [])]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the peer venv must not see this project's packages
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    env["DVC_NO_ANALYTICS"] = "1"
    timeout = timeout_s if timeout_s is not None else peer.timeout_s
    t0 = time.perf_counter()
    try:
        # Own session, so that a timeout ends the workload's children (dvc, git) too.
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {"error": f"{peer.name} workload timed out after {timeout:.0f} s"}
    except OSError as exc:
        return {"error": f"{peer.name} workload could not start: {exc}"}
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {
            "error": f"{peer.name} workload exited {proc.returncode}",
            "stderr_tail": _tail(stderr),
        }
    for line in reversed(stdout.strip().splitlines()):
        try:
            result: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            continue
        result["subprocess_wall_s"] = round(wall, 2)
        return result
    return {"error": f"{peer.name} workload printed no JSON", "stderr_tail": _tail(stderr)}


def run_peers(
    names: list[str],
    rounds: int = 1,
    extra_args: dict[str, list[str]] | None = None,
    workdir: Path = DEFAULT_WORKDIR,
    install_only: bool = False,
) -> dict[str, Any]:
    """Install (if needed) and run the named peers, ``rounds`` times interleaved
    (mlflow, dvc, mlflow, dvc, ...); numeric figures are the median over the rounds."""
    results: dict[str, Any] = {}
    pythons: dict[str, Path] = {}
    for name in names:
        peer = PEERS[name]
        t0 = time.perf_counter()
        try:
            pythons[name] = ensure_peer(peer)
        except PeerError as exc:
            results[name] = {"error": str(exc)}
            continue
        results[name] = {"install_s": round(time.perf_counter() - t0, 1)}
    if install_only:
        return {"peers": results}

    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in pythons}
    for _ in range(rounds):
        for name, python in pythons.items():
            args = (extra_args or {}).get(name, [])
            runs[name].append(run_peer(PEERS[name], python, args, workdir))
    for name, peer_runs in runs.items():
        merged = median_of_runs(peer_runs)
        errors = [r["error"] for r in peer_runs if "error" in r]
        if errors and "error" not in merged:
            merged["round_errors"] = errors
        results[name] = {**merged, "requirements": list(PEERS[name].requirements)}
    return {"peers": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the peers' workloads (MLflow, DVC)")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated peer names")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each workload")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="temp data parent")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--install-only", action="store_true", help="create the venvs only")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.peers.split(",") if n.strip()]
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        parser.error(f"unknown peer(s): {', '.join(unknown)}; known: {', '.join(PEERS)}")
    extra = {name: ["--quick"] for name in names} if args.quick else None
    print_json(run_peers(names, args.rounds, extra, args.workdir, args.install_only))
    with contextlib.suppress(OSError):
        args.workdir.rmdir()  # only if empty
    return 0


if __name__ == "__main__":
    sys.exit(main())
