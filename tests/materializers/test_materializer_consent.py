"""Deserialization safety (research/reliability.md b.9, S1-S6): nothing runs without consent."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from archivist.errors import IntegrityError, PickleNotAllowedError
from archivist.materializers import MaterializerRegistry, dataset_stats


class Canary:
    """Unpickling it creates ``marker``: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.touch, (self.marker,))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "canary-ran"


@pytest.fixture
def canary_pickle(tmp_path: Path, marker: Path) -> Path:
    path = tmp_path / "blob"
    path.write_bytes(pickle.dumps(Canary(marker), protocol=5))
    return path


def test_pickle_canary_needs_consent(registry: MaterializerRegistry, canary_pickle: Path,
                                     marker: Path) -> None:
    """S1."""
    with pytest.raises(PickleNotAllowedError, match="allow_pickle=True"):
        registry.load("pickle", canary_pickle, allow_pickle=False)
    assert not marker.exists()
    registry.load("pickle", canary_pickle, allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("recorded", ["npy", "parquet", "json", "text", "skops", "safetensors",
                                      "png"])
@pytest.mark.parametrize("allow_pickle", [False, True])
def test_pickle_recorded_as_a_safe_format_is_refused(
        registry: MaterializerRegistry, canary_pickle: Path, marker: Path, recorded: str,
        allow_pickle: bool) -> None:
    """S2: the recorded format is checked against the bytes before anything loads them."""
    with pytest.raises(IntegrityError, match=f"recorded format '{recorded}'"):
        registry.load(recorded, canary_pickle, allow_pickle=allow_pickle)
    assert not marker.exists()


def test_pickle_recorded_as_bytes_comes_back_as_bytes(
        registry: MaterializerRegistry, canary_pickle: Path, marker: Path) -> None:
    assert registry.load("bytes", canary_pickle, allow_pickle=False) == canary_pickle.read_bytes()
    assert not marker.exists()


def test_joblib_canary_needs_consent(registry: MaterializerRegistry, tmp_path: Path,
                                     marker: Path) -> None:
    """S6: a joblib file follows the pickle rules."""
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "model.joblib"
    joblib.dump(Canary(marker), path)
    with pytest.raises(PickleNotAllowedError):
        registry.load("joblib", path, allow_pickle=False)
    assert not marker.exists()
    registry.load("joblib", path, allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("allow_pickle", [False, True])
def test_object_dtype_npy_is_refused(registry: MaterializerRegistry, tmp_path: Path,
                                     marker: Path, allow_pickle: bool) -> None:
    """S4: even with consent: archivist never writes object arrays as npy."""
    np = pytest.importorskip("numpy")
    path = tmp_path / "a.npy"
    with open(path, "wb") as f:
        np.save(f, np.array([Canary(marker), 1], dtype=object), allow_pickle=True)
    with pytest.raises(IntegrityError, match="Python objects"):
        registry.load("npy", path, allow_pickle=allow_pickle)
    assert not marker.exists()


def test_parquet_with_a_pickled_extension_type_is_refused(
        registry: MaterializerRegistry, tmp_path: Path, marker: Path) -> None:
    """S5 (CVE-2023-47248): the footer is checked before the data is read."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")

    class PickledExtension(pa.ExtensionType):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(pa.int64(), "arrow.py_extension_type")

        def __arrow_ext_serialize__(self) -> bytes:
            return pickle.dumps(Canary(marker))

        @classmethod
        def __arrow_ext_deserialize__(cls, storage_type: object,
                                      serialized: bytes) -> PickledExtension:
            return cls()

    column = pa.ExtensionArray.from_storage(PickledExtension(), pa.array([1, 2]))
    path = tmp_path / "evil.parquet"
    pq.write_table(pa.table({"x": column}), path)
    with pytest.raises(IntegrityError, match="CVE-2023-47248"):
        registry.load("parquet", path, allow_pickle=True)
    with pytest.raises(IntegrityError, match="CVE-2023-47248"):
        dataset_stats(path)
    assert not marker.exists()


def test_skops_with_an_untrusted_type_needs_consent(
        registry: MaterializerRegistry, tmp_path: Path, marker: Path) -> None:
    """S6: skops loads only trusted types without consent."""
    pytest.importorskip("sklearn")
    sio = pytest.importorskip("skops.io")
    from skops_support import MarkerTransformer

    model = MarkerTransformer(marker=str(marker))
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    with pytest.raises(PickleNotAllowedError, match="MarkerTransformer") as info:
        registry.load("skops", path, allow_pickle=False)
    assert not marker.exists()
    assert any("MarkerTransformer" in t for t in info.value.details["untrusted_types"])
    back = registry.load("skops", path, allow_pickle=True)
    assert marker.exists()
    assert type(back).__name__ == "MarkerTransformer"
