"""The README's shell quick start runs as written, after its Python quick start, pasted
twice into the same folder (the command lines are taken from the README itself)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _block_after(marker: str, language: str) -> str:
    start = README.index(marker)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(README, start)
    assert match, f"no {language} block after {marker!r}"
    return match.group(1)


def test_the_shell_quick_start_runs_twice(tmp_path: Path) -> None:
    python = _block_after("## Quick start", "python")
    shell = [line for line in _block_after("The same from the shell:", "bash").splitlines()
             if line.strip()]
    env = {**os.environ, "ARCHIVIST_HOME": str(tmp_path / ".archivist"), "COLUMNS": "100",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("ARCHIVIST_CATALOG_ENDPOINT", None)
    (tmp_path / "model.joblib").write_bytes(b"the model a training job wrote")
    for paste in ("first", "second"):
        done = subprocess.run([sys.executable, "-W", "ignore::UserWarning", "-c", python],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        for line in shell:
            done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, f"{paste} paste: {line}\n{done.stdout}{done.stderr}"
            if "search" in line and "--json" in line:
                found = json.loads(done.stdout)
                refs = {f"{a['name']}:{a['version']}" for a in found}
                assert refs and all(r.startswith("fraud_detector:") for r in refs), refs
                assert all("production" in a["aliases"] for a in found)
            if "lineage" in line:
                assert "raw_transactions:1" in done.stdout
            if line.startswith("archivist verify"):
                assert "ok" in done.stdout.lower()

