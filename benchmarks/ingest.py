"""The byte workloads of ``make bench`` alone: one large file and a folder, with their
same-run references, in a few minutes.

    python benchmarks/ingest.py [--rounds 3] [--file-mib 512] [--tree-files 10000]
                                [--skip-peers] [--out FILE]

Each round runs, as ``benchmarks/run.py`` does: the file ingest interleaved with the
machine floors on the same file (SHA-256, read/write copy + fsync, kernel copy + fsync,
hash-copy-fsync-rename; archivist first in every other round), the folder ingest and its
one-file-changed re-registration, then DVC's ``dvc add`` of the same workloads. Prints one
JSON document on stdout: per-round figures, medians, and the load average at each round.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import peers
from common import MIB, make_file, median_of_runs, ratio
from run import WORKDIR, file_rep, log, tree_rep


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--file-mib", type=int, default=512)
    parser.add_argument("--tree-files", type=int, default=10_000)
    parser.add_argument("--skip-peers", action="store_true", help="do not run DVC")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)

    started = time.time()
    WORKDIR.mkdir(parents=True, exist_ok=True)
    rundir = Path(tempfile.mkdtemp(prefix="run-ingest-", dir=WORKDIR))
    dvc_python = None if args.skip_peers else peers.ensure_peer(peers.PEERS["dvc"])
    dvc_args = ["--repeats", "1", "--huge-repeats", "1", "--big-mib", "0",
                "--huge-mib", str(args.file_mib), "--files", str(args.tree_files)]
    files: list[dict[str, Any]] = []
    trees: list[dict[str, Any]] = []
    dvc: list[dict[str, Any]] = []
    loads = {"start": _load()}
    try:
        src = make_file(rundir / "source.bin", args.file_mib * MIB)
        copy = rundir / "source-copy.bin"
        shutil.copyfile(src, copy)
        blobs_dir = rundir / "floor-blobs"
        blobs_dir.mkdir()
        for r in range(args.rounds):
            loads[f"round{r + 1}"] = _load()
            log(f"round {r + 1}/{args.rounds}: file, folder")
            files.append(file_rep(src, copy, blobs_dir, rundir, r))
            trees.append(tree_rep(rundir, args.tree_files))
            if dvc_python is not None:
                log(f"round {r + 1}: dvc")
                dvc.append(peers.run_peer(peers.PEERS["dvc"], dvc_python, dvc_args, WORKDIR))
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
    loads["end"] = _load()
    file_med = median_of_runs(files)
    tree_med = median_of_runs(trees)
    dvc_med = median_of_runs(dvc) if dvc else {}
    dvc_add = (dvc_med.get("tree") or {}).get("add_s", {}).get("median")
    dvc_re = (dvc_med.get("tree") or {}).get("readd_one_changed_s", {}).get("median")
    result = {
        "command": "python benchmarks/ingest.py " + " ".join(argv or sys.argv[1:]),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "loadavg_1_5_15": loads,
        "file": {"median": file_med, "rounds": files},
        "tree": {"median": tree_med, "rounds": trees},
        "dvc": {"median": dvc_med, "rounds": dvc},
        "summary": {
            "file_mb_per_s": file_med.get("archivist_mb_per_s"),
            "file_floor_mb_per_s": file_med.get("floor_mb_per_s"),
            "file_ratio_to_floor": file_med.get("ratio_to_floor"),
            "file_ratio_per_round": [x["ratio_to_floor"] for x in files],
            "tree_s": tree_med.get("seconds"),
            "tree_one_changed_s": tree_med.get("reregister_one_changed_s"),
            "dvc_tree_s": dvc_add,
            "dvc_tree_one_changed_s": dvc_re,
            "tree_vs_dvc": ratio(dvc_add, tree_med.get("seconds")),
            "one_changed_vs_dvc": ratio(dvc_re, tree_med.get("reregister_one_changed_s")),
        },
        "wall_s": round(time.time() - started, 1),
    }
    text = json.dumps(result, indent=2, default=str)
    print(text, flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    log("summary: " + json.dumps(result["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
