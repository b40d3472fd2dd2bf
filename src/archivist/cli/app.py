"""The ``archivist`` Typer app: global options, exit codes, and the command groups.

Exit status (SPEC §8): 0 success; 1 for anything the catalog refuses (not found, invalid
input, integrity failure: every :class:`ArchivistError`) and for unexpected errors, each as
one ``error:`` line on stderr; 2 for usage errors (Typer's own). The translation lives in
one place, :class:`ArchivistGroup`, around every command.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer

from archivist.cli import changing, helptext, maintenance, output, reading, registering, serving
from archivist.cli import flows as flow_commands
from archivist.cli import runs as runs_commands
from archivist.cli import transfer as transfer_commands
from archivist.cli.session import Session
from archivist.errors import ArchivistError
from archivist.version import __version__


class ArchivistGroup(helptext.Group):
    """Runs a command and turns library errors into one stderr line and exit status 1."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # click's Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # usage errors (exit 2), explicit exits, Ctrl-C: Typer's own handling
        except ArchivistError as exc:
            if output.debug_enabled():
                output.print_traceback()
            output.error(exc.message)
            raise typer.Exit(1) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # `archivist ls | head`: Typer exits quietly
            _unexpected(exc)
        except Exception as exc:
            _unexpected(exc)


def _unexpected(exc: Exception) -> NoReturn:
    """A bug (or an error the library failed to type): one line, traceback on request."""
    if output.debug_enabled():
        output.print_traceback()
        output.error(f"unexpected {type(exc).__name__}: {exc}")
    else:
        output.error(f"unexpected {type(exc).__name__}: {exc} {output.DEBUG_HINT}")
    raise typer.Exit(1) from None


app = typer.Typer(
    name="archivist",
    cls=ArchivistGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # Click's plain help (helptext): `--json`, `--name NAME`, `PATH`
    epilog=helptext.epilog(""),
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"archivist {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    home: Annotated[str | None, typer.Option(
        "--home", metavar="DIR",
        help="Folder of the local catalog (overrides ARCHIVIST_HOME; default ./.archivist).",
    )] = None,
    project: Annotated[str | None, typer.Option(
        "--project", metavar="P",
        help="Project (namespace) to work in (default: ARCHIVIST_PROJECT, else 'default').",
    )] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the archivist version and exit.",
    )] = False,
) -> None:
    """The artifact catalog: register, version, tag, search and trace every model and dataset.

    Run 'archivist COMMAND --help' for the options and examples of a command.
    """
    ctx.obj = Session(home=home, project=project)


for _group in (registering, reading, changing, maintenance, serving, transfer_commands,
               runs_commands, flow_commands):
    _group.register(app)
helptext.conventional(app)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``archivist``) and ``python -m archivist.cli``."""
    command = typer.main.get_command(app)
    command.main(args=list(argv) if argv is not None else None, prog_name="archivist")
