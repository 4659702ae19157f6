"""`InformativeColumns`: which columns a fit drops; the classifiers survive what used to crash them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from denial_risk.features.select import MIN_LINES, InformativeColumns
from denial_risk.modeling.train import candidates

N = 200


def _matrix(seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Columns of every kind the rule distinguishes, and a label that follows column `signal`."""
    rng = np.random.default_rng(seed)
    cols = {
        "signal": rng.normal(size=N),
        "all_missing": np.full(N, np.nan),
        "constant": np.full(N, 3.0),
        "constant_few_missing": np.where(np.arange(N) < MIN_LINES - 1, np.nan, 1.0),
        "constant_many_missing": np.where(np.arange(N) < N // 2, np.nan, 1.0),  # missingness is a signal
        "few_present": np.where(np.arange(N) < MIN_LINES - 1, rng.normal(size=N), np.nan),
        "two_values": (np.arange(N) % 2).astype(float),
    }
    X = np.column_stack(list(cols.values()))
    y = (cols["signal"] + 0.3 * rng.normal(size=N) > 0).astype(int)
    return X, y, {name: i for i, name in enumerate(cols)}


@parametrize_with_checks([InformativeColumns(), InformativeColumns(min_lines=1)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_drops_constant_and_missing_columns_and_keeps_varying_ones():
    X, _, col = _matrix()
    sel = InformativeColumns().fit(X)
    kept = {name for name, i in col.items() if sel.keep_[i]}
    assert kept == {"signal", "constant_many_missing", "two_values"}
    dropped = ("all_missing", "constant", "constant_few_missing", "few_present")
    assert list(sel.dropped_) == [col[c] for c in dropped]
    names = sel.get_feature_names_out([f"g__{c}" for c in col])
    assert list(names) == ["g__signal", "g__constant_many_missing", "g__two_values"]


def test_the_mask_is_learned_in_fit_and_applied_unchanged_at_transform():
    X, _, col = _matrix()
    sel = InformativeColumns().fit(X)
    later = X.copy()
    later[:, col["all_missing"]] = 5.0  # values arrive at scoring time: the fitted mask still drops them
    out = sel.transform(later)
    assert out.shape == (N, 3)
    np.testing.assert_array_equal(out, later[:, sel.keep_])
    with pytest.raises(ValueError, match="features"):
        sel.transform(X[:, :4])


@pytest.mark.parametrize("name", ["hgb", "hgb_shallow", "logistic"])
def test_each_candidate_fits_with_an_all_missing_column_and_ignores_it_at_predict(name):
    """The crash of issue 12: HistGradientBoosting's binner raised on an all-NaN training column."""
    X, y, col = _matrix()
    X = np.vstack([X] * 5)  # enough lines for the trees' early-stopping split
    y = np.concatenate([y] * 5)
    model = candidates(seed=0)[name].fit(X, y)
    assert col["all_missing"] in model[0].dropped_
    p = model.predict_proba(X)[:, 1]
    filled = X.copy()
    filled[:, col["all_missing"]] = 1.0
    filled[:, col["constant"]] = -7.0
    np.testing.assert_allclose(model.predict_proba(filled)[:, 1], p, rtol=0, atol=1e-12)
    assert np.corrcoef(p, X[:, col["signal"]])[0, 1] > 0.5  # it learned from the column that varies
