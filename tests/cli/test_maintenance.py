"""``verify`` and ``gc``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli

Added = Callable[..., dict[str, Any]]


def blob_file(home: Path, digest: str) -> Path:
    found = [p for p in (home / "blobs").rglob("*") if p.is_file() and
             p.name.endswith(digest.removeprefix("sha256:")[2:])]
    assert len(found) == 1, found
    return found[0]


def test_verify_ok(cli: Cli, added: Added) -> None:
    added("a", b"aaa")
    report = cli.json("verify")
    assert report["ok"] is True
    assert report["checked"] >= 1
    assert report["corrupt"] == report["missing"] == []
    assert cli.ok("verify").stdout.startswith("verify: ok")


def test_verify_corrupt_blob_exits_1(cli: Cli, added: Added, home: Path) -> None:
    record = added("a", b"original bytes")
    path = blob_file(home, record["digest"])
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered bytes")
    result = cli("verify", "--json")
    assert result.exit_code == 1
    assert '"ok": false' in result.stdout
    assert record["digest"] in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: verify found 1 damaged")
    human = cli("verify")
    assert human.exit_code == 1
    assert "corrupt (1)" in human.stdout
    assert "Traceback" not in human.output


def test_verify_missing_blob_exits_1(cli: Cli, added: Added, home: Path) -> None:
    record = added("a", b"bytes to lose")
    blob_file(home, record["digest"]).unlink()
    result = cli("verify", "--json")
    assert result.exit_code == 1
    assert record["digest"] in result.stdout


def test_gc_dry_run_then_apply(cli: Cli, added: Added, home: Path) -> None:
    kept = added("kept", b"still used")
    gone = added("gone", b"about to be unused")
    cli.ok("rm", "gone")
    old = time.time() - 3 * 86400
    os.utime(blob_file(home, gone["digest"]), (old, old))

    dry = cli.ok("gc", "--json")
    report = __import__("json").loads(dry.stdout)
    assert report["dry_run"] is True
    assert report["freed"] == [gone["digest"]]
    assert kept["digest"] in report["kept"]
    assert "dry run" in dry.stderr
    assert blob_file(home, gone["digest"]).exists()
    human = cli.ok("gc").stdout
    assert human.startswith("dry run: would free 1 blob(s)")

    applied = cli.json("gc", "--apply")
    assert applied["dry_run"] is False
    assert applied["freed"] == [gone["digest"]]
    assert applied["freed_bytes"] == len(b"about to be unused")
    assert cli.json("verify")["ok"] is True
    assert cli.ok("gc", "--apply").stdout.startswith("freed 0 blob(s)")


def test_gc_grace_keeps_young_blobs(cli: Cli, added: Added) -> None:
    gone = added("gone", b"young bytes")
    cli.ok("rm", "gone")
    report = cli.json("gc", "--apply", "--grace", "1w")
    assert report["freed"] == []
    assert report["kept"][gone["digest"]] == "younger than the grace period"
    assert cli.json("gc", "--grace", "0s")["freed"] == [gone["digest"]]


def test_get_of_a_corrupt_blob_exits_1_and_writes_nothing(cli: Cli, added: Added, home: Path,
                                                          tmp_path: Path) -> None:
    record = added("a", b"original bytes")
    path = blob_file(home, record["digest"])
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered bytes")
    dest = tmp_path / "out" / "a.bin"
    line = cli.fails("get", "a", "-o", str(dest))
    assert "unexpected" not in line
    assert not dest.exists()
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []
