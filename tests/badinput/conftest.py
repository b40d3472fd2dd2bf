"""Fixtures of the bad-input suite (reliability.md part (b), d.5 B1).

Every test gets a *canary* folder that holds the catalog home and everything else the
test creates (source trees, download targets, the process temp dir). ``guard.rejected``
runs a call that must fail and checks the three things part (b) asks of a rejection:

1. the documented typed error (never another exception type),
2. the catalog snapshot (row counts, blob set, files under the home) is unchanged,
3. nothing outside the store changed (the canary folder, minus the home, is unchanged).

An autouse fixture also fails the test on any outbound network attempt (``connect`` or a
DNS lookup): no bad input may make the library talk to the network.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from archivist import ArchivistError, ArtifactCatalog
from tests.helpers import Snapshot, snapshot


def listing(root: Path, exclude: Path | None = None) -> dict[str, tuple[str, int, int]]:
    """Every entry under ``root`` (not following symlinks) with its type, size, mtime."""
    out: dict[str, tuple[str, int, int]] = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if exclude is not None:
            dirnames[:] = [d for d in dirnames if here / d != exclude]
        for name in dirnames + filenames:
            path = here / name
            if exclude is not None and path == exclude:
                continue
            info = path.lstat()
            kind = ("link" if stat.S_ISLNK(info.st_mode) else
                    "dir" if stat.S_ISDIR(info.st_mode) else
                    "file" if stat.S_ISREG(info.st_mode) else "special")
            size = info.st_size if kind == "file" else 0
            mtime = info.st_mtime_ns if kind == "file" else 0
            out[os.path.relpath(path, root)] = (kind, size, mtime)
    return out


@dataclass
class Guard:
    """Checks that a call left the catalog and the filesystem around it untouched."""

    catalog: ArtifactCatalog
    canary: Path
    home: Path

    def outside(self) -> dict[str, tuple[str, int, int]]:
        return listing(self.canary, exclude=self.home)

    def state(self) -> tuple[Snapshot, dict[str, tuple[str, int, int]]]:
        return snapshot(self.catalog), self.outside()

    def rejected(self, expected: type[ArchivistError] | tuple[type[ArchivistError], ...],
                 call: Callable[..., Any], *args: Any, **kwargs: Any) -> ArchivistError:
        """Run ``call``; it must raise ``expected`` and change nothing."""
        before, outside_before = self.state()
        with pytest.raises(ArchivistError) as info:
            call(*args, **kwargs)
        assert isinstance(info.value, expected), (
            f"expected {expected}, got {type(info.value).__name__}: {info.value}")
        after, outside_after = self.state()
        assert after == before, "a rejected input changed the catalog"
        assert outside_after == outside_before, "a rejected input touched files outside the store"
        return info.value

    def unchanged(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``call`` (a read); it must change nothing. Returns its result."""
        before, outside_before = self.state()
        result = call(*args, **kwargs)
        assert self.state() == (before, outside_before)
        return result

    def no_files_outside(self, call: Callable[..., Any], *args: Any,
                         allowed: tuple[str, ...] = (), **kwargs: Any) -> Any:
        """Run an accepted call; nothing outside the home may change except ``allowed``
        (paths relative to the canary folder, and everything under them)."""
        before = self.outside()
        result = call(*args, **kwargs)
        after = self.outside()

        def keep(items: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in items.items()
                    if not any(k == a or k.startswith(a + os.sep) for a in allowed)}

        assert keep(after) == keep(before), "files outside the store changed"
        return result


