"""Optional extras: look for them without importing, and say how to install them (STYLE P21).

``handles()`` must stay cheap and must not drag pandas or torch into a process that never
imported them, so it asks :func:`loaded` (is the module already in ``sys.modules``?) and
:func:`installed` (can it be imported, without importing it). ``save``/``load`` import the
library inside the function and turn an ``ImportError`` into :func:`missing`.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from archivist.errors import MissingDependencyError


def loaded(module: str) -> ModuleType | None:
    """The module if this process already imported it, else ``None`` (never imports)."""
    return sys.modules.get(module)


def installed(package: str) -> bool:
    """Whether a top-level package can be imported, without importing it."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def missing(package: str, extra: str, *, purpose: str) -> MissingDependencyError:
    """The error to raise when ``package`` is needed for ``purpose`` but not installed."""
    return MissingDependencyError(
        f"{purpose} needs {package}, which is not installed; "
        f"install it with: pip install 'archivist[{extra}]'",
        package=package, extra=extra,
    )


def is_instance(obj: object, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` if ``module`` is already imported, else ``False``."""
    cls = getattr(loaded(module), name, None)
    return isinstance(cls, type) and isinstance(obj, cls)
