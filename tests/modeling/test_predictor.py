"""The model's fast paths give scikit-learn's answers: the feature matrix built directly, the trees read
on their bins (classifier, reason model, group attributions), the likely codes formatted in bulk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.modeling.predictor import feature_matrix, for_model
from denial_risk.scoring import reasons


@pytest.fixture(scope="module")
def tree_model(claims_frame):
    """Gradient-boosted trees (what training picks on large data; CV may pick another on the test set)."""
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_on, time_split

    train, calib, _ = time_split(claims_frame, 0.15, 0.15)
    model = fit_on(train, calib, TrainConfig(), chosen="hgb").model
    return _with_tree_reasons(model, train)


def _with_tree_reasons(model, train):
    """The model with a gradient-boosted reason model, as models saved before issue 23 carry (today's is
    a logistic regression, which scikit-learn predicts itself): their fast path must stay exact."""
    import copy

    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    from denial_risk.features.select import InformativeColumns

    denied = train["denied"].astype(bool).to_numpy()
    X = model.transform(train[denied])
    labels = train.loc[denied, "denial_reason"].astype("string").fillna("unknown").to_numpy().astype(str)
    values, counts = np.unique(labels, return_counts=True)
    labels = np.where(np.isin(labels, values[counts >= 10]), labels, "other")
    trees = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=15, random_state=0)
    old = copy.copy(model)
    old.reason_model = make_pipeline(InformativeColumns(), trees).fit(X, labels)
    return old


@pytest.fixture(scope="module")
def lines(claims_frame):
    return claims_frame.iloc[:3000]


@pytest.fixture(scope="module")
def matrix(tree_model, lines):
    """The lines' features, plus rows at the edges: missing, infinite, far out of range, exact thresholds."""
    X = tree_model.transform(lines)
    rng = np.random.default_rng(0)
    edge = X[rng.integers(0, len(X), 400)].copy()
    cells = rng.random(edge.shape)
    edge[cells < 0.05] = np.nan
    edge[(cells >= 0.05) & (cells < 0.07)] = np.inf
    edge[(cells >= 0.07) & (cells < 0.09)] = -1e12
    hgb = for_model(tree_model).classifier.trees
    kept = np.flatnonzero(hgb.keep)
    for row in range(0, 400, 3):  # values exactly on a bin threshold go left, as in the raw trees
        j = rng.integers(0, len(kept))
        thresholds = hgb.mapper.bin_thresholds_[j]
        if len(thresholds):
            edge[row, kept[j]] = thresholds[rng.integers(0, len(thresholds))]
    return np.vstack([X, edge])


def test_the_fast_paths_are_used(tree_model):
    paths = for_model(tree_model)
    assert paths.classifier is not None and paths.reason is not None and paths.blocks is not None
    assert for_model(tree_model) is paths  # built once per model


def test_todays_logistic_reason_model_gives_sklearns_bits(claims_frame):
    """The reason model a fit makes today is a logistic regression, read by `LinearReasons`: the same bits
    as scikit-learn's pipeline in float64 (any layout, a line alone or in a batch), a distribution over
    its classes."""
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.predictor import LinearReasons
    from denial_risk.modeling.train import fit_on, time_split

    train, calib, _ = time_split(claims_frame, 0.15, 0.15)
    model = fit_on(train, calib, TrainConfig(), chosen="hgb").model
    assert isinstance(for_model(model).reason, LinearReasons)
    X = model.transform(claims_frame.iloc[:200])
    X[3, :5] = np.nan  # missing values are imputed as the pipeline imputes them
    proba = model.reason_proba(X)
    assert np.array_equal(proba, model.reason_model.predict_proba(X.astype(np.float64)))
    C = np.ascontiguousarray(X)
    assert np.array_equal(model.reason_proba(C), model.reason_model.predict_proba(C.astype(np.float64)))
    np.testing.assert_allclose(model.reason_proba(X[7:8]), proba[7:8], rtol=0, atol=1e-12)  # alone or not
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert len(set(proba.argmax(axis=1))) > 1  # it tells lines apart


