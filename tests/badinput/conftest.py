"""Fixtures of the bad-input suite (reliability.md part (b), d.5 B1).

Every test gets a *canary* folder that holds the catalog home and everything else the
test creates (source trees, download targets, the process temp dir). ``guard.rejected``
runs a call that must fail and checks the three things part (b) asks of a rejection:

1. the documented typed error (never another exception type),
2. the catalog snapshot (row counts, blob set, files under the home) is unchanged,
3. nothing outside the store changed (the canary folder, minus the home, is unchanged).

An autouse fixture also fails the test on any outbound network attempt (``connect`` or a
DNS lookup): no bad input may make the library talk to the network. The only addresses let
through are the 127.0.0.1 services of the test's own backend (its PostgreSQL cluster and
S3 server, ``Capabilities.services``); any other address, loopback included, is refused
and fails the test.

It is one module of a little over 400 lines on purpose: the guard, the snapshot it takes on
each backend and the fixtures that open those backends read best together.

Backends (B1: every entry x backend). ``cat`` is opened by the shared openers of
tests/fixtures/backends.py for each backend of ``BACKENDS``: sqlite (a copy of a migrated
template home in the canary folder), postgres (PostgreSQL rows + S3 objects; the database
is a copy of a migrated template database), and remote-sqlite / remote-postgres (the
remote client against an in-process server on a local home / on PostgreSQL + S3). The
snapshot of a rejection covers, on each: row counts of the catalog's database (the
server's, for a remote catalog), its blob digests, and every file or object under the
store's roots (the home; the bucket prefix; the server's home or bucket prefix, and the
spool folder its uploads go through).

A test that needs a local home (file references, download targets in the store) says so
once, ``@pytest.mark.needs("<Capabilities field>")``, and runs where that holds. Cost:
every case runs on sqlite; the other backends run the first case of each test (each rule
on each surface, not each value) and no property test (500 examples each).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import pytest

from archivist import ArchivistError, ArtifactCatalog
from tests.fixtures.backends import BACKENDS, OPENERS, SERVER_SETTINGS, Capabilities
from tests.fixtures.postgres import PostgresCluster
from tests.helpers import VOLATILE, Snapshot, snapshot


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


def store_listing(root: str) -> dict[str, int]:
    """Every file (local folder) or object (``s3://bucket/prefix``) under ``root``, with its
    size; the files a local catalog rewrites without a logical change (``VOLATILE``) are
    left out."""
    if "://" not in root:
        return {path: size for path, (kind, size, _mtime) in listing(Path(root)).items()
                if kind != "dir" and Path(path).name not in VOLATILE}
    fs, path = fsspec.core.url_to_fs(root)
    fs.invalidate_cache()
    found: dict[str, dict[str, Any]] = fs.find(path, detail=True)
    return {key: int(info.get("size") or 0) for key, info in found.items()}


@dataclass
class Guard:
    """Checks that a call left the catalog and the filesystem around it untouched.

    ``stores`` are the roots (folders or object-store URLs) where the catalog keeps its
    blobs, temp files and spools; ``exclude`` are the folders under ``canary`` that belong
    to the store (the home, the spool folder), left out of the "outside" listing.
    """

    catalog: ArtifactCatalog
    canary: Path
    home: Path
    stores: tuple[str, ...] = ()
    exclude: tuple[Path, ...] = ()

    def outside(self) -> dict[str, tuple[str, int, int]]:
        found = listing(self.canary, exclude=self.home)
        for folder in self.exclude:
            rel = os.path.relpath(folder, self.canary)
            found = {k: v for k, v in found.items() if k != rel and not k.startswith(rel + os.sep)}
        return found

    def state(self) -> tuple[Snapshot, dict[str, dict[str, int]],
                             dict[str, tuple[str, int, int]]]:
        return (snapshot(self.catalog), {root: store_listing(root) for root in self.stores},
                self.outside())

    def rejected(self, expected: type[ArchivistError] | tuple[type[ArchivistError], ...],
                 call: Callable[..., Any], *args: Any, **kwargs: Any) -> ArchivistError:
        """Run ``call``; it must raise ``expected`` and change nothing."""
        before, stores_before, outside_before = self.state()
        with pytest.raises(ArchivistError) as info:
            call(*args, **kwargs)
        assert isinstance(info.value, expected), (
            f"expected {expected}, got {type(info.value).__name__}: {info.value}")
        after, stores_after, outside_after = self.state()
        assert after == before, "a rejected input changed the catalog"
        assert stores_after == stores_before, "a rejected input left files in the store"
        assert outside_after == outside_before, "a rejected input touched files outside the store"
        return info.value

    def unchanged(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``call`` (a read); it must change nothing. Returns its result."""
        before = self.state()
        result = call(*args, **kwargs)
        assert self.state() == before
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
    #: (host, port) of the test's own services, the only addresses let through
    allowed: set[tuple[str, int]] = field(default_factory=set)

    def allow(self, url: str) -> None:
        """Let connections to the ``127.0.0.1`` service at ``url`` through."""
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.port, f"not a loopback service: {url}"
        self.allowed.add((parts.hostname, parts.port))

    def lets_through(self, host: Any, port: Any) -> bool:
        try:
            return (str(host), int(port)) in self.allowed
        except (TypeError, ValueError):
            return False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_network_attempts: the call may try the network (to read an "
        "accepted remote reference); attempts are still refused, but not a failure")
    config.addinivalue_line(
        "markers", "needs(*capabilities): run only on the backends whose Capabilities "
        "have these fields true (tests/fixtures/backends.py)")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch,
               request: pytest.FixtureRequest) -> Iterator[NetworkLog]:
    """Refuse and record every outbound connection or DNS lookup, except to the test's
    own 127.0.0.1 services: those its backend names in ``Capabilities.services``, started
    (session fixtures) before the refusal begins."""
    log = NetworkLog()
    callspec = getattr(request.node, "callspec", None)
    backend = callspec.params.get("backend_name") if callspec is not None else None
    for service in BACKENDS[backend].services if backend is not None else ():
        log.allow(_service_url(request.getfixturevalue(service)))
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_UNIX or (
                isinstance(address, tuple) and log.lets_through(*address[:2])):
            return real_connect(self, address)
        log.attempts.append(f"connect {address!r}")
        raise ConnectionRefusedError(111, "network disabled by the bad-input suite")

    def connect_ex(self: socket.socket, address: Any) -> int:
        if isinstance(address, tuple) and log.lets_through(*address[:2]):
            return real_connect_ex(self, address)
        log.attempts.append(f"connect_ex {address!r}")
        return 111

    def getaddrinfo(host: Any, port: Any = None, *args: Any, **kwargs: Any) -> Any:
        if log.lets_through(host, port):
            return real_getaddrinfo(host, port, *args, **kwargs)
        log.attempts.append(f"getaddrinfo {host!r} {port!r}")
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that opens a catalog on each backend that has the capabilities its
    ``needs`` marks name."""
    if "backend_name" not in metafunc.fixturenames:
        return
    needed = [name for mark in metafunc.definition.iter_markers("needs") for name in mark.args]
    names = [name for name, capabilities in sorted(BACKENDS.items())
             if all(getattr(capabilities, need) for need in needed)]
    metafunc.parametrize("backend_name", names, scope="function")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The cost rule (see the module docstring): on every backend but sqlite, only the
    first case of each parametrized test, and no property test (500 examples each)."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    seen: set[tuple[str, str]] = set()  # (test function, backend) already kept once
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend_name") if callspec is not None else None
        if not item.path.is_relative_to(Path(__file__).parent):
            backend = None  # this hook sees every suite's items: only this suite's count
        function = item.nodeid.split("[", 1)[0]
        hypothesis = getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
        if backend in (None, "sqlite") or ((function, backend) not in seen and not hypothesis):
            kept.append(item)
            seen.add((function, str(backend)))
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def make_catalog(make_catalog: Callable[..., ArtifactCatalog], home: Path,
                 template_home: Path) -> Callable[..., ArtifactCatalog]:
    """The sqlite opener's factory (see tests/conftest.py), making its catalog in ``home``
    from a copy of the migrated template."""
    def make(folder: Path | None = None, **kwargs: object) -> ArtifactCatalog:
        if folder is None:
            shutil.copytree(template_home, home)
            folder = home
        return make_catalog(folder, **kwargs)

    return make


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: PostgresCluster,
                      tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated catalog database on the session's cluster, to copy for each test."""
    name = postgres_cluster.create_database()
    ArtifactCatalog(postgres_cluster.url(name),
                    blobs=str(tmp_path_factory.mktemp("template-blobs"))).close()
    return name


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster, postgres_template: str) -> Iterator[str]:
    """Overrides tests/fixtures/postgres.py's: a fresh copy of the migrated template (the
    postgres openers take it from here)."""
    name = postgres_cluster.create_database(template=postgres_template)
    try:
        yield postgres_cluster.url(name)
    finally:
        with contextlib.suppress(Exception):  # the cluster dies with the session anyway
            postgres_cluster.drop_database(name)


