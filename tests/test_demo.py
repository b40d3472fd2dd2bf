"""`make demo` runs end to end (examples/demo.py) in a fresh folder, twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


def test_demo_runs_and_answers_the_questions(tmp_path: Path) -> None:
    for _ in range(2):  # it starts from a fresh catalog each time
        result = subprocess.run([sys.executable, str(DEMO)], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "pipeline run fraud_detection/1: succeeded, 4 versions" in out
    assert "in production: fraud_detector:2 (accuracy 0.93)" in out
    assert "↑ raw_transactions:1 (Dataset)" in out and "verify: ok=True" in out
    # the shell part: the run listed, the alias shown, then what to try next
    assert "$ archivist runs ls" in out and "fraud_detection/1" in out.split("$ archivist")[1]
    assert "@production" in out.split("$ archivist search")[1]
    assert out.rstrip().splitlines()[-4] == "what next:"
    assert (tmp_path / ".archivist-demo" / "catalog.db").is_file()


def test_make_demo_installs_only_what_the_demo_needs() -> None:
    """The demo's .venv has the package, pandas and the server (for `make serve`), not the
    test tools; `make test` adds those to the same .venv."""
    makefile = (DEMO.parents[1] / "Makefile").read_text()
    demo_sync = next(line for line in makefile.splitlines()
                     if "sync" in line and "--inexact" in line)
    assert "--extra pandas --extra server" in demo_sync and "dev" not in demo_sync
    assert "demo: $(DEMO_STAMP)" in makefile and "serve: $(DEMO_STAMP)" in makefile
