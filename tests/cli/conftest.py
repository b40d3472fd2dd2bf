"""Fixtures of the CLI tests: a fresh catalog home per test and a runner bound to it.

``cli("ls", "--json")`` runs ``archivist --home <tmp home> ls --json`` in-process with
Typer's ``CliRunner``; ``cli.ok`` asserts exit status 0, ``cli.json`` also parses stdout,
and ``cli.fails`` asserts the error contract (status 1, exactly one ``error:`` line on
stderr, no traceback).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from archivist import ArtifactCatalog
from archivist.cli import app
from tests.helpers import Snapshot, snapshot


@dataclass
class Cli:
    """``archivist --home HOME …`` in-process."""

    home: Path
    runner: CliRunner = field(default_factory=CliRunner)

    def __call__(self, *args: str, env: Mapping[str, str | None] | None = None) -> Result:
        return self.runner.invoke(app, ["--home", str(self.home), *args], env=env)

    def ok(self, *args: str, **kw: Any) -> Result:
        result = self(*args, **kw)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr,
                                       result.exception)
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kw).stdout)

    def fails(self, *args: str, contains: str = "", **kw: Any) -> str:
        """Run a command that must be refused; return its one stderr line."""
        result = self(*args, **kw)
        return assert_refused(result, contains)

    def usage_error(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
        assert "Traceback" not in result.output
        return result

    def snapshot(self) -> Snapshot:
        with ArtifactCatalog(self.home) as catalog:
            return snapshot(catalog)


def assert_refused(result: Result, contains: str = "") -> str:
    """Exit status 1, one ``error:`` line on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr,
                                   result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert contains in lines[0], lines
    return lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def bare_cli(home: Path) -> Cli:
    """A runner whose home has no catalog yet."""
    return Cli(home)


@pytest.fixture
def cli(bare_cli: Cli) -> Cli:
    """A runner on a freshly initialized, empty catalog."""
    bare_cli.ok("init")
    return bare_cli


@pytest.fixture
def make_file(tmp_path: Path) -> Callable[..., Path]:
    """``make_file("a.txt", b"bytes")`` under a sources folder outside the home."""
    def make(name: str, content: bytes | str = b"hello\n") -> Path:
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path
    return make


@pytest.fixture
def added(cli: Cli, make_file: Callable[..., Path]) -> Callable[..., dict[str, Any]]:
    """``added("name", b"content", "--tag", "k=v")``: register through the CLI, return JSON."""
    def add(name: str, content: bytes | str | None = None, *args: str) -> dict[str, Any]:
        data = content if content is not None else f"content of {name}\n"
        path = make_file(f"{name}.bin", data)
        record: dict[str, Any] = cli.json("add", str(path), "--name", name, *args)
        return record
    return add
