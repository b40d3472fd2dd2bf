"""``archivist server`` refusals and ``archivist keys create|list|revoke``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archivist import keys
from archivist.backends.sql.backend import SqlBackend
from archivist.cli import app


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    code, out, err = _run("--home", home, "keys", "create", "--project", "p", "--scope",
                          "admin", "--name", "boot", "--json")
    assert code == 0, err
    made = json.loads(out)
    assert made["key"].startswith("ak_") and made["scope"] == "admin"
    store = SqlBackend(f"sqlite:///{Path(home).resolve() / 'catalog.db'}")
    try:
        assert keys.authenticate(store, made["key"]).id == made["id"]
    finally:
        store.close()
    code, out, _ = _run("--home", home, "keys", "list", "--json")
    listed = json.loads(out)
    assert [k["id"] for k in listed] == [made["id"]] and "key" not in listed[0]
    code, out, err = _run("--home", home, "keys", "revoke", made["id"])
    assert code == 0 and made["id"] in out, err
    code, out, _ = _run("--home", home, "keys", "list", "--json")
    assert json.loads(out)[0]["revoked_at"] is not None
    code, out, _ = _run("--home", home, "keys", "list")
    assert made["id"] in out and "boot" in out


def test_keys_create_prints_the_secret_once_for_humans(tmp_path: Path) -> None:
    code, out, err = _run("--home", str(tmp_path), "keys", "create", "--project", "p",
                          "--scope", "read")
    assert code == 0
    assert "ak_" in out and "shown only now" in err


def test_keys_on_a_database_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    code, out, err = _run("keys", "create", "--project", "p", "--scope", "write",
                          "--database", url, "--json")
    assert code == 0, err
    code, out, _ = _run("keys", "list", "--database", url, "--json")
    assert len(json.loads(out)) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["keys", "create", "--project", "p", "--scope", "root"], "scope must be one of"),
    (["keys", "create", "--project", "../p", "--scope", "read"], "invalid project"),
    (["keys", "revoke", "nope"], "no API key"),
    (["keys", "list", "--database", "mysql://x"], "SQLite or PostgreSQL"),
    (["server", "--insecure-single-user", "--host", "0.0.0.0"], "loopback"),
    (["server", "--database", "sqlite:///x.db"], "--blobs"),
    (["server", "--max-blob-size", "lots"], "--max-blob-size"),
    (["server", "--max-json-size", "lots"], "--max-json-size"),
    (["server", "--max-json-size", "10"], "--max-json-size: Input should be greater than"),
    (["server", "--home", "postgresql://db/x"], "--database URL"),
])
def test_refusals_are_one_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = _run("--home", str(tmp_path / "home"), *args)
    assert code == 1, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], err
    assert "Traceback" not in err
