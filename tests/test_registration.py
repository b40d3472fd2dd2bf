"""Registration's shortcuts: what it skips, and that the guarantees behind them hold."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archivist import (
    ArtifactCatalog,
    ArtifactNotFoundError,
    ConflictError,
    DuplicateArtifactWarning,
)
from archivist.materializers.builtin import JsonMaterializer, TextMaterializer
from archivist.materializers.registry import IN_MEMORY_LIMIT
from archivist.store.hashing import hash_bytes


def count_calls(monkeypatch: pytest.MonkeyPatch, obj: object, name: str) -> list[Any]:
    """Wrap ``obj.name`` so each call's arguments are appended to the returned list."""
    calls: list[Any] = []
    real = getattr(obj, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(obj, name, counted)
    return calls


def test_parents_this_catalog_committed_are_not_looked_up(
        local_catalog: ArtifactCatalog, make_catalog: Callable[..., ArtifactCatalog],
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = local_catalog.register("raw", data="a")
    other = make_catalog(local_catalog.home)  # same store, another registrar
    foreign = other.register("foreign", data="b")
    lookups = count_calls(monkeypatch, local_catalog.backend, "get_versions_by_id")
    child = local_catalog.register("features", data="c", parent_ids=[first])
    assert lookups == []
    grandchild = local_catalog.register("model", data="d", parent_ids=[child, foreign])
    assert lookups == [([foreign],)]  # only the one it did not write itself
    assert local_catalog.get_lineage(child, direction="up")["parents"] == [first]
    assert set(local_catalog.get_lineage(grandchild, direction="up")["parents"]) == {
        child, foreign}


def test_a_missing_parent_still_fails_and_registers_nothing(
        local_catalog: ArtifactCatalog) -> None:
    known = local_catalog.register("raw", data="a")
    missing = "01890000-0000-7000-8000-000000000000"
    with pytest.raises(ArtifactNotFoundError):
        local_catalog.register("features", data="c", parent_ids=[known, missing])
    assert local_catalog.list(name="features") == []


def test_spelling_is_looked_up_once_per_name_and_case_conflicts_still_fail(
        local_catalog: ArtifactCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    local_catalog.register("Model", data="v1")
    lookups = count_calls(monkeypatch, local_catalog.backend, "spelling")
    local_catalog.register("Model", data="v2")
    assert lookups == []
    with pytest.raises(ConflictError, match="'Model' already exists"):
        local_catalog.register("model", data="v3")
    assert len(lookups) == 1
    assert [a.version for a in local_catalog.versions("Model")] == [1, 2]


def test_duplicate_lookup_only_when_the_warning_can_show(
        local_catalog: ArtifactCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    local_catalog.register("a", data="same bytes")
    lookups = count_calls(monkeypatch, local_catalog.backend, "find_digest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateArtifactWarning)
        local_catalog.register("b", data="same bytes")
    assert lookups == []
    with warnings.catch_warnings():  # a filter on the message text: cannot be sure
        warnings.filterwarnings("ignore", message="unrelated", category=DuplicateArtifactWarning)
        with pytest.warns(DuplicateArtifactWarning, match="already in the catalog as "):
            local_catalog.register("c", data="same bytes")
    assert len(lookups) == 1


@pytest.mark.parametrize("value", ["some text", {"rows": [1, 2, 3]}, b"raw bytes"],
                         ids=["text", "json", "bytes"])
def test_small_values_land_without_a_scratch_file(
        local_catalog: ArtifactCatalog, monkeypatch: pytest.MonkeyPatch, value: Any) -> None:
    def no_file(*_args: Any) -> dict[str, Any]:
        raise AssertionError("a small value was written to a scratch file")

    for cls in (TextMaterializer, JsonMaterializer):
        monkeypatch.setattr(cls, "save", no_file)
    monkeypatch.setattr("archivist.catalog.content.tempfile.mkdtemp", no_file)
    art = local_catalog.get(local_catalog.register("v", data=value))
    assert local_catalog.load(art) == value
    expected = {"text": {"encoding": "utf-8"}}.get(art.format or "", {})
    assert art.metadata == expected


def test_a_large_text_value_goes_through_a_file(local_catalog: ArtifactCatalog,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    saved = count_calls(monkeypatch, TextMaterializer, "save")
    text = "x" * (IN_MEMORY_LIMIT + 1)
    art = local_catalog.get(local_catalog.register("big", data=text))
    assert len(saved) == 1 and art.size == IN_MEMORY_LIMIT + 1
    assert local_catalog.load(art) == text


def test_a_blob_removed_before_the_commit_is_landed_again_from_memory(
        local_catalog: ArtifactCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """A racing gc freed the blob between landing and the lease: the registration puts the
    bytes back from the value it holds (no file to read them from)."""
    backend = local_catalog.backend
    real = backend.create_versions

    def gc_meanwhile(records: Any) -> None:
        for record in records:
            local_catalog.blobs.delete(record.digest)
        real(records)

    monkeypatch.setattr(backend, "create_versions", gc_meanwhile)
    art = local_catalog.get(local_catalog.register("v", data={"k": "v"}))
    assert art.digest is not None and local_catalog.blobs.exists(art.digest)
    assert local_catalog.load(art) == {"k": "v"}
    assert local_catalog.verify().ok



def test_a_tree_blob_freed_after_the_hint_check_is_landed_again(
        local_catalog: ArtifactCatalog, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Re-registering a tree, its unchanged files are not read again (the hash cache says
    their blobs are present). A gc that frees one of those blobs before the commit: the
    registration lands it again from the file."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(30):
        (tree / f"f{i:02d}.txt").write_text(f"file {i}")
    time.sleep(0.3)  # older than the hash cache's racy window
    first = local_catalog.get(local_catalog.register("tree", path=tree))
    (tree / "f00.txt").write_text("changed")
    time.sleep(0.3)  # and the blob folders too
    unchanged = hash_bytes(b"file 7")
    backend = local_catalog.backend
    real = backend.create_versions

    def gc_meanwhile(records: Any) -> None:
        local_catalog.blobs.delete(unchanged)
        real(records)

    monkeypatch.setattr(backend, "create_versions", gc_meanwhile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateArtifactWarning)
        second = local_catalog.get(local_catalog.register("tree", path=tree))
    assert second.digest != first.digest
    assert local_catalog.blobs.exists(unchanged)
    assert local_catalog.verify().ok
    out = tmp_path / "out"
    local_catalog.download(second, out)
    assert (out / "f07.txt").read_text() == "file 7"


def test_the_commit_ends_the_leases_without_another_write(
        local_catalog: ArtifactCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    releases = count_calls(monkeypatch, local_catalog.backend, "release_blobs")
    local_catalog.register("v", data="leased, then committed")
    assert releases == []
    assert local_catalog.backend.leased_digests(time.time()) == set()
