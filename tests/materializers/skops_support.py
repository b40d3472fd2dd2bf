"""A scikit-learn estimator that is not on skops' trusted list; rebuilding it leaves a mark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin


class MarkerTransformer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, marker: str = "") -> None:
        self.marker = marker

    def fit(self, X: Any, y: Any = None) -> MarkerTransformer:
        return self

    def transform(self, X: Any) -> Any:
        return X

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.marker:
            Path(self.marker).touch()
