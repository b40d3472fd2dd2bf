"""Exit status and error lines: 1 for what the catalog refuses, 2 for usage errors, and
one line (never a traceback) for everything, bugs included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archivist import ArtifactCatalog
from tests.cli.conftest import Cli, assert_refused

Added = Callable[..., dict[str, Any]]


@pytest.fixture
def fraud(added: Added) -> dict[str, Any]:
    return added("fraud_detector", b"model")


# -- not found ---------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("show", "nope"),
    ("show", "fraud_detector:7"),
    ("show", "fraud_detector@prod"),
    ("show", "0193f0c2-0000-7000-8000-000000000000"),
    ("get", "nope", "-o", "out.bin"),
    ("diff", "fraud_detector", "nope"),
    ("lineage", "nope"),
    ("tag", "nope", "a=1"),
    ("alias", "nope", "prod"),
    ("alias", "fraud_detector", "prod", "--remove"),
    ("rm", "nope"),
    ("add", "missing-file.txt", "--name", "x"),
    ("add", "PATH", "--name", "x", "--parent", "nope:1"),
], ids=lambda a: "-".join(a[:2]))
def test_not_found_exits_1_with_one_line(cli: Cli, fraud: dict[str, Any], args: tuple[str, ...],
                                         make_file: Callable[..., Path]) -> None:
    args = tuple(str(make_file("p.txt", b"p")) if a == "PATH" else a for a in args)
    before = cli.snapshot()
    cli.fails(*args)
    assert cli.snapshot() == before


def test_not_found_suggests_close_names(cli: Cli, fraud: dict[str, Any]) -> None:
    line = cli.fails("show", "fraud_detectr")
    assert "fraud_detectr" in line


def test_commands_refuse_a_home_without_a_catalog(bare_cli: Cli, home: Path) -> None:
    for args in (("ls",), ("show", "x"), ("search", "x"), ("verify",), ("gc",)):
        bare_cli.fails(*args, contains="archivist init")
    assert not home.exists()


# -- usage errors: exit status 2 ---------------------------------------------------------
@pytest.mark.parametrize("args", [
    (),
    ("no-such-command",),
    ("add", "x"),                                   # --name missing
    ("add", "x", "--name"),                         # --name without a value
    ("add", "x", "--name", "a", "--tag", "novalue"),
    ("add", "x", "--name", "a", "--tag", "k=1", "--tag", "k=2"),
    ("add", "x", "--name", "a", "--meta", "novalue"),
    ("add", "x", "--name", "a", "--partition", "novalue"),
    ("add", "x", "--name", "a", "--bogus"),
    ("ls", "--limit", "many"),
    ("ls", "extra-argument"),
    ("show",),
    ("show", "-rf"),
    ("get", "x"),                                   # -o missing
    ("diff", "x"),
    ("tag", "x"),                                   # nothing to set or remove
    ("tag", "x", "a=1", "--remove", "a"),
    ("alias", "x"),
    ("lineage", "x", "--direction", "sideways"),
    ("lineage", "x", "--format", "svg"),
    ("lineage", "x", "--depth", "deep"),
    ("gc", "--apply=yes"),
    ("--home",),
], ids=lambda a: "-".join(a) or "nothing")
def test_usage_errors_exit_2(cli: Cli, args: tuple[str, ...]) -> None:
    before = cli.snapshot()
    result = cli.usage_error(*args)
    assert result.stdout == "" or not args  # no args prints the help
    assert cli.snapshot() == before


def test_help_on_every_command(cli: Cli) -> None:
    from tests.cli.test_docs import command_names

    for name in command_names():
        result = cli.ok(name, "--help")
        assert "Usage:" in result.stdout


def test_version(cli: Cli) -> None:
    assert cli.ok("--version").stdout.startswith("archivist ")


# -- unexpected errors -------------------------------------------------------------------
def _explode(*_args: Any, **_kw: Any) -> Any:
    raise RuntimeError("simulated bug\nwith a second line")


def test_unexpected_error_is_one_line_with_a_hint(cli: Cli,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ArtifactCatalog, "list", _explode)
    result = cli("ls")
    line = assert_refused(result, "unexpected RuntimeError: simulated bug with a second line")
    assert line.endswith("(run with ARCHIVIST_DEBUG=1 for the traceback)")


def test_archivist_debug_prints_the_traceback(cli: Cli,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ArtifactCatalog, "list", _explode)
    result = cli("ls", env={"ARCHIVIST_DEBUG": "1"})
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "_explode" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: unexpected RuntimeError")


def test_archivist_debug_also_shows_tracebacks_of_refusals(cli: Cli) -> None:
    result = cli("show", "nope", env={"ARCHIVIST_DEBUG": "1"})
    assert result.exit_code == 1
    assert "ArtifactNotFoundError" in result.stderr


@pytest.mark.parametrize("value", ["0", "", "false"])
def test_archivist_debug_off_values(cli: Cli, value: str) -> None:
    assert_refused(cli("show", "nope", env={"ARCHIVIST_DEBUG": value}))


def test_os_error_from_below_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*_args: Any, **_kw: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ArtifactCatalog, "verify", disk_full)
    assert_refused(cli("verify"), "No space left on device")


def test_error_lines_do_not_interpret_markup(cli: Cli) -> None:
    line = cli.fails("show", "[bold]x[/bold]")
    assert "[bold]x[/bold]" in line
