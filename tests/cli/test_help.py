"""``--help`` reads as conventional Click help, with examples and the online docs
(issue 12, item 12)."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from archivist.cli import app, helptext

ROOT = Path(__file__).resolve().parents[2]
MAIN = ["add", "ls", "search", "show", "get", "diff", "lineage", "tag", "alias", "rm",
        "push", "export", "import", "server", "runs ls", "runs show", "verify", "gc",
        "flow run", "keys create"]


def root() -> typer.core.TyperGroup:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return group


def every_command() -> list[str]:
    """Every command and group, as ``"runs ls"`` paths (``""`` for archivist itself)."""
    found = [""]
    for name, command in root().commands.items():
        found.append(name)
        found += [f"{name} {sub}" for sub in getattr(command, "commands", {})]
    return found


def help_of(path: str) -> str:
    result = CliRunner().invoke(app, [*path.split(), "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("path", every_command())
def test_help_is_conventional(path: str) -> None:
    out = help_of(path)
    assert out.startswith(f"Usage: archivist {path}".replace("  ", " "))
    assert not re.search(r"<(bool|str|int|float|path)\b|<[a-z|]+>", out), out
    assert not re.search(r"\{[A-Z]", out), out  # arguments are PATH, not {PATH}
    assert helptext.DOCS_URL in out


@pytest.mark.parametrize("path", MAIN)
def test_main_commands_show_examples(path: str) -> None:
    out = help_of(path)
    if path != "server":  # its --blobs help names the literal {{project}}
        assert "{" not in out
    assert "\nExamples:\n  archivist " in out
    assert f"{helptext.DOCS_URL}/cli.md#archivist-{path.split()[0]}" in out


def test_flags_and_options_read_as_click_writes_them() -> None:
    out = help_of("add")
    usage = out.splitlines()[0]
    assert usage == "Usage: archivist add [OPTIONS] PATH"
    assert re.search(r"^  --json\s+Print JSON", out, re.M)
    assert re.search(r"^  --name NAME\s", out, re.M)
    assert re.search(r"^  PATH\s+File or directory", out, re.M)
    assert "Usage: archivist push [OPTIONS] [QUERY]" in help_of("push")
    assert "Usage: archivist tag [OPTIONS] REF [K=V]..." in help_of("tag")
    assert "--direction [up|down|both]" in help_of("lineage")


def test_help_does_not_point_at_a_repository_path() -> None:
    for path in every_command():
        text = re.sub(r"https://\S+", "", help_of(path))
        assert "docs/" not in text, (path, text)


@pytest.mark.parametrize("path", sorted(p for p in helptext.EXAMPLES if p))
def test_examples_use_options_the_command_has(path: str) -> None:
    command = root()
    for word in path.split():
        command = command.commands[word]  # type: ignore[attr-defined]
    names = {o for p in [*command.params, *root().params] for o in getattr(p, "opts", [])}
    for example in helptext.EXAMPLES[path]:
        words = shlex.split(example.split(" > ")[0])
        assert words[:1 + len(path.split())] == ["archivist", *path.split()] or (
            "--project" in words or "--home" in words), example
        for word in words:
            if word.startswith("-") and not word.startswith("---"):
                assert word in names, f"{example}: {word} is not an option of {path}"


def test_the_docs_link_is_the_projects_documentation_url() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["urls"]["Documentation"] == helptext.DOCS_URL
    assert helptext.DOCS_URL.startswith(project["urls"]["Repository"])
    assert (ROOT / "docs" / "cli.md").is_file()
