"""``archivist flow run|resume|show FILE``: class flows defined in a Python file.

The file is imported by path (its folder first on ``sys.path``, as for ``python
FILE``); worker processes import it the same way. A file defining several flows needs
``--flow NAME``. A failed step exits with status 1 and one ``error:`` line naming the run
to resume (the traceback with ``ARCHIVIST_DEBUG=1``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from archivist.cli import output
from archivist.cli.options import JsonFlag, parse_pairs
from archivist.cli.session import open_catalog
from archivist.errors import ArchivistError, InvalidInputError
from archivist.pipelines.client import Run
from archivist.pipelines.flows.flow import Flow
from archivist.pipelines.flows.workers import import_file

flow_app = typer.Typer(name="flow", no_args_is_help=True,
                       help="Run, resume and show class flows.")

FileArg = Annotated[Path, typer.Argument(
    metavar="FILE", show_default=False, help="The Python file defining the flow class.",
)]
FlowOpt = Annotated[str | None, typer.Option(
    "--flow", metavar="NAME", show_default=False,
    help="The flow class to use when FILE defines several.",
)]
WorkersOpt = Annotated[int, typer.Option(
    "--max-workers", metavar="N", min=1, max=256,
    help="Run branches and foreach tasks in N worker processes (1: in this process); "
         "with --executor, at most N tasks at a time on the cluster.",
)]
ExecutorOpt = Annotated[str | None, typer.Option(
    "--executor", metavar="URL", show_default=False,
    help="Run branches and foreach tasks on a Dask cluster: dask://HOST:PORT (its "
         "scheduler; needs the dask extra). Default: local processes.",
)]


@flow_app.command("run", context_settings={"allow_extra_args": True,
                                           "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    file: FileArg,
    param: Annotated[list[str] | None, typer.Option(
        "--param", metavar="K=V", show_default=False,
        help="A parameter value, converted to the parameter's type. Repeatable.",
    )] = None,
    max_workers: WorkersOpt = 1,
    executor: ExecutorOpt = None,
    flow: FlowOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a flow and record it; prints the run's pathspec (FLOW/NUMBER).

    Parameters are given as --param NAME=VALUE or, as with Metaflow, --NAME VALUE."""
    given = {**parse_pairs(param, "--param", parse=False), **_named(ctx.args)}
    flow_cls = load_flow(file, flow)
    flow_cls.spec()  # a malformed flow fails before the catalog is touched
    parameters = _convert(flow_cls, given)
    with open_catalog(ctx, create=True) as catalog:
        done = _guarded(file, lambda: flow_cls().run(
            catalog=catalog, max_workers=max_workers, executor=executor, **parameters))
        _report(done, as_json)


