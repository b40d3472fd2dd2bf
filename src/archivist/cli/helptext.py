"""What ``--help`` prints: Click's conventional layout, examples, and the online docs.

Typer's own help showed flags as ``--json <bool>`` and arguments as ``{PATH} <str>``; the
commands here print ``--json``, ``--name NAME``, ``PATH`` and ``[QUERY]`` as Click does
(:class:`Command`, :class:`Group`), and end with ``Examples:`` and a link to the online
reference: a pip user has no ``docs/`` folder. :func:`conventional` applies both to every
command of the app, so the command modules declare only their options.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

#: The project's home; its ``docs/`` folder is the online reference (pyproject's
#: ``[project.urls]`` names the same addresses).
REPOSITORY = "https://github.com/archivist-dev/archivist"
DOCS_URL = f"{REPOSITORY}/blob/main/docs"

#: Command (``"runs ls"``) → example command lines, shown under ``Examples:``.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("archivist add model.joblib --name fraud_detector --type Model",
         "archivist ls",
         "archivist show fraud_detector"),
    "init": ("archivist init", "archivist --home /data/catalog init"),
    "add": ("archivist add model.joblib --name fraud_detector --type Model --tag team=fraud",
            "archivist add data/features.parquet --name features --type Dataset --parent raw:3",
            "archivist add model.joblib --name fraud_detector --alias production --json"),
    "ls": ("archivist ls", "archivist ls --type Model --latest",
           "archivist ls --name fraud_detector --tag team=fraud --json"),
    "show": ("archivist show fraud_detector", "archivist show fraud_detector@production --history",
             "archivist show features:3 --json"),
    "search": ('archivist search "type:Model alias:production"',
               'archivist search "fraud (team:risk OR team:fraud) -stage:dev"',
               'archivist search "metadata.accuracy>=0.9 age<7d" --limit 10',
               'archivist search "downstream-of:raw:3" --json'),
    "get": ("archivist get fraud_detector@production -o model.joblib",
            "archivist get reports:2 -o reports_v2"),
    "diff": ("archivist diff features:2 features:3",
             "archivist diff fraud_detector:1 fraud_detector@production --json"),
    "lineage": ("archivist lineage fraud_detector",
                "archivist lineage raw:3 --direction down --format mermaid > lineage.mmd"),
    "tag": ("archivist tag fraud_detector:3 reviewed_by=ana f1_score=0.91",
            "archivist tag fraud_detector:3 --remove stage"),
    "alias": ("archivist alias fraud_detector:3 production",
              "archivist alias fraud_detector production --remove"),
    "describe": ('archivist describe fraud_detector:3 "Retrained on May data"',
                 "archivist describe fraud_detector:3 --clear"),
    "meta": ("archivist meta fraud_detector:3 reviewed=true 'thresholds={\"f1\": 0.9}'",
             "archivist meta fraud_detector:3 --remove draft"),
    "rename": ("archivist rename fraud_detector fraud_model",),
    "rm": ("archivist rm scratch:2",),
    "verify": ("archivist verify", "archivist verify --json"),
    "gc": ("archivist gc", "archivist gc --apply --grace 2h"),
    "export": ('archivist export "type:Model alias:production" -o models.tar',
               "archivist export --ref fraud_detector:3 --with-ancestors -o bundle"),
    "import": ("archivist import models.tar", "archivist --project team import bundle"),
    "push": ('archivist push --to https://catalog.example.com:8765 "alias:production"',
             "archivist push --to /mnt/shared/catalog --no-ancestors fraud_detector"),
    "server": ("archivist server",
               "archivist server --host 0.0.0.0 --port 8765 --workers 4",
               "archivist server --database postgresql://db/catalog --blobs s3://bucket/blobs"),
    "keys create": ("archivist keys create --project default --scope admin --name ci",),
    "keys list": ("archivist keys list --json",),
    "runs ls": ("archivist runs ls",
                "archivist runs ls --pipeline fraud_detection --status failed"),
    "runs show": ("archivist runs show fraud_detection/3",),
    "flow run": ("archivist flow run training.py",
                 "archivist flow run training.py --param epochs=5 --max-workers 4"),
    "flow resume": ("archivist flow resume training.py",
                    "archivist flow resume training.py --run TrainingFlow/3"),
    "flow show": ("archivist flow show training.py --flow TrainingFlow",),
}

#: Commands whose subject has its own page, linked after the command's reference.
PAGES = {"search": "query-language.md", "server": "server.md", "flow": "pipelines.md",
         "runs": "pipelines.md", "export": "transfer.md", "import": "transfer.md",
         "push": "transfer.md"}


def docs_links(path: str) -> list[str]:
    """The online reference of a command (``"runs ls"``), and of its subject if any."""
    top = path.split(" ")[0]
    links = [f"{DOCS_URL}/cli.md" + (f"#archivist-{top}" if top else "")]
    if top in PAGES:
        links.append(f"{DOCS_URL}/{PAGES[top]}")
    return links


def epilog(path: str) -> str:
    """``Examples:`` (when there are some) and ``Documentation:``, as printed."""
    lines = []
    if path in EXAMPLES:
        lines += ["Examples:", *(f"  {example}" for example in EXAMPLES[path]), ""]
    lines += ["Documentation:", *(f"  {link}" for link in docs_links(path))]
    return "\n".join(lines)


def conventional(app: typer.Typer, path: str = "") -> None:
    """Give every command of ``app`` (and of its groups) this help: the classes below and
    the examples and links as its epilog."""
    for info in app.registered_commands:
        name = info.name or (info.callback.__name__ if info.callback else "")
        if info.cls in (None, TyperCommand):  # Typer's default: not a class of our own
            info.cls = Command
        info.epilog = info.epilog or epilog(f"{path} {name}".strip())
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is None:
            continue
        title = group.name if isinstance(group.name, str) else sub.info.name
        where = f"{path} {title or ''}".strip()
        group.cls = Group
        group.epilog = epilog(where)
        conventional(sub, where)


# -- the layout --------------------------------------------------------------------------
_TYPE = re.compile(r"<([^<>]+)>")
#: Typer's type names → Click's metavars, for an option declared without a metavar.
_TYPE_WORDS = {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "path": "PATH",
               "bool": "BOOLEAN"}


def _metavar(match: re.Match[str]) -> str:
    inner = match.group(1)
    if "|" in inner:
        return f"[{inner}]"  # a choice, as Click shows it
    word = inner.split(" ")[0]
    return _TYPE_WORDS.get(word, word.upper())


def _argument(param: TyperArgument) -> str:
    """``PATH``, ``[QUERY]``, ``[K=V]...``: the argument as Click's usage line names it."""
    name = param.metavar or (param.name or "").upper()
    if not param.required:
        name = f"[{name}]"
    return name + ("..." if param.nargs != 1 else "")


def _format_params(command: TyperCommand | TyperGroup, ctx: Any, formatter: Any) -> None:
    arguments, options = [], []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = record
        if isinstance(param, TyperArgument):
            arguments.append((param.metavar or (param.name or "").upper(), text))
        else:
            options.append((_TYPE.sub(_metavar, names), text))
    for title, rows in (("Arguments", arguments), ("Options", options)):
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)


def _format_epilog(command: TyperCommand | TyperGroup, formatter: Any) -> None:
    """The epilog as written: example lines must not be joined or rewrapped."""
    if command.epilog:
        formatter.write_paragraph()
        formatter.write("\n".join(command.epilog.splitlines()) + "\n")


class Command(TyperCommand):
    """A command whose help reads as Click's (see the module docstring)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                pieces.append(_argument(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_params(self, ctx, formatter)

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        _format_epilog(self, formatter)


class Group(TyperGroup):
    """A group whose help reads as Click's, its commands listed after the options."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_params(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        _format_epilog(self, formatter)
