"""Every benchmark script still starts: ``make bench`` and ``make soak`` are not run in CI,
so an import they lost (a renamed test fixture, say) would otherwise surface only when
someone measures. ``--help`` imports the whole script and parses its options.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if "argparse" in p.read_text())


def test_there_are_scripts() -> None:
    assert {"run.py", "server.py", "soak.py"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_starts(script: Path) -> None:
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                          text=True, timeout=120, cwd=BENCHMARKS.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
