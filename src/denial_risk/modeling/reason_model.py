"""The reason model: which CARC a denied line will carry, fitted on the training slice's denied lines.

Rare codes are pooled as "other" by their count in that slice (`REASON_MIN_LINES`), and the model
fits whatever class counts the slice holds: scikit-learn's stratified early-stopping split is used
only when it can be drawn (`_can_stop_early`); a peer's table with one denied line of some CARC made
"other" a class of one, and the split raised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import make_pipeline

from denial_risk.features.select import InformativeColumns

REASON_MIN_LINES = 10  # a CARC with fewer denied training lines is pooled as "other" (not a code to show)


def fit_reason_model(X: np.ndarray, reasons: pd.Series, y: np.ndarray, seed: int):
    """CARC of denied lines; rare codes pooled as 'other' so every class has support."""
    denied = y == 1
    labels = reasons[denied].astype("string").fillna("unknown").to_numpy().astype(str)
    if denied.sum() < 50:
        return None
    values, counts = np.unique(labels, return_counts=True)
    keep = set(values[counts >= REASON_MIN_LINES])
    labels = np.where(np.isin(labels, list(keep)), labels, "other")
    if len(np.unique(labels)) < 2 or not InformativeColumns().fit(X[denied]).keep_.any():
        return None
    model = make_pipeline(
        InformativeColumns(),
        HistGradientBoostingClassifier(
            learning_rate=0.1,
            max_iter=200 if _can_stop_early(labels) else 100,
            max_leaf_nodes=15,
            early_stopping=_can_stop_early(labels),
            random_state=seed,
        ),
    )
    return model.fit(X[denied], labels)


def _can_stop_early(labels: np.ndarray, share: float = 0.1) -> bool:
    """Whether scikit-learn's stratified early-stopping split (`share` held out) can be drawn from
    these labels: every class twice, and each side of the split at least one line per class.
    Pooling counts the slice the reason model is fitted on, yet "other" can still hold a single
    line (one rare CARC); then the model fits a fixed number of rounds instead of failing."""
    _, counts = np.unique(labels, return_counts=True)
    n, k = len(labels), len(counts)
    held_out = int(np.ceil(share * n))
    return bool(counts.min() >= 2 and held_out >= k and n - held_out >= k)
