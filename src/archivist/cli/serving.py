"""``archivist server`` (the catalog server on uvicorn) and ``archivist keys`` (its API keys).

The keys commands work on the server's database directly (``--home`` or ``--database``):
that is how the first admin key is made; later keys can be made over HTTP by an admin.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from archivist._extras import require_extra
from archivist.cli import output
from archivist.cli.options import JsonFlag
from archivist.cli.session import session_of
from archivist.cli.tables import Column, fitted_table
from archivist.config import DEFAULT_HOME, resolve
from archivist.errors import InvalidInputError
from archivist.query.lexer import size as parse_size

DatabaseOpt = Annotated[str | None, typer.Option(
    "--database", metavar="URL",
    help="Catalog database (sqlite:///… or postgresql://…) instead of --home.",
)]


def server(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(
        "--host", metavar="ADDR", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(
        "--port", metavar="N", min=0, max=65535, help="Port (0: one the system chooses).",
    )] = 8765,
    home: Annotated[str | None, typer.Option(
        "--home", metavar="DIR", help="Local catalog folder to serve (SQLite + blobs/).",
    )] = None,
    database: DatabaseOpt = None,
    blobs: Annotated[str | None, typer.Option(
        "--blobs", metavar="URL",
        help="Blob store folder or fsspec URL (s3://bucket/prefix); {{project}} in it gives "
             "each project its own store. Needed with --database.",
    )] = None,
    workers: Annotated[int, typer.Option(
        "--workers", metavar="N", min=1, max=64, help="Server processes (uvicorn workers).",
    )] = 1,
    insecure_single_user: Annotated[bool, typer.Option(
        "--insecure-single-user",
        help="No API keys: anyone who can connect is admin. Loopback addresses only.",
    )] = False,
    max_blob_size: Annotated[str, typer.Option(
        "--max-blob-size", metavar="SIZE", help="Largest blob upload (e.g. 10GB, 512MiB).",
    )] = "10GB",
    max_json_size: Annotated[str, typer.Option(
        "--max-json-size", metavar="SIZE",
        help="Largest JSON request body (a push of many versions is one request).",
    )] = "32MiB",
    presign: Annotated[bool, typer.Option(
        "--presign", help="Redirect downloads to presigned URLs when the store is S3.",
    )] = False,
    threads: Annotated[int, typer.Option(
        "--threads", metavar="N", min=1, max=256,
        help="Requests doing database or store work at once, per worker process.",
    )] = 8,
    root_path: Annotated[str, typer.Option(
        "--root-path", metavar="PATH",
        help="Answer under this path prefix (behind a reverse proxy that mounts the catalog "
             "at https://host/PATH; with or without the proxy stripping it).",
    )] = "",
    key_cache_ttl: Annotated[float, typer.Option(
        "--key-cache-ttl", min=0, max=300, metavar="SECONDS",
        help="Trust a key that authenticated for this long without a database lookup: a "
             "key revoked by another process keeps working here that long (0: never).",
    )] = 5.0,
    database_connect_timeout: Annotated[float, typer.Option(
        "--database-connect-timeout", metavar="SECONDS", min=0.1, max=600,
        help="Wait this long for a new PostgreSQL connection, then answer 503.",
    )] = 5.0,
    database_statement_timeout: Annotated[float, typer.Option(
        "--database-statement-timeout", metavar="SECONDS", min=0.1, max=3600,
        help="Let one PostgreSQL statement run (or a hung database stay silent) this "
             "long, then answer 503.",
    )] = 30.0,
    spool_dir: Annotated[str | None, typer.Option(
        "--spool-dir", metavar="DIR",
        help="Folder where uploads are written while hashed (default: a local store's "
             "tmp/, else <TMPDIR>/archivist-spools); made if missing.",
    )] = None,
) -> None:
    """Serve the catalog over HTTP (REST API documented at /openapi.json).

    With no options it serves the local catalog (./.archivist or ARCHIVIST_HOME); with
    --database postgresql://… --blobs s3://… several servers can share one catalog.
    """
    require_extra("server", purpose="archivist server")
    import uvicorn
    from pydantic import ValidationError
    from sqlalchemy.engine import make_url

    from archivist.server.rootpath import check_root_path
    from archivist.server.settings import SETTINGS_VARIABLE, ServerSettings
    from archivist.server.state import ServerState

    try:
        settings = ServerSettings(
            home=None if database else _home(ctx, home), database=database, blobs=blobs,
            host=host, port=port, insecure_single_user=insecure_single_user,
            max_blob_size=_size(max_blob_size),
            max_json_size=_size(max_json_size, "--max-json-size"), presign=presign,
            key_cache_ttl=key_cache_ttl, threads=threads,
            database_connect_timeout=database_connect_timeout,
            database_statement_timeout=database_statement_timeout,
            spool_dir=_spool_dir(spool_dir), root_path=check_root_path(root_path))
    except ValidationError as exc:  # an option out of range: name it as the command line does
        raise InvalidInputError("; ".join(
            f"--{'.'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}"
            for e in exc.errors())) from None
    settings.check_bind()
    ServerState(settings).close()  # fail here, once, on a bad catalog; migrate before workers
    options: dict[str, Any] = {"host": host, "port": port, "access_log": False,
                               "log_config": _log_config(), "timeout_graceful_shutdown": 10}
    served = (str(Path(settings.home or ".").resolve()) if settings.database is None else
              make_url(settings.database).render_as_string(hide_password=True))
    where = (f"at http://{host}:{port}{settings.root_path}/" if port else
             "on a free port (uvicorn's line below says which)")
    output.note(f"serving the catalog {served} {where} (web UI; the REST API under "
                "/api/v1, its docs at /docs)", label="archivist")
    if insecure_single_user:
        output.note("--insecure-single-user: no API keys; anyone on this machine is admin",
                    label="warning")
    if workers == 1:
        from archivist.server.app import create_app

        uvicorn.run(create_app(settings), **options)
        return
    os.environ[SETTINGS_VARIABLE] = settings.model_dump_json()
    uvicorn.run("archivist.server.app:app_from_env", factory=True, workers=workers, **options)


def _home(ctx: typer.Context, home: str | None) -> str:
    chosen = home or session_of(ctx).home or (resolve().home or Path(DEFAULT_HOME))
    if "://" in str(chosen):
        raise InvalidInputError(f"--home {str(chosen)!r} is a URL; --home names a catalog "
                                "folder: give a database as --database URL (with --blobs URL)")
    return str(Path(chosen).expanduser())


def _spool_dir(folder: str | None) -> str | None:
    """``--spool-dir`` as an absolute path (workers rebuild the settings elsewhere), made
    now so a folder the server cannot use fails at start, not at the first upload."""
    if folder is None:
        return None
    from archivist.store.spool import spool_folder

    path = Path(folder).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"--spool-dir {folder!r} is a file, not a folder")
    return spool_folder(str(path))


def _size(text: str, option: str = "--max-blob-size") -> int:
    try:
        return int(parse_size(text.strip()))
    except ValueError as exc:
        raise InvalidInputError(f"{option}: {exc}") from None


def _log_config() -> dict[str, Any]:
    """uvicorn's logging plus the request log line (``archivist.server``) on stderr, as
    plain JSON; applied in every worker process."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["archivist"] = {"format": "%(message)s"}
    config["handlers"]["archivist"] = {"formatter": "archivist", "class": "logging.StreamHandler",
                                       "stream": "ext://sys.stderr"}
    config["loggers"]["archivist.server"] = {"handlers": ["archivist"], "level": "INFO",
                                             "propagate": False}
    return config


