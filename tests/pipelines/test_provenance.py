"""Code version of a run: git commit and dirty flag in a checkout, a source hash outside."""

from __future__ import annotations

import contextvars
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, pipeline, step
from archivist.pipelines.provenance import describe, function_hash, git_state

SCRIPT = '''
import sys
from archivist import ArtifactCatalog, pipeline, step

@step
def make():
    return {"answer": 42}

with ArtifactCatalog(sys.argv[1]) as catalog, pipeline("scripted", catalog=catalog):
    make()
'''

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c",
                           "user.email=t@example.com", *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@needs_git
def test_a_run_in_a_checkout_records_commit_and_dirty_flag(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    script = repo / "job.py"
    script.write_text(SCRIPT)
    _git(repo, "add", "job.py")
    _git(repo, "commit", "-q", "-m", "job")
    commit = _git(repo, "rev-parse", "HEAD")
    home = tmp_path / "home"
    subprocess.run([sys.executable, str(script), str(home)], check=True, cwd=tmp_path)
    script.write_text(SCRIPT + "\n# edited\n")
    subprocess.run([sys.executable, str(script), str(home)], check=True, cwd=tmp_path)
    with ArtifactCatalog(home) as catalog:
        clean, dirty = catalog.get_run("scripted/1"), catalog.get_run("scripted/2")
        assert (clean.code_version, clean.code_dirty) == (commit, False)
        assert (dirty.code_version, dirty.code_dirty) == (commit, True)
        assert clean.source_hash != dirty.source_hash  # the file's own hash changed
        assert catalog.get("make:1").code_version == commit


def test_outside_a_checkout_the_source_hash_stands_in(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    assert git_state(tmp_path) == (None, None)
    found = describe(script)
    assert found.code_version is None and found.code_dirty is None
    assert found.source_hash is not None and found.source_hash.startswith("sha256:")
    assert found.user and found.host
    home = tmp_path / "home"
    subprocess.run([sys.executable, str(script), str(home)], check=True, cwd=tmp_path,
                   env={"GIT_CEILING_DIRECTORIES": str(tmp_path), "PATH": "/usr/bin:/bin",
                        "HOME": str(tmp_path)})
    with ArtifactCatalog(home) as catalog:
        run = catalog.get_run("scripted/1")
        assert run.code_version is None and run.source_hash == found.source_hash
        assert catalog.get("make").code_version == found.source_hash


@needs_git
def test_a_checkout_before_its_first_commit_has_no_code_version(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "job.py").write_text(SCRIPT)
    _git(repo, "add", "job.py")  # staged, never committed
    assert git_state(repo) == (None, None)
    _git(repo, "commit", "-q", "-m", "job")
    assert git_state(repo) == (_git(repo, "rev-parse", "HEAD"), False)
    (repo / "job.py").write_text(SCRIPT + "\n# edited\n")
    assert git_state(repo)[1] is True
    (repo / "new.py").write_text("x = 1\n")  # untracked files do not make it dirty
    _git(repo, "checkout", "-q", "--", "job.py")
    assert git_state(repo)[1] is False


def test_function_hash_follows_the_source() -> None:
    def one() -> int:
        return 1

    def two() -> int:
        return 2

    assert function_hash(one) != function_hash(two)
    assert function_hash(one) == function_hash(one)
    assert function_hash(step(one)) == function_hash(one), "the wrapper is looked through"
    generated: dict[str, object] = {}
    exec("def made():\n    return 3\n", generated)  # no source file to read
    assert function_hash(generated["made"]).startswith("sha256:")  # type: ignore[arg-type]


def test_concurrent_runs_in_threads_stay_apart(local_catalog: ArtifactCatalog) -> None:
    @step
    def work(i: int) -> list[int]:
        return [i] * 3

    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            with pipeline(f"thread{i}", catalog=local_catalog):
                work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(run, i))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    for i in range(4):
        record = local_catalog.get_run(f"thread{i}/1")
        (task,) = record.tasks
        assert local_catalog.load(task.data["work"]) == [i] * 3
        assert local_catalog.get(task.data["work"]).source_run_id == record.id


def test_one_decorated_pipeline_called_from_threads(local_catalog: ArtifactCatalog) -> None:
    @step
    def square(i: int) -> int:
        return i * i

    @pipeline(catalog=local_catalog)
    def job(i: int) -> int:
        return square(i)

    results: dict[int, int] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, job(i)))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {0: 0, 1: 1, 2: 4, 3: 9}
    runs = local_catalog.runs(pipeline="job")
    assert sorted(r.number for r in runs) == [1, 2, 3, 4]
    for r in runs:
        assert r.status == "succeeded"
        (task,) = r.tasks
        assert local_catalog.load(task.data["square"]) == r.parameters["i"] ** 2
