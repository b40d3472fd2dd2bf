"""scikit-learn estimators as skops (safe by default) or joblib (a pickle: needs consent).

skops stores an estimator as a zip of JSON plus numpy arrays and rebuilds only types it
is told to trust. :meth:`SkopsMaterializer.load` asks ``skops.io.get_untrusted_types``
which types the file needs beyond skops' own defaults (scikit-learn estimators, numpy and
builtins) and loads without consent only when every one of them is in
:data:`TRUSTED_TYPES`, a short list of scikit-learn internals (trees, neighbour indexes,
distance metrics, kernels, optimizers) that common models contain. Anything else — a
custom transformer in a pipeline, a function from another package — needs
``allow_pickle=True``, because rebuilding it imports and runs its code.

joblib is the format used when skops is not installed, or when asked for by name.
"""

from __future__ import annotations

import contextlib
import pickle
from pathlib import Path
from typing import Any

from archivist._extras import installed, is_instance, loaded, require
from archivist.errors import (
    IntegrityError,
    InvalidInputError,
    MissingDependencyError,
    PickleNotAllowedError,
)
from archivist.materializers._jsonsafe import json_safe
from archivist.materializers.pickled import is_pickle

_DISTANCES = ("Euclidean", "SEuclidean", "Manhattan", "Chebyshev", "Minkowski",
              "Mahalanobis", "Haversine", "Hamming", "Canberra", "BrayCurtis", "Jaccard",
              "Matching", "Dice", "RogersTanimoto", "RussellRao", "SokalMichener",
              "SokalSneath")
_KERNELS = ("ConstantKernel", "WhiteKernel", "RBF", "Matern", "RationalQuadratic",
            "ExpSineSquared", "DotProduct", "PairwiseKernel", "Sum", "Product",
            "Exponentiation", "CompoundKernel", "Hyperparameter")

TRUSTED_TYPES: frozenset[str] = frozenset({
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    *(f"sklearn.metrics._dist_metrics.{name}Distance{bits}"
      for name in _DISTANCES for bits in ("32", "64")),
    *(f"sklearn.gaussian_process.kernels.{name}" for name in _KERNELS),
})
"""Types skops may rebuild without consent, beyond skops' defaults."""

_ZIP = b"PK\x03\x04"
# joblib.dump(compress=…) wraps the pickle in one of these
_COMPRESSED = (b"\x1f\x8b", b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"ZF",
               b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00", b"\x04\x22\x4d\x18")


def _is_estimator(obj: object) -> bool:
    return is_instance(obj, "sklearn.base", "BaseEstimator")


class SkopsMaterializer:
    """scikit-learn estimators as skops files; untrusted types need consent."""

    name = "skops"
    artifact_type = "Model"
    needs_consent = False
    consent_aware = True

    def handles(self, obj: object) -> bool:
        return _is_estimator(obj) and installed("skops")

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        sio = _skops_io("writing a scikit-learn model as skops")
        if not _is_estimator(obj):
            raise InvalidInputError(
                f"skops format takes a scikit-learn estimator, got {type(obj).__name__}")
        try:
            with open(dest, "wb") as f:
                sio.dump(obj, f)
        except Exception as e:  # skops raises many kinds for objects it cannot represent
            raise InvalidInputError(
                f"skops cannot store this {type(obj).__name__}: {e}; store it as joblib "
                "instead (format='joblib'; loading it will need allow_pickle=True)") from e
        import skops

        return {**describe_estimator(obj), "skops_version": skops.__version__}

    def load(self, path: Path, *, allow_pickle: bool = False) -> object:
        sio = _skops_io("loading a skops model")
        try:
            untrusted = list(sio.get_untrusted_types(file=path))
        except Exception as e:  # a damaged zip or schema: skops has no error hierarchy
            raise IntegrityError(f"stored skops file does not read: {e}") from None
        unknown = sorted(t for t in untrusted if t not in TRUSTED_TYPES)
        if unknown and not allow_pickle:
            raise PickleNotAllowedError(
                f"this skops model contains types that are not on the trusted list: "
                f"{', '.join(unknown)}. Rebuilding them imports and runs their code; load "
                "it with allow_pickle=True only if you trust whoever wrote it",
                format="skops", untrusted_types=unknown)
        try:
            return sio.load(path, trusted=untrusted)
        except ImportError as e:
            raise MissingDependencyError(
                f"this skops model needs a module that is not importable here: {e}",
                package=getattr(e, "name", None) or "") from None
        except Exception as e:
            raise IntegrityError(f"stored skops file does not load: {e}") from None

    def sniff(self, head: bytes) -> bool:
        return head.startswith(_ZIP)


class JoblibMaterializer:
    """scikit-learn estimators as joblib files (pickles): loading needs consent.

    Chosen for estimators only when skops is not installed; ask for it by name otherwise.
    """

    name = "joblib"
    artifact_type = "Model"
    needs_consent = True

    def handles(self, obj: object) -> bool:
        return _is_estimator(obj) and not installed("skops")

    def save(self, obj: object, dest: Path) -> dict[str, Any]:
        joblib = _joblib("writing a model with joblib")
        try:
            with open(dest, "wb") as f:
                joblib.dump(obj, f)
        except Exception as e:  # pickling errors come in many types
            raise InvalidInputError(f"joblib cannot store this {type(obj).__name__}: {e}") from e
        meta = describe_estimator(obj) if _is_estimator(obj) else {}
        return {**meta, "joblib_version": joblib.__version__}

    def load(self, path: Path) -> object:
        joblib = _joblib("loading a joblib model")
        try:
            return joblib.load(path)
        except (pickle.UnpicklingError, EOFError, ValueError, KeyError) as e:
            raise IntegrityError(f"stored joblib file does not load: {e}") from None

    def sniff(self, head: bytes) -> bool:
        return is_pickle(head) or head.startswith(_COMPRESSED)


def describe_estimator(obj: object) -> dict[str, Any]:
    """``estimator`` (qualified class name), ``params`` and ``sklearn_version``."""
    t = type(obj)
    out: dict[str, Any] = {"estimator": f"{t.__module__}.{t.__qualname__}"}
    get_params = getattr(obj, "get_params", None)
    if callable(get_params):
        # a broken get_params must not block storing the model
        with contextlib.suppress(Exception):
            out["params"] = json_safe(get_params(deep=False))
    sklearn = loaded("sklearn")
    if sklearn is not None and _is_estimator(obj):
        out["sklearn_version"] = str(getattr(sklearn, "__version__", ""))
    return out


def _skops_io(purpose: str) -> Any:
    return require("skops.io", "sklearn", purpose=purpose)


def _joblib(purpose: str) -> Any:
    return require("joblib", "sklearn", purpose=purpose)
