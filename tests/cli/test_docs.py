"""Every command is documented in docs/cli.md and has help (STYLE P29, after sqlite-utils'
``tests/test_docs.py``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from archivist.cli import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def root() -> typer.core.TyperGroup:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return group


def command_names() -> list[str]:
    return list(root().commands)


def section(name: str) -> str:
    """The text of ``## archivist NAME`` up to the next ``## `` heading."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"^## `archivist {re.escape(name)}`\n(.*?)(?=^## |\Z)", text,
                      flags=re.M | re.S)
    assert match, f"docs/cli.md has no '## `archivist {name}`' section"
    return match.group(1)


def long_flags(command: typer.core.TyperCommand | typer.core.TyperGroup) -> list[str]:
    flags = []
    for param in command.params:
        flags += [o for o in getattr(param, "opts", []) if o.startswith("--")]
    return [f for f in flags if f != "--help"]


def test_the_expected_commands_exist() -> None:
    assert sorted(command_names()) == sorted([
        "init", "add", "ls", "show", "search", "tag", "alias", "describe", "meta", "rename",
        "lineage", "get", "diff", "rm", "verify", "gc", "export", "import", "push", "flow",
        "runs", "server", "keys"])


@pytest.mark.parametrize("name", command_names())
def test_command_is_documented(name: str) -> None:
    text = section(name)
    command = root().commands[name]
    for flag in long_flags(command):  # type: ignore[arg-type]
        assert f"`{flag}" in text, f"docs/cli.md does not describe {flag} of {name}"


@pytest.mark.parametrize("name", command_names())
def test_command_has_help(name: str) -> None:
    command = root().commands[name]
    assert command.help and len(command.help.strip()) > 20
    for param in command.params:
        if getattr(param, "opts", None) != ["--help"]:
            assert getattr(param, "help", None), f"{name}: {param.name} has no help"


def test_global_options_are_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for flag in long_flags(root()):
        assert f"`{flag}" in text, f"docs/cli.md does not describe the global {flag}"


def test_every_documented_command_exists() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = re.findall(r"^## `archivist (\w+)`", text, flags=re.M)
    assert sorted(documented) == sorted(command_names())


#: Options the docs name that belong to other programs (the program, for the reader).
ELSEWHERE = {
    "--clean": "pg_restore", "--dbname": "pg_restore", "--file": "pg_dump",
    "--factory": "uvicorn", "--extra": "uv", "--locked": "uv", "--upgrade": "uv",
    "--upgrade-package": "uv", "--porcelain": "git", "--branch": "git status",
    "--no-scm": "dvc init",
    "--help": "every command",
    "--x": "a query-language example (a word, not an option)",
    "--origin-run-id": "metaflow resume", "--resources": "dask worker", "--gil": "py-spy",
    # a flow's own parameters: `archivist flow run flow.py --NAME VALUE` takes any of them
    "--alpha": "a flow parameter", "--table": "a flow parameter", "--data": "a flow parameter",
    "--flag": "a flow parameter", "--no-flag": "a flow parameter",
}
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def all_long_flags(command: typer.core.TyperCommand | typer.core.TyperGroup) -> set[str]:
    found = set(long_flags(command))
    for sub in getattr(command, "commands", {}).values():
        found |= all_long_flags(sub)
    return found


def test_every_option_the_docs_name_exists() -> None:
    """An option named anywhere in the README or docs/ is one of archivist's commands
    (or of a benchmark script, or of the other program the page is running)."""
    ours = all_long_flags(root())
    scripts = "".join(p.read_text() for p in BENCHMARKS.glob("*.py"))
    pages = [DOCS.parents[1] / "README.md", *sorted(DOCS.parent.glob("*.md"))]
    unknown = []
    for page in pages:
        for flag in set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", page.read_text())):
            if flag in ours or flag in ELSEWHERE or f'"{flag}"' in scripts:
                continue
            unknown.append(f"{page.name}: {flag}")
    assert unknown == []
