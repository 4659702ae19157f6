"""The reason model: which CARC a denied line will carry, fitted on the training slice's denied lines.

Rare codes are pooled as "other" by their count in that slice (`REASON_MIN_LINES`), and the model
fits whatever class counts the slice holds (no early-stopping split to draw: a peer's table with one
denied line of some CARC made "other" a class of one, and a stratified split raised).

A multinomial logistic regression on the standardised feature matrix (issue 23): every scored line
gets its `likely_denial_codes`, and the 13-class gradient-boosted model it replaces (~650 trees) was a
quarter of the worklist's time. On the simulated world's holdout (100k lines, `bench_worklist`'s
setup) its top-3 accuracy is 0.874 against the trees' 0.881 (top-1 0.608 against 0.631), and it
predicts 40k lines in a seventh of the time (benchmarks/results/reason_model.json).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from denial_risk.features.select import InformativeColumns

REASON_MIN_LINES = 10  # a CARC with fewer denied training lines is pooled as "other" (not a code to show)
REASON_C = 0.1  # the regularisation chosen by holdout top-3 accuracy (0.1 and 1.0 within 0.002; the smaller)


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
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=REASON_C, max_iter=2000),
    )
    return model.fit(X[denied], labels)
