"""b.6 Uploaded files and directories via ``register(path=...)`` (F1-F12).

Decisions found in ``store/manifest.py``: symlinks anywhere in a tree are refused (inside
or outside, with the entry named); FIFOs, sockets and devices are refused from their
directory entry without being opened; only regular files are recorded (empty folders are
not kept); names that are not UTF-8, hold control characters, ``\\`` or ``#``, collide
after NFC normalization, or that a filesystem could take for ``.git`` are refused; at most
1,000,000 files and 256 levels. A symlink given as the top-level ``path`` itself is
followed (the user named it, ``content.py``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import socket
import stat
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from archivist import (
    ArtifactCatalog,
    InvalidInputError,
    PermissionDeniedError,
    StorageError,
)
from archivist.store import fscalls
from tests.badinput.conftest import Guard, listing


@pytest.fixture
def tree(canary: Path) -> Path:
    """A small valid tree next to a secret file that must never be stored."""
    root = canary / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub" / "b.txt").write_bytes(b"beta")
    (canary / "secret.txt").write_bytes(b"TOP SECRET BYTES")
    return root


def secret_digest() -> str:
    return "sha256:" + hashlib.sha256(b"TOP SECRET BYTES").hexdigest()


def refused(guard: Guard, cat: ArtifactCatalog, root: Path, entry: str,
            error: type[Exception] = InvalidInputError) -> None:
    err = guard.rejected(error, cat.register, "tree", path=root)  # type: ignore[arg-type]
    assert entry in str(err), f"the error does not name {entry!r}: {err}"
    assert secret_digest() not in guard.state()[0].blobs


# -- F1-F3 symlinks ---------------------------------------------------------------------------

def test_F1_symlink_to_outside_file(guard: Guard, cat: ArtifactCatalog, tree: Path,
                                    canary: Path) -> None:
    (tree / "link.txt").symlink_to("../secret.txt")
    refused(guard, cat, tree, "link.txt")


def test_F1_absolute_symlink_to_outside_file(guard: Guard, cat: ArtifactCatalog, tree: Path,
                                             canary: Path) -> None:
    (tree / "sub" / "abs.txt").symlink_to(canary / "secret.txt")
    refused(guard, cat, tree, "sub/abs.txt")


def test_F2_symlink_to_outside_directory(guard: Guard, cat: ArtifactCatalog, tree: Path,
                                         canary: Path) -> None:
    (tree / "etc").symlink_to("/etc")
    refused(guard, cat, tree, "etc")


def test_F2_symlink_to_parent_directory(guard: Guard, cat: ArtifactCatalog, tree: Path) -> None:
    (tree / "up").symlink_to("..")
    refused(guard, cat, tree, "up")


@pytest.mark.parametrize(("name", "target"), [("a-link", "a.txt"), ("loop", "."),
                                              ("self", "self"), ("dangling", "missing"),
                                              ("sub/back", "..")],
                         ids=["F3-in-tree-file", "F3-loop-dot", "F3-self-loop", "F3-dangling",
                              "F3-loop-parent"])
@pytest.mark.timeout(30)
def test_F3_in_tree_symlinks_refused_without_recursion(guard: Guard, cat: ArtifactCatalog,
                                                       tree: Path, name: str,
                                                       target: str) -> None:
    """Decision: in-tree links are refused too (neither stored as links nor followed)."""
    (tree / name).symlink_to(target)
    refused(guard, cat, tree, name)


def test_F1_top_level_symlink_is_followed(guard: Guard, cat: ArtifactCatalog, tree: Path,
                                          canary: Path) -> None:
    """Decision (content.py ``_from_path``): the path the user passes may itself be a
    symlink; it is resolved once, and the tree behind it is checked as usual."""
    link = canary / "tree-link"
    link.symlink_to(tree)
    version_id = guard.no_files_outside(cat.register, "tree", path=link)
    assert cat.get(version_id).metadata["files"] == 2


# -- F4 special files ---------------------------------------------------------------------------

@pytest.mark.timeout(30)
def test_F4_fifo_in_tree_never_blocks(guard: Guard, cat: ArtifactCatalog, tree: Path) -> None:
    os.mkfifo(tree / "sub" / "pipe")
    refused(guard, cat, tree, "sub/pipe")


@pytest.mark.timeout(30)
def test_F4_fifo_as_path_never_blocks(guard: Guard, cat: ArtifactCatalog, canary: Path) -> None:
    os.mkfifo(canary / "pipe")
    guard.rejected(InvalidInputError, cat.register, "f", path=canary / "pipe")


@pytest.mark.timeout(30)
def test_F4_socket_in_tree(guard: Guard, cat: ArtifactCatalog, tree: Path) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(tree / "sock"))
        refused(guard, cat, tree, "sock")
    finally:
        server.close()


@pytest.mark.timeout(30)
def test_F4_device_node_in_tree(guard: Guard, cat: ArtifactCatalog, tree: Path) -> None:
    try:
        os.mknod(tree / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot create a device node here: {exc}")
    refused(guard, cat, tree, "null")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_F4_device_as_path_never_read(guard: Guard, cat: ArtifactCatalog, device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    guard.rejected(InvalidInputError, cat.register, "f", path=device)


# -- F5 changing files ---------------------------------------------------------------------------

def _blob_bytes_match(cat: ArtifactCatalog, version_id: str) -> None:
    art = cat.get(version_id)
    assert art.digest is not None
    with cat.blobs.open(art.digest) as stored:  # rehashed as it is read, on every store
        data = stored.read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == art.digest
    assert len(data) == art.size
    assert cat.verify().ok


@pytest.mark.timeout(60)
@pytest.mark.parametrize("change", ["append", "truncate", "rewrite"])
def test_F5_file_changing_while_registered(cat: ArtifactCatalog, canary: Path,
                                           change: str) -> None:
    """Either a consistent snapshot or a typed error; never a blob whose bytes differ from
    its digest."""
    path = canary / "growing.bin"
    path.write_bytes(os.urandom(24 * 1024 * 1024))
    stop = threading.Event()

    def mutate() -> None:
        while not stop.is_set():
            if change == "append":
                with path.open("ab") as f:
                    f.write(os.urandom(64 * 1024))
            elif change == "truncate":
                with path.open("r+b") as f:
                    f.truncate(max(0, path.stat().st_size - 1024 * 1024))
            else:
                with path.open("r+b") as f:
                    f.seek(int.from_bytes(os.urandom(3), "big") % (16 * 1024 * 1024))
                    f.write(os.urandom(4096))
            time.sleep(0.001)

    worker = threading.Thread(target=mutate)
    worker.start()
    try:
        try:
            version_id = cat.register("growing", path=path)
        except (InvalidInputError, StorageError):
            return
    finally:
        stop.set()
        worker.join()
    _blob_bytes_match(cat, version_id)
    assert not list(cat.blobs.temp_files())


# -- F6 unreadable file ------------------------------------------------------------------------

@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make one file unreadable. ``chmod 000`` does not stop root (CI runs as root), so
    the denial is injected at the blob store's filesystem seam, where every read of a
    source goes: the same EACCES the kernel would give any other user."""
    denied: set[str] = set()

    def hook(op: str, target: str | int) -> None:
        if op == "open" and isinstance(target, str) and os.path.abspath(target) in denied:
            raise PermissionError(errno.EACCES, "Permission denied", target)

    monkeypatch.setattr(fscalls.LOCAL_FS, "hook", hook)
    return lambda path: denied.add(os.path.abspath(path))


