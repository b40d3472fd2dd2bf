"""DVC ``add`` workload (peer side of R5, R6 and R7).

Runs in DVC's own venv (benchmarks/.peers/dvc), driven by benchmarks/peers.py, through the
``dvc`` CLI as a user would (process start included, ~0.1-0.2 s). Every repetition uses a fresh
``git init`` + ``dvc init --no-scm`` repo in a temp dir (default cache in .dvc/cache on the same
filesystem: reflink, else copy; MD5), fresh random data written just before, and is deleted
right after its timing; ``os.sync()`` runs (untimed) before each timed ``dvc add`` so that no
writeback of earlier data overlaps it. Repetitions are interleaved (tree, 256 MiB, 512 MiB,
tree, ...).
Measures:

* ``dvc add`` of a folder of ``--files`` x ``--file-kib`` KiB files (default 10,000 x 4 KiB),
  then ``dvc add`` again after changing one file;
* ``dvc add`` of one ``--big-mib`` file (default 256 MiB) and a no-op re-add of it;
* the same for one ``--huge-mib`` file (default 512 MiB; 0 to skip), fewer repetitions.

Prints one JSON object on stdout.

    python benchmarks/peer_workloads/dvc_add.py [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import MIB, make_file, make_tree, mb_per_s, print_json, settle, summarize


def _dvc_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "dvc"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dvc"]


class Repo:
    """A fresh DVC repo in ``path`` (``git init`` when git is there, ``dvc init --no-scm``)."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env
        self.dvc = _dvc_cmd()
        path.mkdir(parents=True)
        if shutil.which("git"):
            self._run(["git", "init", "-q"])
        self._run([*self.dvc, "init", "--no-scm", "-q"])
        self._run([*self.dvc, "config", "core.analytics", "false"])
        self._run([*self.dvc, "config", "core.check_update", "false"])

    def _run(self, cmd: list[str]) -> None:
        subprocess.run(
            cmd, cwd=self.path, env=self.env, check=True, capture_output=True, timeout=600
        )

    def add(self, target: str) -> float:
        """Wall seconds of ``dvc add target`` (CLI start included), after an untimed sync."""
        settle()
        t0 = time.perf_counter()
        self._run([*self.dvc, "add", "-q", target])
        return time.perf_counter() - t0


def tree_rep(base: Path, env: dict[str, str], n_files: int, size: int) -> dict[str, float]:
    repo = Repo(base, env)
    make_tree(base / "data", n_files, size)
    first = repo.add("data")
    with open(base / "data" / f"f{n_files // 2:06d}.bin", "r+b") as f:
        f.write(os.urandom(16))
    changed = repo.add("data")
    shutil.rmtree(base)
    return {"add_s": first, "readd_one_changed_s": changed}


def file_rep(base: Path, env: dict[str, str], size: int) -> dict[str, float]:
    repo = Repo(base, env)
    make_file(base / "big.bin", size)
    first = repo.add("big.bin")
    noop = repo.add("big.bin")
    shutil.rmtree(base)
    return {"add_s": first, "readd_noop_s": noop}


def _file_summary(size: int, reps: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "size_mib": size // MIB,
        "add_mb_per_s": summarize((mb_per_s(size, r["add_s"]) for r in reps), digits=1),
        "add_s": summarize(r["add_s"] for r in reps),
        "readd_noop_s": summarize(r["readd_noop_s"] for r in reps),
    }


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["DVC_NO_ANALYTICS"] = "1"
    env["DVC_SITE_CACHE_DIR"] = str(workdir / "site-cache")
    env.setdefault("GIT_AUTHOR_NAME", "bench")
    env.setdefault("GIT_AUTHOR_EMAIL", "bench@example.invalid")

    version = subprocess.run(
        [*_dvc_cmd(), "--version"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    t0 = time.perf_counter()
    subprocess.run([*_dvc_cmd(), "--version"], env=env, capture_output=True, check=True)
    cli_start_s = time.perf_counter() - t0

    tree: list[dict[str, float]] = []
    big: list[dict[str, float]] = []
    huge: list[dict[str, float]] = []
    size_small = args.file_kib * 1024
    deadline = time.perf_counter() + args.budget_s
    for i in range(args.repeats):
        tree.append(tree_rep(workdir / f"tree-{i}", env, args.files, size_small))
        if args.big_mib:
            big.append(file_rep(workdir / f"big-{i}", env, args.big_mib * MIB))
        if args.huge_mib and i < args.huge_repeats:
            huge.append(file_rep(workdir / f"huge-{i}", env, args.huge_mib * MIB))
        if time.perf_counter() > deadline:
            break

    result: dict[str, Any] = {
        "peer": "dvc",
        "versions": {
            "dvc": version,
            "dvc-data": _dist_version("dvc-data"),
            "python": sys.version.split()[0],
        },
        "setup": "git init + dvc init --no-scm, default cache (.dvc/cache), fresh repo per rep",
        "cli_start_s": round(cli_start_s, 3),
        "tree": {
            "files": args.files,
            "file_bytes": size_small,
            "add_s": summarize(r["add_s"] for r in tree),
            "files_per_s": summarize((args.files / r["add_s"] for r in tree), digits=1),
            "readd_one_changed_s": summarize(r["readd_one_changed_s"] for r in tree),
        },
        "repeats_done": len(tree),
    }
    if big:
        result["file_big"] = _file_summary(args.big_mib * MIB, big)
    if huge:
        result["file_huge"] = _file_summary(args.huge_mib * MIB, huge)
    return result


def _dist_version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="DVC add peer workload")
    parser.add_argument("--files", type=int, default=10_000, help="files in the folder")
    parser.add_argument("--file-kib", type=int, default=4, help="size of each file (KiB)")
    parser.add_argument("--big-mib", type=int, default=256, help="single file size (MiB)")
    parser.add_argument("--huge-mib", type=int, default=512, help="larger file (MiB), 0: skip")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions (interleaved)")
    parser.add_argument("--huge-repeats", type=int, default=3, help="repetitions of --huge-mib")
    parser.add_argument("--budget-s", type=float, default=100.0, help="no new rep after this")
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.big_mib, args.huge_mib, args.repeats = 500, 16, 0, 2
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="peer-dvc-", dir=args.workdir) as tmp:
        result = run(args, Path(tmp).resolve())
    result["wall_s"] = round(time.time() - started, 2)
    print_json(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
