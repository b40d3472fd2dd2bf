"""The README's "Team mode" recipe, run as written: PostgreSQL, S3, the server with its
workers, the laptop's environment, and the push (tests/test_docs.py runs the README's
Python; this runs the shell recipe that follows it).

Each line runs in ``bash`` exactly as the README prints it, with only what names a
machine replaced: the database and bucket URLs by this session's PostgreSQL database and
S3 bucket, the server's address by a loopback port the system picks, the endpoint by
that server's URL, and ``ak_...`` by the key ``keys create`` printed. The ``pip install``
line is checked, not run: this environment has those extras already. The laptop's
catalog is the README's quick start, run in a folder of its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from archivist import ArtifactCatalog
from archivist.backends.remote.backend import RemoteCatalogBackend

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BIN = Path(sys.executable).parent  # where this environment's `archivist` is
_LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


def readme_block(heading: str, language: str) -> str:
    """The first ```language block after ``heading`` in the README."""
    text = README.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"no {language} block after {heading!r} in the README"
    return match.group(1)


def commands(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def substitute(line: str, replacements: Mapping[str, str]) -> str:
    for written, here in replacements.items():
        line = line.replace(written, here)
    return line


def bash(line: str, env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["bash", "-c", line], env=dict(env), cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, (line, done.returncode, done.stdout, done.stderr)
    return done


@contextlib.contextmanager
def background(line: str, env: Mapping[str, str], cwd: Path, log: Path) -> Iterator[str]:
    """Run the server line in the background; yield its URL once it answers /health."""
    with log.open("wb") as sink:
        process = subprocess.Popen(["bash", "-c", f"exec {line}"], env=dict(env), cwd=cwd,
                                   stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        url = None
        while url is None or not _healthy(url):
            assert process.poll() is None, f"the server exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no server:\n{log.read_text()[-3000:]}"
            found = _LISTENING.search(log.read_text(errors="replace"))
            url = found.group(1) if found else None
            time.sleep(0.1)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the server and its workers
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_team_mode_recipe_runs_as_written(tmp_path: Path, postgres_url: str,
                                              s3_blobs_url: str) -> None:
    install, keys_line, server_line, export_line, push_line = commands(
        readme_block("### Team mode", "bash"))
    extras = re.fullmatch(r"pip install -e '\.\[(.*)\]'", install)
    assert extras, install
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert set(extras.group(1).split(",")) <= set(declared)

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    quick_start = readme_block("## Quick start", "python")
    done = subprocess.run([sys.executable, "-c", quick_start], env=env, cwd=laptop,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    with ArtifactCatalog(laptop / ".archivist") as catalog:
        laptop_ids = sorted(a.id for a in catalog.list())
    assert laptop_ids

    bucket = s3_blobs_url.split("/")[2]
    where = {"postgresql://db/archivist": postgres_url.replace("+psycopg", ""),
             "s3://bucket/archivist": f"s3://{bucket}/archivist",
             "--host 0.0.0.0 --port 8765": "--host 127.0.0.1 --port 0"}
    for written in where:
        assert written in keys_line + server_line, written
    server_room = tmp_path / "server"
    server_room.mkdir()
    made = bash(substitute(keys_line, where), env, server_room)
    key = re.search(r"\bak_\S+", made.stdout)
    assert key, made.stdout

    with background(substitute(server_line, where), env, server_room,
                    tmp_path / "server.log") as url:
        laptop_env = {**where, "http://catalog:8765": url, "ak_...": key.group(0)}
        assert "http://catalog:8765" in export_line and "ak_..." in export_line
        recipe = f"{substitute(export_line, laptop_env)}\n{push_line}"
        first = bash(recipe, env, laptop)
        assert f"pushed {len(laptop_ids)} version(s) (0 already there" in first.stdout
        again = bash(recipe, env, laptop)
        assert f"pushed 0 version(s) ({len(laptop_ids)} already there" in again.stdout

        backend = RemoteCatalogBackend(url, key.group(0))
        with ArtifactCatalog(backend, project="fraud") as team:
            assert sorted(a.id for a in team.list()) == laptop_ids
            assert team.load("fraud_detector") == b"model bytes"
