"""scikit-learn estimators: skops by default (no consent for trusted types), joblib by name."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from archivist.errors import MissingDependencyError, PickleNotAllowedError
from archivist.materializers import MaterializerRegistry, estimators

np = pytest.importorskip("numpy")
pytest.importorskip("sklearn")
pytest.importorskip("skops")

from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

X = np.random.RandomState(0).rand(60, 3)
y = (X[:, 0] > 0.5).astype(int)


@pytest.mark.parametrize("model", [
    LogisticRegression(C=0.5),
    make_pipeline(StandardScaler(), LogisticRegression()),
    RandomForestClassifier(n_estimators=3, random_state=0),
    HistGradientBoostingClassifier(max_iter=3),
    KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree"),
], ids=lambda m: type(m).__name__)
def test_skops_round_trip_without_consent(registry: MaterializerRegistry, tmp_path: Path,
                                          model: Any) -> None:
    model.fit(X, y)
    m, meta = registry.save(model, tmp_path / "m")
    assert (m.name, m.artifact_type, m.needs_consent) == ("skops", "Model", False)
    assert meta["estimator"].endswith(type(model).__qualname__)
    assert "sklearn_version" in meta and "skops_version" in meta
    back = registry.load("skops", tmp_path / "m", allow_pickle=False)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_params_are_recorded(registry: MaterializerRegistry, tmp_path: Path) -> None:
    from archivist.names import check_metadata

    _, meta = registry.save(make_pipeline(StandardScaler(), LogisticRegression(C=0.5)),
                            tmp_path / "m")
    assert check_metadata(meta) == meta
    assert meta["estimator"] == "sklearn.pipeline.Pipeline"
    assert isinstance(meta["params"]["steps"], list)
    _, meta = registry.save(LogisticRegression(C=0.5), tmp_path / "n")
    assert meta["params"]["C"] == 0.5


def test_joblib_by_name_needs_consent(registry: MaterializerRegistry, tmp_path: Path) -> None:
    model = LogisticRegression().fit(X, y)
    m, meta = registry.save(model, tmp_path / "m", format="joblib")
    assert (m.name, m.needs_consent) == ("joblib", True)
    assert "joblib_version" in meta
    with pytest.raises(PickleNotAllowedError):
        registry.load("joblib", tmp_path / "m", allow_pickle=False)
    back = registry.load("joblib", tmp_path / "m", allow_pickle=True)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_joblib_is_the_default_without_skops(registry: MaterializerRegistry,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(estimators, "installed", lambda package: package != "skops")
    assert registry.for_object(LogisticRegression()).name == "joblib"


def test_missing_skops_on_load_names_the_extra(registry: MaterializerRegistry, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    registry.save(LogisticRegression().fit(X, y), tmp_path / "m")
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'archivist\[sklearn\]'"):
        registry.load("skops", tmp_path / "m", allow_pickle=False)


def test_damaged_skops_file(registry: MaterializerRegistry, tmp_path: Path) -> None:
    from archivist.errors import IntegrityError

    (tmp_path / "m").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(IntegrityError):
        registry.load("skops", tmp_path / "m", allow_pickle=False)
