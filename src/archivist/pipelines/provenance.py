"""Where a run's code came from: git commit and dirty flag, source hashes, user and host.

``git`` is asked once per run, in one process (``status --porcelain=v2 --branch``: the
commit and the changed tracked files), with a short timeout; without git, outside a
checkout, or before its first commit, the code version is ``None`` and the source hash
stands in for it.
"""

from __future__ import annotations

import getpass
import hashlib
import inspect
import os
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Provenance:
    """Who ran what: recorded on the run (and the code version on every version)."""

    user: str | None
    host: str | None
    code_version: str | None  # the git commit, when the code is in a checkout
    code_dirty: bool | None  # uncommitted changes in that checkout
    source_hash: str | None  # sha256 of the pipeline's source


def describe(source: Callable[..., Any] | str | os.PathLike[str] | None,
             user: str | None = None) -> Provenance:
    """Provenance of code defined by a function or living in a file (``None``: the
    current directory, no source hash)."""
    path: Path | None = None
    digest: str | None = None
    if callable(source):
        digest = function_hash(source)
        file = inspect.getsourcefile(source) if _has_source_file(source) else None
        path = Path(file).parent if file else None
    elif source is not None:
        path = Path(source)
        digest = _file_hash(path)
        path = path.parent if path.is_file() else path
    commit, dirty = git_state(path or Path.cwd())
    return Provenance(user=user or _login(), host=_host(), code_version=commit,
                      code_dirty=dirty, source_hash=digest)


def function_hash(fn: Callable[..., Any]) -> str:
    """``sha256:`` of a function's source text (its module and qualified name included);
    falls back to its bytecode and constants when the source cannot be read."""
    target = inspect.unwrap(fn)
    name = f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', '')}"
    try:
        text = inspect.getsource(target)
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        text = repr((code.co_code, code.co_consts)) if code is not None else repr(target)
    return "sha256:" + hashlib.sha256(f"{name}\n{text}".encode()).hexdigest()


_GIT_CACHE: dict[Path, tuple[str | None, bool | None]] = {}


def git_state(directory: Path, *, refresh: bool = True) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git checkout containing ``directory``, or
    ``(None, None)`` outside one (or without git). ``refresh=False`` reuses the answer
    of an earlier call for the same directory in this process."""
    key = directory.resolve() if directory.exists() else directory
    if not refresh and key in _GIT_CACHE:
        return _GIT_CACHE[key]
    # One git process answers both (the commit is the ``# branch.oid`` header; any other
    # line is a changed tracked file); GIT_OPTIONAL_LOCKS=0 keeps status from rewriting
    # the index, so it neither waits for nor blocks the user's own git commands.
    out = _finish_git(_start_git(key, "status", "--porcelain=v2", "--branch",
                                 "--untracked-files=no"))
    state = _parse_status(out)
    _GIT_CACHE[key] = state
    return state


def _parse_status(out: str | None) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` from ``git status --porcelain=v2 --branch`` output."""
    if out is None:
        return None, None
    commit: str | None = None
    dirty = False
    for line in out.splitlines():
        if line.startswith("# branch.oid "):
            oid = line[len("# branch.oid "):].strip()
            commit = None if oid == "(initial)" else oid
        elif line and not line.startswith("#"):
            dirty = True
    return (commit, dirty) if commit is not None else (None, None)


def _start_git(directory: Path, *args: str) -> subprocess.Popen[str] | None:
    if not directory.is_dir():
        return None
    try:
        return subprocess.Popen(["git", "-C", str(directory), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                text=True, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except OSError:
        return None


def _finish_git(proc: subprocess.Popen[str] | None) -> str | None:
    if proc is None:
        return None
    try:
        out, _ = proc.communicate(timeout=GIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    return out.strip() if proc.returncode == 0 else None


def _has_source_file(fn: Callable[..., Any]) -> bool:
    try:
        return inspect.getsourcefile(inspect.unwrap(fn)) is not None
    except TypeError:
        return False


def _file_hash(path: Path) -> str | None:
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _login() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _host() -> str | None:
    try:
        return socket.gethostname() or None
    except OSError:
        return None