def test_F6_unreadable_file_in_tree(guard: Guard, cat: ArtifactCatalog, tree: Path,
                                    unreadable: Callable[[Path], None]) -> None:
    locked = tree / "sub" / "locked.bin"
    locked.write_bytes(b"no access")
    unreadable(locked)
    refused(guard, cat, tree, "locked.bin", PermissionDeniedError)
    assert not list(cat.blobs.temp_files())


def test_F6_unreadable_file_as_path(guard: Guard, cat: ArtifactCatalog, canary: Path,
                                    unreadable: Callable[[Path], None]) -> None:
    locked = canary / "locked.bin"
    locked.write_bytes(b"no access")
    unreadable(locked)
    guard.rejected(PermissionDeniedError, cat.register, "f", path=locked)


# -- F7 empty things ----------------------------------------------------------------------------

def test_F7_empty_file(guard: Guard, cat: ArtifactCatalog, canary: Path) -> None:
    (canary / "empty.bin").write_bytes(b"")
    version_id = guard.no_files_outside(cat.register, "empty", path=canary / "empty.bin")
    art = cat.get(version_id)
    assert art.size == 0 and art.digest == "sha256:" + hashlib.sha256(b"").hexdigest()
    assert cat.load(version_id) == b""


def test_F7_empty_directory(guard: Guard, cat: ArtifactCatalog, canary: Path) -> None:
    """Decision: an empty folder is a directory version with no files."""
    (canary / "emptydir").mkdir()
    version_id = guard.no_files_outside(cat.register, "emptydir", path=canary / "emptydir")
    assert cat.get(version_id).size == 0
    cat.download(version_id, canary / "back")
    assert list((canary / "back").iterdir()) == []


