"""The training fit's memory and time cuts: the trees take the feature matrix over (the caller keeps no
second matrix while they grow), and the reason model's sample has its stated size."""

from __future__ import annotations

import mmap

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


def test_the_tree_fit_takes_the_matrix_over_and_matches_a_plain_fit():
    X, y = _data()
    handed = [X.copy()]
    fitted = matrix.fit_trees(candidates(0)["hgb"], handed, y, None, seed=0)
    assert handed == []  # taken over: the caller holds no second matrix while the trees grow
    probe = _data(seed=4)[0].astype(np.float64)
    p = fitted.predict_proba(probe)[:, 1]
    assert fitted[-1].n_iter_ > 1 and 0 < p.min() < p.max() < 1
    # the informative column moves the risk the way it was simulated
    hi, lo = probe.copy(), probe.copy()
    hi[:, 0], lo[:, 0] = 2.0, -2.0
    assert (fitted.predict_proba(hi)[:, 1] > fitted.predict_proba(lo)[:, 1]).mean() > 0.95


def test_the_reason_model_sees_at_most_its_stated_denied_lines():
    y = np.zeros(3 * REASON_LINES, dtype=int)
    y[::2] = 1
    rows = _reason_rows(y, seed=0)
    assert len(rows) == REASON_LINES and (y[rows] == 1).all() and (np.diff(rows) > 0).all()
    few = np.zeros(1_000, dtype=int)
    few[:100] = 1
    assert _reason_rows(few, seed=0) == slice(None)


def test_a_releasable_matrix_gives_the_same_trees_and_its_copied_columns_go():
    X, y = _data(n=6_000)
    mine = matrix.releasable(X.shape, np.float32)
    mine[:] = X
    plain = matrix.fit_trees(candidates(0)["hgb"], [X.copy()], y, None, seed=0)
    handed = [mine]
    released = matrix.fit_trees(candidates(0)["hgb"], handed, y, None, seed=0)
    probe = _data(seed=5)[0].astype(np.float64)
    # same trees: the probabilities agree to rounding (another CPU's or thread count's last bits aside)
    np.testing.assert_allclose(released.predict_proba(probe), plain.predict_proba(probe), rtol=0, atol=1e-12)
    # every page wholly inside the columns copied was handed back: it reads as zeros now
    whole = X.shape[1] * X.shape[0] * 4 // mmap.PAGESIZE * mmap.PAGESIZE // 4
    assert not mine.ravel(order="F")[:whole].any()


def test_release_columns_leaves_other_arrays_alone():
    X, _ = _data()
    Xf = np.asfortranarray(X)
    matrix.release_columns(Xf, X.shape[1])
    np.testing.assert_array_equal(Xf, X)