@flow_app.command("resume")
def resume(
    ctx: typer.Context,
    file: FileArg,
    run_ref: Annotated[str | None, typer.Option(
        "--run", metavar="RUN", show_default=False,
        help="The run to resume (FLOW/NUMBER or id; default: the flow's latest run).",
    )] = None,
    from_step: Annotated[str | None, typer.Option(
        "--step", metavar="STEP", show_default=False,
        help="Restart from this step (default: the step that failed).",
    )] = None,
    max_workers: WorkersOpt = 1,
    executor: ExecutorOpt = None,
    flow: FlowOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a flow again from the step that failed, reusing the steps that finished."""
    flow_cls = load_flow(file, flow)
    flow_cls.spec()
    with open_catalog(ctx) as catalog:
        done = _guarded(file, lambda: flow_cls().resume(
            run_ref, catalog=catalog, max_workers=max_workers, step=from_step,
            executor=executor))
        _report(done, as_json)


@flow_app.command("show")
def show(file: FileArg, flow: FlowOpt = None, as_json: JsonFlag = False) -> None:
    """Show a flow's steps (in order, with their kind and targets) and its parameters."""
    flow_cls = load_flow(file, flow)
    graph = flow_cls.spec().graph
    parameters = {p.name: (None if p.required else p.default)
                  for p in flow_cls.spec().parameters.values()}
    if as_json:
        output.print_json({
            "flow": graph.flow, "parameters": parameters,
            "steps": [{"name": n, "kind": graph.nodes[n].kind,
                       "targets": list(graph.nodes[n].targets),
                       "foreach": graph.nodes[n].foreach, "join": graph.nodes[n].is_join,
                       "condition": graph.nodes[n].condition,
                       "cases": [list(case) for case in graph.nodes[n].cases],
                       "doc": graph.nodes[n].doc} for n in graph.order()]})
        return
    console = output.stdout()
    console.print(f"flow {graph.flow}", soft_wrap=True, markup=False)
    for line in graph.describe():
        console.print(f"  {line}", soft_wrap=True, markup=False)
    for attr, p in flow_cls.spec().parameters.items():
        default = "required" if p.required else f"default {p.default!r}"
        help_text = f" — {p.help}" if p.help else ""
        console.print(f"  parameter {p.name or attr} ({default}){help_text}", soft_wrap=True,
                      markup=False)


def load_flow(file: Path, name: str | None) -> type[Flow]:
    """The flow class ``name`` (or the only one) defined in ``file``.

    Raises:
        InvalidInputError: the file cannot be imported, defines no flow, several without
            ``name``, or none called ``name``.
    """
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        module = import_file(file)
    except ArchivistError:
        raise
    except Exception as exc:
        raise InvalidInputError(f"cannot import {file}: {type(exc).__name__}: {exc}") from exc
    found = {value.__name__: value for value in vars(module).values()
             if isinstance(value, type) and issubclass(value, Flow) and value is not Flow
             and value.__module__ == module.__name__}
    if name is not None:
        if name not in found:
            raise InvalidInputError(f"{file} defines no flow {name!r}; flows: "
                                    f"{', '.join(sorted(found)) or 'none'}")
        return found[name]
    if len(found) != 1:
        raise InvalidInputError(
            f"{file} defines no Flow subclass" if not found else
            f"{file} defines several flows ({', '.join(sorted(found))}); choose one with "
            "--flow NAME")
    return next(iter(found.values()))


def _named(args: list[str]) -> dict[str, str]:
    """``--NAME VALUE`` / ``--NAME=VALUE`` pairs left over by the options of ``run``.

    Raises:
        typer.BadParameter: something else (exit status 2).
    """
    out: dict[str, str] = {}
    rest = list(args)
    while rest:
        token = rest.pop(0)
        name, sep, value = token.partition("=")
        if not name.startswith("--") or len(name) < 3:
            raise typer.BadParameter(f"unexpected argument {token!r}; give parameters as "
                                     "--NAME VALUE or --param NAME=VALUE")
        if not sep:
            if not rest:
                raise typer.BadParameter(f"{name} needs a value")
            value = rest.pop(0)
        out[name[2:]] = value
    return out


def _convert(flow_cls: type[Flow], given: dict[str, Any]) -> dict[str, Any]:
    by_name = {p.name: p for p in flow_cls.spec().parameters.values()}
    out = {}
    for key, text in given.items():
        if key not in by_name:
            raise InvalidInputError(f"{flow_cls.__name__} has no parameter {key!r}; "
                                    f"parameters: {', '.join(sorted(by_name)) or 'none'}")
        out[key] = by_name[key].convert(text)
    return out


def _guarded(file: Path, go: Any) -> Run:
    """Run ``go``; a failed step becomes one error line and exit status 1."""
    try:
        done: Run = go()
    except Exception as exc:
        pathspec = getattr(exc, "archivist_run", None)
        if pathspec is None:
            raise  # nothing ran: ArchivistGroup reports it
        if output.debug_enabled():
            output.print_traceback()
        text = exc.message if isinstance(exc, ArchivistError) else f"{type(exc).__name__}: {exc}"
        output.error(f"run {pathspec} failed: {text}; resume it with: archivist flow resume "
                     f"{file} --run {pathspec}")
        raise typer.Exit(1) from None
    return done


def _report(done: Run, as_json: bool) -> None:
    try:
        if as_json:
            output.print_json(done.record.to_dict())
            return
        tasks = len(done.record.tasks)
        cached = sum(1 for t in done.record.tasks if t.cached)
        reused = f", {cached} reused" if cached else ""
        output.success(f"{done.pathspec} {done.status}: {tasks} tasks{reused}, "
                       f"{len(done.record.produced)} versions")
    finally:
        done.close()


def register(app: typer.Typer) -> None:
    app.add_typer(flow_app)
