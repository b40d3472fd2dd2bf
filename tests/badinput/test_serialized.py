"""b.9 Serialized objects (S1-S4, S10, S12) and d.5 B3 pickle canaries.

Every canary, when unpickled, creates a marker file. Without ``allow_pickle=True`` no
marker may appear and the error must be typed; the loader is chosen from the format the
catalog recorded, checked against the bytes' magic, after the bytes were hashed.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from archivist import (
    ArtifactCatalog,
    DuplicateArtifactWarning,
    IntegrityError,
    PickleNotAllowedError,
)
from tests.badinput.conftest import Guard


def touch_marker(path: str) -> None:
    """What the canary runs when unpickled."""
    Path(path).write_text("unpickled")


class Canary:
    """Unpickling this object creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (touch_marker, (self.marker,))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "markers" / "unpickled.txt"


@pytest.fixture(autouse=True)
def _marker_dir(marker: Path) -> None:
    marker.parent.mkdir(exist_ok=True)


def set_format(cat: ArtifactCatalog, version_id: str, fmt: str) -> None:
    """Tamper with the recorded format, as a hostile database writer would."""
    engine: sa.Engine = cat.backend.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE versions SET format = :f WHERE id = :i"),
                     {"f": fmt, "i": version_id})


def blob_path(cat: ArtifactCatalog, version_id: str) -> Path:
    digest = cat.get(version_id).digest
    assert digest is not None
    local = cat.blobs.local_path(digest)
    assert local is not None
    return Path(local)