def test_F7_empty_subfolders_are_not_kept(cat: ArtifactCatalog, tree: Path,
                                          canary: Path) -> None:
    """Decision: only files are recorded; an empty subfolder does not come back."""
    (tree / "nothing" / "here").mkdir(parents=True)
    version_id = cat.register("tree", path=tree)
    cat.download(version_id, canary / "back")
    assert sorted(p.relative_to(canary / "back").as_posix()
                  for p in (canary / "back").rglob("*")) == ["a.txt", "sub", "sub/b.txt"]


@pytest.mark.needs("local_files")  # fails on PostgreSQL + S3 today (see docs/reliability.md)
@pytest.mark.timeout(60)
def test_F7_many_empty_files(cat: ArtifactCatalog, canary: Path) -> None:
    root = canary / "many"
    root.mkdir()
    for i in range(2000):
        (root / f"f{i:05d}").touch()
    start = time.perf_counter()
    version_id = cat.register("many", path=root)
    assert time.perf_counter() - start < 20
    assert cat.get(version_id).metadata["files"] == 2000
    cat.download(version_id, canary / "back")
    assert len(os.listdir(canary / "back")) == 2000


# -- F8 awkward names ---------------------------------------------------------------------------

REFUSED_NAMES = [("F8-newline", "new\nline.txt"), ("F8-cr", "cr\r.txt"),
                 ("F8-backslash", "back\\slash.txt"), ("F8-tab", "tab\t.txt"),
                 ("F8-escape", "esc\x1b[31m.txt"), ("F8-hash", "issue#1.txt"),
                 ("F8-encoded-dotdot", "%2e%2e"), ("F8-encoded-slash-dotdot", "a%2f..%2fb"),
                 ("F8-encoded-nul", "a%00b")]


@pytest.mark.parametrize("name", [n for _, n in REFUSED_NAMES], ids=[i for i, _ in REFUSED_NAMES])
def test_F8_refused_file_names(guard: Guard, cat: ArtifactCatalog, tree: Path,
                               name: str) -> None:
    (tree / "sub" / name).write_bytes(b"x")
    guard.rejected(InvalidInputError, cat.register, "tree", path=tree)


def test_F8_undecodable_file_name(guard: Guard, cat: ArtifactCatalog, tree: Path) -> None:
    fd = os.open(os.fsencode(tree) + b"/\xff.txt", os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)
    err = guard.rejected(InvalidInputError, cat.register, "tree", path=tree)
    assert "xff" in str(err)


