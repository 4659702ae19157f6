"""The training fit's memory cuts change no answer: the trees fitted on the feature matrix rearranged in
place give what they give on a gathered copy, and the reason model's sample has its stated size."""

from __future__ import annotations

import numpy as np

from denial_risk.modeling import matrix
from denial_risk.modeling.candidates import candidates
from denial_risk.modeling.train import REASON_LINES, _reason_rows


def _data(n=4_000, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    X[:, 2] = 1.0  # constant: dropped by the pipeline's first step
    X[rng.random(n) < 0.1, 5] = np.nan
    y = (X[:, 0] + 0.5 * X[:, 3] + rng.normal(size=n) > 1).astype(int)
    return X, y


def test_trees_fitted_in_place_match_trees_fitted_on_a_copy():
    X32, y = _data()
    X64 = np.asfortranarray(X32.astype(np.float64))
    copied = matrix.fit_trees(candidates(0)["hgb"], [X32], y, None, seed=0)
    handed = [X64]
    in_place = matrix.fit_trees(candidates(0)["hgb"], handed, y, None, seed=0)
    assert handed == []  # taken over
    assert copied[-1].n_iter_ == in_place[-1].n_iter_
    probe = np.asarray(_data(seed=4)[0], dtype=np.float64)
    np.testing.assert_allclose(
        in_place.predict_proba(probe)[:, 1], copied.predict_proba(probe)[:, 1], rtol=0, atol=1e-12
    )


def test_fit_features_holds_float32_values_in_the_store_type():
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer

    frame = np.random.default_rng(0).normal(size=(50, 3))
    features = ColumnTransformer([("a", FunctionTransformer(), [0, 1]), ("b", FunctionTransformer(), [2])])
    X = matrix.fit_features(features, frame, np.zeros(50), store=np.float64)
    assert X.dtype == np.float64 and X.flags.f_contiguous
    np.testing.assert_array_equal(X, frame.astype(np.float32).astype(np.float64))


def test_the_reason_model_sees_at_most_its_stated_denied_lines():
    y = np.zeros(3 * REASON_LINES, dtype=int)
    y[::2] = 1
    rows = _reason_rows(y, seed=0)
    assert len(rows) == REASON_LINES and (y[rows] == 1).all() and (np.diff(rows) > 0).all()
    few = np.zeros(1_000, dtype=int)
    few[:100] = 1
    assert _reason_rows(few, seed=0) == slice(None)