@dataclass
class NetworkLog:
    attempts: list[str] = field(default_factory=list)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_network_attempts: the call may try the network (to read an "
        "accepted remote reference); attempts are still refused, but not a failure")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch,
               request: pytest.FixtureRequest) -> Iterator[NetworkLog]:
    """Refuse and record every outbound connection or DNS lookup."""
    log = NetworkLog()
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        log.attempts.append(f"connect {address!r}")
        raise ConnectionRefusedError(111, "network disabled by the bad-input suite")

    def connect_ex(self: socket.socket, address: Any) -> int:
        log.attempts.append(f"connect_ex {address!r}")
        return 111

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        log.attempts.append(f"getaddrinfo {host!r}")
        raise socket.gaierror(socket.EAI_NONAME, "network disabled by the bad-input suite")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield log
    if request.node.get_closest_marker("allow_network_attempts") is None:
        assert not log.attempts, f"outbound network attempts: {log.attempts}"


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder that holds everything a test creates; the process temp dir too, so a
    stray ``tempfile`` write shows up in the listing."""
    root = tmp_path / "canary"
    systmp = root / "systmp"
    systmp.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    monkeypatch.setenv("TMPDIR", str(systmp))
    return root


@pytest.fixture
def home(canary: Path) -> Path:
    return canary / "home"


@pytest.fixture(scope="session")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated catalog home, made once: copying it is ~10x faster than
    migrating a new database for each of the suite's ~800 tests."""
    from tests.helpers import isolate_environment

    folder = tmp_path_factory.mktemp("template")
    with pytest.MonkeyPatch.context() as mp:
        isolate_environment(mp, folder)
        ArtifactCatalog(folder / "home").close()
    return folder / "home"


@pytest.fixture
def cat(make_catalog: Callable[..., ArtifactCatalog], home: Path,
        template_home: Path) -> ArtifactCatalog:
    shutil.copytree(template_home, home)
    return make_catalog(home)


@pytest.fixture
def guard(cat: ArtifactCatalog, canary: Path, home: Path) -> Guard:
    return Guard(cat, canary, home)


#: Queries with no distinctive user text (values of at most 3 characters) that together
#: use every construct of the query language: the SQL they run is "furniture".
BASELINE_QUERIES = [
    "ab", '"ab cd"', "-ab", "type:ab", "type:ab,cd*", "name:ab*", "name:ab", "project:ab",
    "alias:ab", "alias:ab*", "version:1", "version>=1", "pipeline:ab", "run:ab*", "step:ab",
    "digest:sha256:ab", "user:ab", "metadata.ab>=1", "metadata.ab=true", 'metadata.ab="x"',
    "metadata.ab.0<1", 'metadata."a b">1', "tags.ab>1", "tags.ab=true", 'tags.ab="x"',
    "tag.ab:x", "ab:x,y*", "ab=x", "ab!=x", "size>10MB", "size<=1", "created>=2024-01-01",
    "created=2024-01-01", "created<2024-01-01T10:30:00Z", "age<2d", "age>1h",
    "partition.ab=x", "partition.ab>x", "partition.ab:x*", "-ab:x", "-metadata.ab>1",
    "sort:-created", "sort:name", "sort:metadata.ab", "sort:-tags.ab", "sort:size", "sort:type",
    "sort:version", "downstream-of:ab:1", "upstream-of:ab:1~2", "downstream-of:ab@p",
    "ab sort:name", "ab cd -ef type:ab", "ab OR cd", "(ab OR type:ab) -(cd OR ef:x)",
    "ab OR downstream-of:ab:1", "-(ab cd) NOT (ef OR gh)", "(ab OR cd) sort:name",
]


def _furniture(make: Callable[[], ArtifactCatalog]) -> str:
    from tests.badinput.sqlcheck import recorded_sql, schema_words

    catalog = make()
    first = catalog.register("ab", "ab", tags={"ab": "x"}, metadata={"ab": 1},
                             partitions={"ab": "x"})
    catalog.register("ab", "ab", parent_ids=[first], aliases=["p"])
    texts: list[str] = []
    for query in BASELINE_QUERIES:
        with recorded_sql(catalog) as statements:
            catalog.search(query)
        texts += statements
    texts += sorted(schema_words(catalog))
    catalog.close()
    return "\n".join(texts)


@pytest.fixture(scope="session")
def sql_furniture(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The text of the SQL that queries without user text run (see ``sqlcheck.leaks``)."""
    from tests.helpers import isolate_environment

    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("furniture")
        isolate_environment(mp, folder)
        return _furniture(lambda: ArtifactCatalog(folder / "home"))