def test_feature_matrix_is_the_column_transformers(tree_model, lines):
    direct = feature_matrix(tree_model, lines)
    sklearn = np.asarray(tree_model.features.transform(lines), dtype=np.float64)
    np.testing.assert_allclose(direct, sklearn, rtol=0, atol=1e-12)  # the same sums, any CPU's last bits
    assert feature_matrix(tree_model, lines, np.float32).dtype == np.float32


def test_binned_trees_give_predict_proba(tree_model, matrix):
    # within 1e-12: the same trees summed in the same order, but another CPU or thread count may
    # differ in the last bits
    np.testing.assert_allclose(
        tree_model.proba_from_matrix(matrix),
        tree_model.classifier.predict_proba(matrix)[:, 1],
        rtol=0,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        tree_model.reason_proba(matrix), tree_model.reason_model.predict_proba(matrix), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("batch", [reasons.RESCORE_ROWS, 37])
def test_group_attributions_on_bins_equal_rescoring_edited_rows(tree_model, matrix, batch, monkeypatch):
    """The groups' edited rows, rescored together (in batches of `batch` rows), give each group's own."""
    monkeypatch.setattr(reasons, "RESCORE_ROWS", batch)
    X = matrix[:800]
    p = tree_model.proba_from_matrix(X)
    fast = reasons.group_attributions(tree_model, X, p)
    typical = np.asarray(tree_model.typical_values, dtype=np.float64)
    for group, ix in tree_model.feature_groups.items():
        edited = X.copy()
        edited[:, ix] = typical[ix]
        slow = p - tree_model.classifier.predict_proba(edited)[:, 1]
        np.testing.assert_allclose(fast[group].to_numpy(), slow, rtol=0, atol=1e-15, err_msg=group)
    assert (fast.to_numpy() != 0).any()


def test_likely_codes_in_bulk_equal_one_line_at_a_time(tree_model, matrix):
    bulk = reasons.LikelyCodes.of(tree_model, matrix)
    one = reasons.likely_denial_codes(tree_model, matrix)
    assert bulk.text.tolist() == [reasons.format_codes(r) for r in one]
    assert bulk.first.tolist() == [r[0][0] if r else "" for r in one]
    parsed = reasons.LikelyCodes.parse(bulk.text)
    assert parsed.first.tolist() == bulk.first.tolist()


def test_two_decimals_is_pythons_formatting_at_the_ties():
    rng = np.random.default_rng(1)
    q = np.concatenate(
        [
            rng.random(20_000),
            np.arange(0, 1.0001, 0.005),  # every half-hundredth, where a float product can round astray
            np.nextafter(np.arange(0, 1.0001, 0.005), 2),
            np.nextafter(np.arange(0.005, 1.0001, 0.005), -1),
            [0.0, 1.0, 0.125, 0.375, 0.625, 0.875, 1e-300],
        ]
    )
    q = q[(q >= 0) & (q <= 1)]
    assert reasons._two_decimals(q).tolist() == [f"{v:.2f}" for v in q]


def test_a_model_without_trees_uses_sklearns_path(tree_model, lines):
    """A logistic classifier (chosen by CV on small data) has no bins: scikit-learn's own path."""
    import copy

    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from denial_risk.modeling.train import candidates

    X = tree_model.transform(lines)
    y = (tree_model.proba_from_matrix(X) > 0.3).astype(int)
    logistic = CalibratedClassifierCV(FrozenEstimator(candidates(0)["logistic"].fit(X, y)), method="sigmoid")
    model = copy.copy(tree_model)
    model.classifier = logistic.fit(X, y)
    assert for_model(model).classifier is None and model.binned(X) is None
    # in float64: a float32 dot product rounds differently with the batch (a line alone vs in a file).
    # Within 1e-12, not bit for bit: BLAS blocks a matrix product by the CPU's vector width and the
    # batch's size, so the last bits differ between machines and code paths (1.7e-17 seen, issue 24).
    got = model.proba_from_matrix(X)
    want = model.classifier.predict_proba(X.astype(np.float64))[:, 1]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.proba_from_matrix(X[7:8]), got[7:8], rtol=0, atol=1e-12)
    p = model.proba_from_matrix(X[:50])
    assert isinstance(reasons.group_attributions(model, X[:50], p), pd.DataFrame)