# -- keys ---------------------------------------------------------------------------------
keys_app = typer.Typer(help="API keys of the catalog server (shown once, stored hashed).",
                       no_args_is_help=True)


@contextlib.contextmanager
def _store(ctx: typer.Context, database: str | None) -> Iterator[Any]:
    from archivist.backends.sql.backend import SqlBackend

    if database is None:
        home = Path(_home(ctx, None))
        home.mkdir(parents=True, exist_ok=True)
        database = f"sqlite:///{home.resolve() / 'catalog.db'}"
    elif not database.startswith(("sqlite", "postgresql", "postgres")):
        raise InvalidInputError(f"--database {database!r}: keys live in a SQLite or "
                                "PostgreSQL catalog database")
    store = SqlBackend(database.replace("postgres://", "postgresql://", 1))
    try:
        yield store
    finally:
        store.close()


@keys_app.command("create")
def create(
    ctx: typer.Context,
    project: Annotated[str, typer.Option("--project", metavar="P", help="Project of the key.")],
    scope: Annotated[str, typer.Option(
        "--scope", metavar="SCOPE", help="read, write or admin.")],
    name: Annotated[str | None, typer.Option(
        "--name", metavar="N", help="A label (who or what uses the key).")] = None,
    database: DatabaseOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Make an API key; its secret is printed now and never again."""
    from archivist.server import keys

    with _store(ctx, database) as store:
        key, secret = keys.create_key(store, project, scope, name)
    if as_json:
        shown = key.to_dict()
        del shown["revoked_at"]
        output.print_json({**shown, "key": secret})
        return
    output.success(f"created API key {key.id} (project {key.project!r}, scope {key.scope})")
    output.stdout().print(Text(secret), soft_wrap=True)
    output.note("the key is shown only now: keep it in a secret store "
                "(clients read ARCHIVIST_CATALOG_API_KEY)")


#: ``keys list`` columns: the id (to revoke) and project never wrap
KEY_COLUMNS = (Column("id"), Column("project"), Column("scope"),
               Column("name", drop=2, shrink=8), Column("created", drop=3),
               Column("revoked", drop=1))


@keys_app.command("list")
def list_keys(ctx: typer.Context, database: DatabaseOpt = None,
              as_json: JsonFlag = False) -> None:
    """Every key (never the secrets), revoked ones included."""
    from archivist.server import keys

    with _store(ctx, database) as store:
        found = keys.list_keys(store)
    if as_json:
        output.print_json([k.to_dict() for k in found])
        return
    if not found:
        output.stdout().print(Text("no API keys"), soft_wrap=True)
        return
    rows = [(k.id, k.project, k.scope, k.name or "", output.when(k.created_at),
             output.when(k.revoked_at) if k.revoked_at else "") for k in found]
    console = output.stdout()
    console.print(fitted_table(KEY_COLUMNS, rows, console.width)[0])


@keys_app.command("revoke")
def revoke(ctx: typer.Context,
           key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id.")],
           database: DatabaseOpt = None) -> None:
    """Revoke a key: it authenticates no more (at once, on every server process)."""
    from archivist.server import keys

    with _store(ctx, database) as store:
        key = keys.revoke_key(store, key_id)
    output.success(f"revoked API key {key.id} (project {key.project!r}, scope {key.scope})")


def register(app: typer.Typer) -> None:
    app.command("server")(server)
    app.add_typer(keys_app, name="keys")
