"""The real program in a child process: entry point, streams, exit status, argv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from archivist import ArtifactCatalog

SRC = Path(__file__).resolve().parents[2] / "src"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    env = dict(os.environ)
    env["ARCHIVIST_HOME"] = str(tmp_path / "home")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("ARCHIVIST_DEBUG", None)
    env["COLUMNS"] = "160"

    def run(*args: str, extra_env: dict[str, str] | None = None,
            check: int | None = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "archivist.cli", *args], cwd=tmp_path,
                              env={**env, **(extra_env or {})}, capture_output=True,
                              text=True, timeout=120)
        assert "Traceback" not in proc.stderr, proc.stderr
        if check is not None:
            assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
        return proc

    return run


def test_round_trip(run: Run, tmp_path: Path) -> None:
    assert str(tmp_path / "home") in run("init").stdout
    source = tmp_path / "weights.bin"
    source.write_bytes(b"\x00\x01weights")
    added = json.loads(run("add", str(source), "--name", "fraud", "--type", "Model",
                           "--tag", "stage=production", "--json").stdout)
    assert added["version"] == 1 and added["tags"] == {"stage": "production"}
    listed = json.loads(run("ls", "--json").stdout)
    assert [a["id"] for a in listed] == [added["id"]]
    assert json.loads(run("search", "stage:production", "--json").stdout)[0]["name"] == "fraud"
    assert "fraud" in run("ls").stdout
    dest = tmp_path / "copy.bin"
    run("get", "fraud", "-o", str(dest))
    assert dest.read_bytes() == b"\x00\x01weights"
    assert json.loads(run("verify", "--json").stdout)["ok"] is True


def test_duplicate_note_goes_to_stderr(run: Run, tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_text("same")
    run("add", str(source), "--name", "a")
    proc = run("add", str(source), "--name", "b", "--json")
    assert json.loads(proc.stdout)["name"] == "b"
    assert proc.stderr.startswith("note: ")


def test_refusal_is_one_line_and_status_1(run: Run) -> None:
    run("init")
    proc = run("show", "../etc/passwd", check=1)
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: invalid name")
    proc = run("show", "--", "-rf", check=1)
    assert proc.stderr.startswith("error: ")
    proc = run("add", "missing.bin", "--name", "x", check=1)
    assert proc.stderr.startswith("error: ")


def test_usage_error_is_status_2(run: Run) -> None:
    run("init")
    assert "No such command" in run("frobnicate", check=2).stderr
    run("show", "-rf", check=2)
    run("ls", "--limit", "lots", check=2)


def test_help_and_version(run: Run) -> None:
    assert "Usage" in run("--help").stdout
    assert "Usage" in run("add", "--help").stdout
    assert run("--version").stdout.startswith("archivist ")


def test_missing_catalog(run: Run, tmp_path: Path) -> None:
    proc = run("ls", check=1)
    assert "archivist init" in proc.stderr
    assert not (tmp_path / "home").exists()


def test_home_option_overrides_the_environment(run: Run, tmp_path: Path) -> None:
    other = tmp_path / "other"
    run("--home", str(other), "init")
    assert (other / "catalog.db").is_file()
    assert not (tmp_path / "home").exists()


def test_closed_stdout_pipe_is_quiet(run: Run, tmp_path: Path) -> None:
    with ArtifactCatalog(tmp_path / "home") as catalog, catalog.batch():
        for i in range(200):  # ~200 kB of JSON: more than a pipe buffer holds
            catalog.register(f"f{i}", data=f"content {i}", metadata={"i": i})
    env = {**os.environ, "ARCHIVIST_HOME": str(tmp_path / "home"), "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, "-c", "import subprocess, sys\n"
         "p = subprocess.Popen([sys.executable, '-m', 'archivist.cli', 'ls', '--json', "
         "'--limit', '200'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
         "p.stdout.read(10); p.stdout.close()\n"
         "err = p.stderr.read(); sys.stderr.buffer.write(err); sys.exit(p.wait())"],
        env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr


def test_console_script(tmp_path: Path) -> None:
    """The ``archivist`` entry point that ``pip install -e .`` puts next to python."""
    script = Path(sys.executable).parent / "archivist"
    assert script.is_file(), "the console script is missing: run `pip install -e .`"
    env = {**os.environ, "ARCHIVIST_HOME": str(tmp_path / "home")}
    init = subprocess.run([str(script), "init"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert init.returncode == 0, init.stderr
    missing = subprocess.run([str(script), "show", "nope"], env=env, capture_output=True,
                             text=True, timeout=120)
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no artifact named 'nope'")
    assert "Traceback" not in missing.stderr
