"""Dropping the feature columns a fit cannot learn from: constant or (almost) all missing.

A claim table that lacks what a feature reads (CPT codes outside the policy table, no
documentation flags, no prior-use counts) gives columns that are all NaN or one value in
the training rows. They carry nothing, and some learners fail on them (scikit-learn
1.9's HistGradientBoosting binner raises on an all-NaN column). `InformativeColumns` is
the first step of every classifier the training builds, so the column mask is learned in
each fit (each CV fold, the final fit, the reason model) from that fit's rows only, and is
part of the fitted model: the scoring matrix keeps every column, names and groups, and
the step drops the same columns at predict time.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

# A column is kept only when at least this many lines have a value (and, if they all have
# the same one, at least this many lines are missing), so a learner's own inner split (the
# early-stopping validation share of HistGradientBoosting) cannot leave it all missing.
MIN_LINES = 10


class InformativeColumns(SelectorMixin, BaseEstimator):
    """Keep the columns that vary in the fit's rows; drop constant and all-missing ones.

    A column is dropped when fewer than `min_lines` lines have a value, or when every
    line that has a value has the same one and fewer than `min_lines` lines are missing.
    `keep_` is the boolean mask over the input columns, `dropped_` the dropped positions;
    `transform` and `get_feature_names_out` come from scikit-learn's `SelectorMixin`.
    """

    def __init__(self, min_lines: int = MIN_LINES):
        self.min_lines = min_lines

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X, y=None):
        # float32 stays float32 (a training matrix is not copied); anything else is read as float64
        X = validate_data(self, X, dtype=(np.float64, np.float32), ensure_all_finite="allow-nan")
        keep = np.zeros(X.shape[1], dtype=bool)
        for j in range(X.shape[1]):
            col = X[:, j]
            present = col[~np.isnan(col)]
            missing = len(col) - len(present)
            if len(present) < self.min_lines:
                continue
            keep[j] = present.min() != present.max() or missing >= self.min_lines
        self.keep_ = keep
        self.dropped_ = np.flatnonzero(~keep)
        return self

    def transform(self, X):
        """The kept columns; the matrix itself (no copy) when every column is kept."""
        check_is_fitted(self, "keep_")
        if self.keep_.all() and isinstance(X, np.ndarray):
            return validate_data(self, X, dtype=None, ensure_all_finite="allow-nan", reset=False)
        return super().transform(X)

    def _get_support_mask(self):
        check_is_fitted(self, "keep_")
        return self.keep_
