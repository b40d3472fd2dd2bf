"""Optional extras: finding them without importing, and the one error when one is missing.

Every place that needs a library of an extra (``pip install 'archivist[server]'``…) goes
through this module (STYLE P21), so a missing library is always a
:class:`~archivist.errors.MissingDependencyError` whose message ends with the exact
install line, never a bare ``ModuleNotFoundError``:

- :func:`require` imports a module or raises that error;
- :func:`require_extra` checks, without importing, that every module of an extra is
  installed (the server checks its whole extra once, before it starts);
- :func:`missing` builds the error, for code that imports inside its own ``try``;
- :func:`missing_driver` is the error for an fsspec URL whose driver is not installed
  (``s3://`` needs the ``s3`` extra; other schemes name their package).

Materializers' ``handles()`` must stay cheap and must not drag pandas or torch into a
process that never imported them, so they ask :func:`loaded` (is the module already in
``sys.modules``?) and :func:`installed` (can it be imported, without importing it).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

from archivist.errors import MissingDependencyError

#: The modules each extra of pyproject.toml installs (import names; ``a|b``: either one).
EXTRAS: dict[str, tuple[str, ...]] = {
    "server": ("fastapi", "uvicorn", "pydantic", "prometheus_client", "jinja2",
               "python_multipart|multipart", "swagger_ui_bundle"),
    "postgres": ("psycopg",),
    "s3": ("s3fs",),
    "pandas": ("pandas", "pyarrow"),
    "arrow": ("pyarrow",),
    "numpy": ("numpy",),
    "sklearn": ("sklearn", "skops", "joblib"),
    "torch": ("torch", "safetensors"),
    "matplotlib": ("matplotlib",),
    "openlineage": ("openlineage",),
    "dask": ("distributed",),
}

#: fsspec URL schemes whose driver archivist installs with an extra (package, extra), or
#: that users install themselves (package, None).
DRIVERS: dict[str, tuple[str, str | None]] = {
    "s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3"),
    "gs": ("gcsfs", None), "gcs": ("gcsfs", None),
    "az": ("adlfs", None), "abfs": ("adlfs", None), "abfss": ("adlfs", None),
    "http": ("aiohttp", None), "https": ("aiohttp", None),
}


def install_line(extra: str) -> str:
    """The exact command that installs ``extra``: ``pip install 'archivist[extra]'``."""
    return f"pip install 'archivist[{extra}]'"


def missing(package: str, extra: str | None, *, purpose: str) -> MissingDependencyError:
    """The error to raise when ``package`` is needed for ``purpose`` but not installed.

    Args:
        package: what is missing, as users install it (``"pyarrow"``, ``"s3fs"``).
        extra: the archivist extra that installs it; ``None`` when none does (the
            message then says ``pip install <package>``).
        purpose: what needed it, as the start of a sentence ("the archivist server").
    """
    line = install_line(extra) if extra is not None else f"pip install {package}"
    return MissingDependencyError(
        f"{purpose} needs {package}, which is not installed; install it with: {line}",
        package=package, extra=extra, install=line)


def require(module: str, extra: str, *, purpose: str) -> ModuleType:
    """Import ``module`` (dotted names allowed), or raise the error naming ``extra``.

    Raises:
        MissingDependencyError: the module (or a library it imports) is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise missing(module.split(".")[0], extra, purpose=purpose) from None


def require_extra(extra: str, *, purpose: str) -> None:
    """Check that every module of ``extra`` is installed, importing none of them.

    Raises:
        MissingDependencyError: naming the first module that is not installed.
    """
    for choices in EXTRAS[extra]:
        names = choices.split("|")
        if not any(installed(name) for name in names):
            raise missing(names[0], extra, purpose=purpose)


def missing_driver(url: str, *, purpose: str) -> MissingDependencyError:
    """The error for an fsspec URL whose driver did not import (``s3://`` without s3fs)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else url
    found = DRIVERS.get(scheme)
    if found is None:
        return MissingDependencyError(
            f"{purpose} needs the fsspec driver for {scheme}://, which is not installed; "
            "see https://filesystem-spec.readthedocs.io/en/latest/api.html"
            "#other-known-implementations for its package", package=scheme, extra=None)
    package, extra = found
    return missing(package, extra, purpose=purpose)


def loaded(module: str) -> ModuleType | None:
    """The module if this process already imported it, else ``None`` (never imports)."""
    return sys.modules.get(module)


def installed(package: str) -> bool:
    """Whether a module can be imported, without importing it (a package's parent is
    imported to look for a submodule: ask for top-level names)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def is_instance(obj: object, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` if ``module`` is already imported, else ``False``."""
    cls = getattr(loaded(module), name, None)
    return isinstance(cls, type) and isinstance(obj, cls)