def overwrite_blob(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


# -- S1 / B3 pickle canary ---------------------------------------------------------------------

def test_S1_pickle_needs_consent_and_runs_only_with_it(guard: Guard, cat: ArtifactCatalog,
                                                       marker: Path) -> None:
    version_id = cat.register("canary", data=Canary(marker))
    art = cat.get(version_id)
    assert art.format == "pickle" and not marker.exists(), "registering must not unpickle"
    err = guard.rejected(PickleNotAllowedError, cat.load, version_id)
    assert "pickle" in str(err).lower()
    assert not marker.exists()
    cat.load(version_id, allow_pickle=True)
    assert marker.exists(), "allow_pickle=True is documented to unpickle"


@pytest.mark.parametrize("consent", [False, True], ids=["no-consent", "with-consent"])
def test_S1_open_and_download_never_unpickle(cat: ArtifactCatalog, canary: Path, marker: Path,
                                             consent: bool) -> None:
    version_id = cat.register("canary", data=Canary(marker))
    with cat.open(version_id) as handle:
        raw = handle.read()
    assert raw.startswith(b"\x80")
    cat.download(version_id, canary / "canary.pkl")
    assert (canary / "canary.pkl").read_bytes() == raw
    assert not marker.exists()


def test_S2_metadata_claiming_a_safe_format_is_ignored(guard: Guard, cat: ArtifactCatalog,
                                                       marker: Path) -> None:
    version_id = cat.register("model", "Model", data=Canary(marker),
                              metadata={"materializer": "numpy", "format": "npy"})
    guard.rejected(PickleNotAllowedError, cat.load, version_id)
    assert not marker.exists()


@pytest.mark.parametrize("fmt", ["npy", "parquet", "json", "text"],
                         ids=["S2-as-npy", "S2-as-parquet", "S2-as-json", "S2-as-text"])
@pytest.mark.parametrize("consent", [False, True], ids=["no-consent", "with-consent"])
def test_S2_tampered_format_is_an_integrity_error(guard: Guard, cat: ArtifactCatalog,
                                                  marker: Path, fmt: str,
                                                  consent: bool) -> None:
    """The recorded format is checked against the bytes' magic before loading: a pickle
    recorded as npy/parquet/json/text is refused, whatever the consent."""
    version_id = cat.register("canary", data=Canary(marker))
    set_format(cat, version_id, fmt)
    guard.rejected(IntegrityError, cat.load, version_id, allow_pickle=consent)
    assert not marker.exists()


@pytest.mark.parametrize("fmt", ["os:system", "evil", "pickle5", "../x", "joblib", "",
                                 "PICKLE"],
                         ids=["S3-module-colon", "S3-unknown", "S3-near-pickle",
                              "S3-traversal", "S3-unregistered-joblib", "S3-empty",
                              "S3-upper-pickle"])
def test_S3_unknown_recorded_format_is_never_imported(guard: Guard, cat: ArtifactCatalog,
                                                      marker: Path, fmt: str) -> None:
    version_id = cat.register("canary", data=Canary(marker))
    set_format(cat, version_id, fmt)
    modules = set(sys.modules)
    guard.rejected((IntegrityError, PickleNotAllowedError), cat.load, version_id)
    guard.rejected((IntegrityError, PickleNotAllowedError), cat.load, version_id,
                   allow_pickle=False)
    assert not marker.exists()
    assert not {"evil", "os:system"} & (set(sys.modules) - modules)


def test_S3_metadata_naming_code_is_inert(cat: ArtifactCatalog, marker: Path) -> None:
    metadata = {"materializer": "os:system", "loader_module": "evil_loader_module",
                "pickled_model": "../outside.pkl", "python_type": "os.system"}
    version_id = cat.register("plain", data={"a": 1}, metadata=metadata)
    assert cat.load(version_id) == {"a": 1}
    assert "evil_loader_module" not in sys.modules
    assert cat.get(version_id).metadata["loader_module"] == "evil_loader_module"


# -- S4 object-dtype numpy -------------------------------------------------------------------

def test_S4_object_array_is_pickled_and_needs_consent(guard: Guard, cat: ArtifactCatalog,
                                                      marker: Path) -> None:
    array = np.array([Canary(marker), 1], dtype=object)
    version_id = cat.register("objects", data=array)
    assert cat.get(version_id).format != "npy", "object arrays cannot be npy without pickle"
    guard.rejected(PickleNotAllowedError, cat.load, version_id)
    assert not marker.exists()
    cat.load(version_id, allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("consent", [False, True], ids=["no-consent", "with-consent"])
def test_S4_object_dtype_npy_bytes_are_refused(guard: Guard, cat: ArtifactCatalog,
                                               canary: Path, marker: Path,
                                               consent: bool) -> None:
    """A real ``.npy`` whose dtype is object (its payload is a pickle), recorded as npy:
    the header check refuses it before ``np.load`` — even with consent, since archivist
    never writes such files."""
    buffer = io.BytesIO()
    np.save(buffer, np.array([Canary(marker)], dtype=object), allow_pickle=True)
    source = canary / "objects.npy"
    source.write_bytes(buffer.getvalue())
    version_id = cat.register("objects", path=source)
    set_format(cat, version_id, "npy")
    guard.rejected(IntegrityError, cat.load, version_id, allow_pickle=consent)
    assert not marker.exists()


def test_S4_plain_array_round_trips(cat: ArtifactCatalog) -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    version_id = cat.register("array", data=array)
    assert cat.get(version_id).format == "npy"
    loaded = cat.load(version_id)
    assert isinstance(loaded, np.ndarray) and np.array_equal(loaded, array)


# -- S10 hash before deserialize ------------------------------------------------------------------

@pytest.mark.needs("local_files")  # tampers with the blob file on this machine
@pytest.mark.parametrize("consent", [False, True], ids=["no-consent", "with-consent"])
def test_S10_swapped_pickle_blob_is_refused_before_unpickling(guard: Guard,
                                                              cat: ArtifactCatalog,
                                                              tmp_path: Path, marker: Path,
                                                              consent: bool) -> None:
    """The blob is replaced by a *different valid pickle* that would create another
    marker: the digest check must fire first."""
    version_id = cat.register("canary", data=Canary(marker))
    other = tmp_path / "markers" / "swapped.txt"
    overwrite_blob(blob_path(cat, version_id), pickle.dumps(Canary(other), protocol=5))
    guard.rejected(IntegrityError, cat.load, version_id, allow_pickle=consent)
    assert not other.exists() and not marker.exists()


@pytest.mark.needs("local_files")  # tampers with the blob file on this machine
@pytest.mark.parametrize("how", ["flip-byte", "truncate", "append", "empty", "delete"])
def test_S10_tampered_blob_is_an_integrity_error(guard: Guard, cat: ArtifactCatalog,
                                                 how: str) -> None:
    version_id = cat.register("obj", data={"k": list(range(50))})
    path = blob_path(cat, version_id)
    data = path.read_bytes()
    if how == "delete":
        os.chmod(path, 0o644)
        path.unlink()
    else:
        tampered = {"flip-byte": data[:5] + bytes([data[5] ^ 1]) + data[6:],
                    "truncate": data[:-3], "append": data + b" ", "empty": b""}[how]
        overwrite_blob(path, tampered)
    guard.rejected(IntegrityError, cat.load, version_id)


@pytest.mark.needs("local_files")  # tampers with the blob file on this machine
def test_S10_U19_blob_replaced_by_symlink_is_refused(guard: Guard, cat: ArtifactCatalog,
                                                     canary: Path) -> None:
    """U19: ``open`` and ``verify`` refuse a blob that is a symlink; ``load`` must too
    (else a link to a FIFO or /dev/zero hangs it, and it reads outside the store)."""
    version_id = cat.register("obj", data=b"original bytes")
    path = blob_path(cat, version_id)
    outside = canary / "outside.bin"
    outside.write_bytes(b"original bytes")  # same bytes: only the link itself is wrong
    os.chmod(path, 0o644)
    path.unlink()
    path.symlink_to(outside)
    guard.rejected(IntegrityError, cat.load, version_id)
    with pytest.raises(IntegrityError), cat.open(version_id) as handle:
        handle.read()


# -- S12 non-JSON builtins -------------------------------------------------------------------------

def test_S12_set_is_pickled_freely_and_loads_with_consent(guard: Guard, cat: ArtifactCatalog,
                                                          home: Path) -> None:
    value = {1, 2, Fraction(1, 3)}  # a set of common values is pyjson (below)
    version_id = cat.register("aset", data=value)
    assert cat.get(version_id).format == "pickle"
    guard.rejected(PickleNotAllowedError, cat.load, version_id)
    assert cat.load(version_id, allow_pickle=True) == value
    with pytest.warns(DuplicateArtifactWarning):
        cat.register("aset-again", data={1, 2, Fraction(1, 3)})


@pytest.mark.parametrize("value", [(1, Fraction(1, 2)), frozenset({Fraction(1, 2)}),
                                   Fraction(1, 3), range(3), np.float64(1.5)],
                         ids=["S12-tuple", "S12-frozenset", "S12-fraction", "S12-range",
                              "S12-numpy-scalar"])
def test_S12_other_non_json_values_need_consent(guard: Guard, cat: ArtifactCatalog,
                                                value: object) -> None:
    version_id = cat.register("v", data=value)
    guard.rejected(PickleNotAllowedError, cat.load, version_id)
    assert cat.load(version_id, allow_pickle=True) == value


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None, True]}, "text\n", b"\x80\x05raw",
                                   [], 0, (1, 2), frozenset({1}), 1 + 2j, {1: {2, 3}}],
                         ids=["json-dict", "text", "bytes-looking-like-pickle", "json-list",
                              "json-zero", "pyjson-tuple", "pyjson-frozenset",
                              "pyjson-complex", "pyjson-int-keys-set"])
def test_safe_values_load_without_consent(cat: ArtifactCatalog, value: object) -> None:
    version_id = cat.register("v", data=value)
    assert cat.get(version_id).format != "pickle"
    assert cat.load(version_id) == value


def test_unpicklable_object_is_a_typed_error(guard: Guard, cat: ArtifactCatalog) -> None:
    from archivist import InvalidInputError

    guard.rejected(InvalidInputError, cat.register, "lambda", data=lambda: 1)
    guard.rejected(InvalidInputError, cat.register, "gen", data=(i for i in range(3)))