@pytest.fixture
def capabilities(backend_name: str) -> Capabilities:
    return BACKENDS[backend_name]


@pytest.fixture
def cat(backend_name: str, request: pytest.FixtureRequest) -> Iterator[ArtifactCatalog]:
    """The test's catalog on ``backend_name``, opened by the shared opener."""
    with OPENERS[backend_name](request) as opened:
        yield opened


def _service_url(value: Any) -> str:
    return value if isinstance(value, str) else value.url("postgres")


@pytest.fixture
def guard(cat: ArtifactCatalog, canary: Path, home: Path, capabilities: Capabilities,
          request: pytest.FixtureRequest) -> Guard:
    """The guard of ``cat``, with the store roots of its backend: the blob store (a
    folder or a bucket prefix; for a remote catalog, the server's, looked at directly),
    the server's home, and the spool folder uploads go through."""
    spools = Path(tempfile.gettempdir()) / "archivist-spools"  # in the canary folder
    stores: tuple[str, ...] = (str(spools),)
    if capabilities.server_blobs:
        settings = request.node.stash[SERVER_SETTINGS]
        stores += (settings.blobs_url("default"),)
        if settings.home is not None:
            stores += (settings.home,)
    else:
        stores += (cat.blobs.url,)  # type: ignore[attr-defined]  # LocalBlobs, FsspecBlobs
    return Guard(cat, canary, home, stores=stores, exclude=(spools,))


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
