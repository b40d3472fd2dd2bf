"""Where the catalog lives: explicit argument > environment > config file > ./.archivist.

==============================  ================================================
``ARCHIVIST_CATALOG_ENDPOINT``  URL of a catalog server (team mode)
``ARCHIVIST_CATALOG_API_KEY``   its API key
``ARCHIVIST_HOME``              folder of the local catalog (default ./.archivist)
``ARCHIVIST_CONFIG``            config file (default ~/.config/archivist/config.toml)
``ARCHIVIST_CACHE_DIR``         downloads from a server (default ~/.cache/archivist/blobs)
``ARCHIVIST_CACHE_SIZE``        their budget, LRU-evicted (default ``5GB``; ``0``: off)
==============================  ================================================

The config file is TOML with optional keys ``catalog_endpoint``, ``api_key``, ``home``,
``project``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archivist.errors import InvalidInputError

DEFAULT_HOME = ".archivist"


@dataclass(frozen=True)
class Target:
    """A resolved catalog location: a server endpoint, or a local home folder."""

    endpoint: str | None = None
    api_key: str | None = None
    home: Path | None = None
    project: str | None = None


def config_path(env: Mapping[str, str]) -> Path:
    if "ARCHIVIST_CONFIG" in env:
        return Path(env["ARCHIVIST_CONFIG"])
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "archivist" / "config.toml"


def read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"cannot read the config file {path}: {exc}") from exc


def resolve(env: Mapping[str, str] | None = None) -> Target:
    """Resolve the catalog location from the environment and the config file."""
    env = os.environ if env is None else env
    config = read_config(config_path(env))
    project = env.get("ARCHIVIST_PROJECT") or config.get("project")
    if env.get("ARCHIVIST_CATALOG_ENDPOINT"):
        return Target(endpoint=env["ARCHIVIST_CATALOG_ENDPOINT"],
                      api_key=env.get("ARCHIVIST_CATALOG_API_KEY"), project=project)
    if config.get("catalog_endpoint"):
        return Target(endpoint=str(config["catalog_endpoint"]),
                      api_key=env.get("ARCHIVIST_CATALOG_API_KEY") or config.get("api_key"),
                      project=project)
    # the key also serves a server URL given explicitly: ArtifactCatalog("https://…")
    return Target(home=_home(env, config), project=project,
                  api_key=env.get("ARCHIVIST_CATALOG_API_KEY") or config.get("api_key"))


def local_home(env: Mapping[str, str] | None = None) -> Path:
    """The local catalog folder (``ARCHIVIST_HOME`` > config ``home`` > ./.archivist)
    even when a server endpoint is configured: ``push`` reads from it in team mode."""
    env = os.environ if env is None else env
    return _home(env, read_config(config_path(env)))


def _home(env: Mapping[str, str], config: Mapping[str, Any]) -> Path:
    return Path(env.get("ARCHIVIST_HOME") or config.get("home") or DEFAULT_HOME).expanduser()
