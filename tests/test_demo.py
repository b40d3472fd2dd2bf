"""`make demo` runs end to end (examples/demo.py) in a fresh folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


def test_demo_runs_and_answers_the_questions(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(DEMO)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "in production: fraud_detector_v2:2" in out
    assert "↑ raw_transactions:1 (Dataset)" in out
    assert "graph LR" in out and "verify: ok=True" in out