ACCEPTED_NAMES = [("F8-colon", "a:b.txt"), ("F8-star", "a*b.txt"), ("F8-question", "a?b.txt"),
                  ("F8-trailing-dot", "trailing."), ("F8-trailing-space", "trailing "),
                  ("F8-leading-dash", "-rf"), ("F8-percent-literal", "a%20b.txt"),
                  ("F8-percent-alone", "100%.txt"), ("F8-quote", "it's \"q\".txt"),
                  ("F8-unicode", "naïve-日本.txt"), ("F8-device-name", "CON"),
                  ("F8-dotfile", ".env"), ("F8-long-255", "n" * 255)]


@pytest.mark.parametrize("name", [n for _, n in ACCEPTED_NAMES],
                         ids=[i for i, _ in ACCEPTED_NAMES])
def test_F8_portable_enough_names_round_trip(guard: Guard, cat: ArtifactCatalog, tree: Path,
                                             canary: Path, name: str) -> None:
    (tree / "sub" / name).write_bytes(b"odd name")
    version_id = guard.no_files_outside(cat.register, "tree", path=tree)
    cat.download(version_id, canary / "back")
    assert (canary / "back" / "sub" / name).read_bytes() == b"odd name"


# -- F9/F10/F11 collisions and .git ---------------------------------------------------------------

def test_F9_case_variants_register_and_round_trip(guard: Guard, cat: ArtifactCatalog,
                                                  tree: Path, canary: Path) -> None:
    (tree / "A.txt").write_bytes(b"upper")
    (tree / "a.TXT").write_bytes(b"lower")
    version_id = guard.no_files_outside(cat.register, "tree", path=tree)
    cat.download(version_id, canary / "back")
    assert (canary / "back" / "A.txt").read_bytes() == b"upper"
    assert (canary / "back" / "a.TXT").read_bytes() == b"lower"
    assert (canary / "back" / "a.txt").read_bytes() == b"alpha"


def test_F10_nfc_and_nfd_twins_refused(guard: Guard, cat: ArtifactCatalog, tree: Path) -> None:
    nfc = unicodedata.normalize("NFC", "caf\u00e9.txt")
    nfd = unicodedata.normalize("NFD", "caf\u00e9.txt")
    assert nfc != nfd
    (tree / nfc).write_bytes(b"nfc")
    (tree / nfd).write_bytes(b"nfd")
    guard.rejected(InvalidInputError, cat.register, "tree", path=tree)


def test_F10_single_nfd_name_round_trips(cat: ArtifactCatalog, tree: Path,
                                         canary: Path) -> None:
    nfd = unicodedata.normalize("NFD", "caf\u00e9.txt")
    (tree / nfd).write_bytes(b"nfd")
    version_id = cat.register("tree", path=tree)
    cat.download(version_id, canary / "back")
    assert (canary / "back" / nfd).read_bytes() == b"nfd"


GIT_ALIASES = [("F11-dot-git", ".git/hooks/pre-commit"), ("F11-upper", ".GIT/config"),
               ("F11-short-name", "git~1/config"), ("F11-zwnj", ".g\u200cit/config"),
               ("F11-trailing-dot", ".git./config"), ("F11-nested", "sub/.git/config"),
               ("F11-git-file", "sub/.git"), ("F11-mixed-case", ".Git/HEAD"),
               ("F11-trailing-space", ".git /config"), ("F11-bom", "\ufeff.git/config")]


@pytest.mark.parametrize("rel", [r for _, r in GIT_ALIASES], ids=[i for i, _ in GIT_ALIASES])
def test_F11_git_aliases_refused(guard: Guard, cat: ArtifactCatalog, tree: Path,
                                 rel: str) -> None:
    """Decision: refused at register (never stored, so never materialized)."""
    target = tree / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"#!/bin/sh\ntouch pwned\n")
    guard.rejected(InvalidInputError, cat.register, "tree", path=tree)


