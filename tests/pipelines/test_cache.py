"""``@step(cache=True)``: reuse stored outputs when the code and the inputs are unchanged."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from archivist import ArtifactCatalog, pipeline, step


def _counting(calls: list[str], name: str = "train", *, factor: int = 2,
              outputs: list[str] | None = None) -> Callable[..., Any]:
    if factor == 2:
        def train(values: list[int], lr: float = 0.1) -> Any:
            calls.append(name)
            result = [v * 2 for v in values]
            return (result, sum(result)) if outputs else result
    else:
        def train(values: list[int], lr: float = 0.1) -> Any:
            calls.append(name)
            result = [v * 3 for v in values]
            return (result, sum(result)) if outputs else result
    return step(name=name, cache=True, outputs=outputs)(train)


@step
def source(n: int) -> list[int]:
    return list(range(n))


def _run(catalog: ArtifactCatalog, fn: Callable[..., Any], n: int = 3,
         **kw: Any) -> tuple[Any, str]:
    with pipeline("cached", catalog=catalog) as run:
        out = fn(source(n), **kw)
    return out, run.id


def test_same_code_and_inputs_hit_the_cache(local_catalog: ArtifactCatalog) -> None:
    calls: list[str] = []
    train = _counting(calls)
    first, run1 = _run(local_catalog, train)
    second, run2 = _run(local_catalog, train)
    assert first == second == [0, 2, 4]
    assert calls == ["train"], "the second call did not run"
    task1 = local_catalog.get_run(run1).task("train")
    task2 = local_catalog.get_run(run2).task("train")
    assert (task1.cached, task2.cached) == (False, True)
    assert task2.produced == task1.produced and task2.data == task1.data
    assert task2.details["cached_from"] == task1.id
    assert task2.cache_key == task1.cache_key is not None
    assert len(local_catalog.versions("train")) == 1, "nothing registered again"
    assert local_catalog.get_run(run2).produced[-1] in task1.produced or set(
        task1.produced) <= set(local_catalog.get_run(run2).produced)


def test_cached_values_link_later_steps(local_catalog: ArtifactCatalog) -> None:
    calls: list[str] = []
    train = _counting(calls)

    @step
    def evaluate(predictions: list[int]) -> int:
        return sum(predictions)

    _run(local_catalog, train)
    with pipeline("cached", catalog=local_catalog):
        evaluate(train(source(3)))
    assert calls == ["train"]
    assert local_catalog.get("evaluate").parent_ids == [local_catalog.get("train").id]


def test_changed_inputs_miss(local_catalog: ArtifactCatalog) -> None:
    calls: list[str] = []
    train = _counting(calls)
    _run(local_catalog, train, n=3)
    _run(local_catalog, train, n=4)
    _run(local_catalog, train, n=3, lr=0.5)
    assert calls == ["train", "train", "train"]
    _run(local_catalog, train, n=4)
    assert len(calls) == 3, "an earlier input is still cached"


def test_changed_code_misses(local_catalog: ArtifactCatalog) -> None:
    calls: list[str] = []
    _run(local_catalog, _counting(calls, factor=2))
    out, run = _run(local_catalog, _counting(calls, factor=3))
    assert out == [0, 3, 6] and calls == ["train", "train"]
    assert local_catalog.get_run(run).task("train").cached is False


def test_tuple_outputs_come_back_as_a_tuple(local_catalog: ArtifactCatalog) -> None:
    calls: list[str] = []
    train = _counting(calls, outputs=["values", "total"])
    first, _ = _run(local_catalog, train)
    second, _ = _run(local_catalog, train)
    assert first == second == ([0, 2, 4], 6) and isinstance(second, tuple)
    assert calls == ["train"]


def test_a_deleted_output_means_running_again(local_catalog: ArtifactCatalog) -> None:
    calls: list[str] = []
    train = _counting(calls)
    _run(local_catalog, train)
    local_catalog.delete("train")
    out, run = _run(local_catalog, train)
    assert out == [0, 2, 4] and len(calls) == 2
    assert local_catalog.get_run(run).task("train").cached is False


def test_a_step_returning_none_is_cached_too(local_catalog: ArtifactCatalog) -> None:
    calls: list[int] = []

    @step(cache=True)
    def side_effect(values: list[int]) -> None:
        calls.append(len(values))

    for _ in range(2):
        with pipeline("p", catalog=local_catalog) as run:
            assert side_effect(source(2)) is None
    assert calls == [2]
    assert local_catalog.get_run(run.id).task("side_effect").cached is True


class _Opaque:
    def __init__(self, n: int) -> None:
        self.n = n


def test_pickled_outputs_are_recomputed_not_unpickled(local_catalog: ArtifactCatalog) -> None:
    calls: list[int] = []

    @step(cache=True)
    def make(n: int) -> _Opaque:
        calls.append(n)
        return _Opaque(n)

    for _ in range(2):
        with pipeline("p", catalog=local_catalog):
            assert make(5).n == 5
    assert calls == [5, 5]


def test_cache_is_off_by_default(local_catalog: ArtifactCatalog) -> None:
    calls: list[int] = []

    @step
    def plain(values: list[int]) -> int:
        calls.append(1)
        return len(values)

    for _ in range(2):
        with pipeline("p", catalog=local_catalog) as run:
            plain(source(2))
    assert len(calls) == 2
    assert local_catalog.get_run(run.id).task("plain").cache_key is None


def test_uncacheable_arguments_always_run(local_catalog: ArtifactCatalog) -> None:
    calls: list[int] = []

    @step(cache=True)
    def uses(handle: object) -> int:
        calls.append(1)
        return 1

    unpicklable = threading.Lock()  # no materializer writes it: no digest, no cache key
    for _ in range(2):
        with pipeline("p", catalog=local_catalog) as run:
            uses(unpicklable)
    assert len(calls) == 2
    assert local_catalog.get_run(run.id).task("uses").cache_key is None


def test_value_digests_equal_the_stored_digests(local_catalog: ArtifactCatalog) -> None:
    import pandas as pd

    from archivist.pipelines.cache import value_digest

    values: list[Any] = ["text \udc80 é", {"b": [1, 2.5, None], "a": "é"}, [1, 2], 3, True,
                         b"\x00raw", pd.DataFrame({"x": [1, 2]})]
    for i, value in enumerate(values):
        stored = local_catalog.get(local_catalog.register(f"v{i}", data=value))
        assert value_digest(local_catalog, value) == stored.digest, value
    assert value_digest(local_catalog, threading.Lock()) is None


def test_a_cache_hit_reads_its_outputs_in_one_lookup(local_catalog: ArtifactCatalog,
                                                     monkeypatch: Any) -> None:
    """The cached task and its outputs' records come from one read; loading them does
    not resolve them again (``get_version``), and the loaded value is the stored one."""
    calls: list[str] = []
    train = _counting(calls, outputs=["scaled", "total"])
    first, _ = _run(local_catalog, train)
    lookups: list[str] = []
    backend = local_catalog.backend
    for name in ("get_version", "get_versions_by_id", "find_cached_task",
                 "find_cached_outputs"):
        real = getattr(backend, name)

        def counted(*args: Any, _real: Any = real, _name: str = name) -> Any:
            lookups.append(_name)
            return _real(*args)

        monkeypatch.setattr(backend, name, counted)
    second, _ = _run(local_catalog, train)
    assert calls == ["train"] and second == first == ([0, 2, 4], 6)
    # the newest version of source's output (unchanged: reused), the digest of the
    # argument (that version), train's cached task with its outputs
    assert lookups == ["get_version", "get_versions_by_id", "find_cached_outputs"]


def test_a_rerun_of_an_unchanged_pipeline_numbers_nothing_new(
        local_catalog: ArtifactCatalog) -> None:
    """The README's quick start pasted twice: the uncached step's identical output is the
    version it made last time, so the cached step's parent is still the newest input."""
    @step
    def load_raw() -> list[int]:
        return [3, 1, 2]

    @step(cache=True)
    def featurize(rows: list[int]) -> list[int]:
        return sorted(rows)

    runs = []
    for _ in range(2):
        with pipeline("quickstart", catalog=local_catalog) as run:
            featurize(load_raw())
        runs.append(local_catalog.get_run(run.id))
    raw, features = local_catalog.get("load_raw"), local_catalog.get("featurize")
    assert (raw.version, features.version) == (1, 1)
    assert features.parent_ids == [raw.id]
    assert runs[1].task("load_raw").produced == [raw.id]
    assert runs[1].task("featurize").cached


def test_a_rerun_with_changed_content_or_parents_numbers_a_new_version(
        local_catalog: ArtifactCatalog) -> None:
    rows = [3, 1, 2]

    @step
    def load_raw() -> list[int]:
        return list(rows)

    @step
    def featurize(data: list[int]) -> list[int]:
        return sorted(set(data))

    for extra in (None, 2, 7):
        if extra is not None:
            rows.append(extra)
        with pipeline("quickstart", catalog=local_catalog):
            featurize(load_raw())
    raw, features = local_catalog.get("load_raw"), local_catalog.get("featurize")
    # raw changed twice; featurize's bytes changed once but its parent changed twice
    assert (raw.version, features.version) == (3, 3)
    assert features.parent_ids == [raw.id]
    assert local_catalog.load("featurize:2") == local_catalog.load("featurize:1") == [1, 2, 3]