def test_F11_gitignore_and_github_are_fine(cat: ArtifactCatalog, tree: Path) -> None:
    (tree / ".gitignore").write_bytes(b"*.pyc\n")
    (tree / ".github").mkdir()
    (tree / ".github" / "ci.yml").write_bytes(b"on: push\n")
    (tree / "git").mkdir()
    (tree / "git" / "x").write_bytes(b"x")
    assert cat.get(cat.register("tree", path=tree)).metadata["files"] == 5


# -- F12 depth and length ----------------------------------------------------------------------

def _deep(root: Path, levels: int, segment: str) -> None:
    """Create ``levels`` nested folders (through descriptors: no PATH_MAX limit) and a file
    at the bottom."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(levels):
            os.mkdir(segment, dir_fd=fd)
            child = os.open(segment, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
        leaf = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"deep")
        os.close(leaf)
    finally:
        os.close(fd)


def _remove_deep(root: Path, levels: int, segment: str) -> None:
    """Remove what ``_deep`` made, bottom-up through descriptors (``shutil.rmtree``
    recurses once per level and would hit the recursion limit)."""
    fds = [os.open(root, os.O_RDONLY)]
    try:
        for _ in range(levels):
            try:
                fds.append(os.open(segment, os.O_RDONLY, dir_fd=fds[-1]))
            except FileNotFoundError:
                break
        with contextlib.suppress(FileNotFoundError):
            os.unlink("leaf.txt", dir_fd=fds[-1])
        while len(fds) > 1:
            os.close(fds.pop())
            os.rmdir(segment, dir_fd=fds[-1])
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("levels", "segment"), [(257, "d"), (1000, "d"), (20, "s" * 250)],
                         ids=["F12-257-levels", "F12-1000-levels", "F12-longer-than-PATH_MAX"])
def test_F12_too_deep_or_too_long_is_a_typed_error(guard: Guard, cat: ArtifactCatalog,
                                                   tmp_path: Path, levels: int,
                                                   segment: str) -> None:
    root = tmp_path / "deep"  # outside the canary: its listing cannot walk past PATH_MAX
    root.mkdir()
    _deep(root, levels, segment)
    try:
        guard.rejected(InvalidInputError, cat.register, "deep", path=root)
    finally:
        _remove_deep(root, levels, segment)


@pytest.mark.timeout(60)
def test_F12_deep_but_legal_tree_round_trips(cat: ArtifactCatalog, canary: Path) -> None:
    root = canary / "deep"
    root.mkdir()
    _deep(root, 200, "d")
    version_id = cat.register("deep", path=root)
    cat.download(version_id, canary / "back")
    leaf = canary / "back" / "/".join(["d"] * 200) / "leaf.txt"
    assert leaf.read_bytes() == b"deep"


def test_tree_download_leaves_source_untouched(cat: ArtifactCatalog, tree: Path,
                                               canary: Path) -> None:
    before = listing(tree)
    version_id = cat.register("tree", path=tree)
    cat.download(version_id, canary / "back")
    assert listing(tree) == before


@pytest.mark.parametrize("path", [3, b"/tmp", ["a"]], ids=["path-int", "path-bytes",
                                                          "path-list"])
def test_path_must_be_a_path(guard: Guard, cat: ArtifactCatalog, path: object) -> None:
    guard.rejected(InvalidInputError, cat.register, "f", path=path)


def test_missing_path(guard: Guard, cat: ArtifactCatalog, canary: Path) -> None:
    guard.rejected(InvalidInputError, cat.register, "f", path=canary / "missing")


def test_only_one_content_source(guard: Guard, cat: ArtifactCatalog, tree: Path) -> None:
    guard.rejected(InvalidInputError, cat.register, "f", path=tree, data=b"x")
    guard.rejected(InvalidInputError, cat.register, "f", path=tree, uri="s3://b/k")
