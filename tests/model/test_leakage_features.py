"""Leakage guards of the feature pipeline (issue 3, item 3).

* outcome columns and identifiers never reach a feature;
* target-learned columns are out-of-fold in `fit_transform` (a training row never sees its
  own label) and learned on the training rows only;
* history rates use only strictly earlier lines.

Every test here would fail if the guard were removed: each also checks that the quantity it
protects does move when the label it is allowed to see changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from denial_risk.contract import schema
from denial_risk.features import (
    DiagnosisFeatures,
    DocumentationFeatures,
    HistoryFeatures,
    PayerFeatures,
    TimingFeatures,
    build_feature_pipeline,
)
from denial_risk.features._base import ColumnFeatures
from denial_risk.testing import lines, make_frame

# transformer factory → the target-learned column(s) it outputs
TARGET_COLUMNS = {
    "diagnosis": (lambda: DiagnosisFeatures(smoothing=5), ["support_rate"]),
    "payer": (lambda: PayerFeatures(smoothing=5), ["payer_denial_rate"]),
    "documentation": (
        lambda: DocumentationFeatures(smoothing=5),
        ["pa_absent_denial_rate", "pa_absent_x_rate"],
    ),
    "timing": (
        lambda: TimingFeatures(min_paid_lines=3, quantile=1.0),
        ["filing_limit_days", "lag_minus_limit", "over_limit", "lag_over_limit_fraction", "limit_learned"],
    ),
}


@pytest.fixture(scope="module")
def frame():
    return make_frame(500, seed=7)


def _X(frame):
    return frame.drop(columns=list(schema.OUTCOME_COLUMNS))


def _y(frame):
    return frame["denied"].to_numpy(dtype=float)


@pytest.mark.parametrize("key", TARGET_COLUMNS)
def test_fit_transform_is_out_of_fold(key, frame):
    """Flipping row i's label never changes row i's own fit_transform value.

    The same flip does change the full-fit table (transform): so the column is learned
    from the label, and only the out-of-fold construction keeps row i from seeing it.
    """
    factory, _ = TARGET_COLUMNS[key]
    X, y = _X(frame), _y(frame)
    base = factory().fit_transform(X, y)
    base_full = factory().fit(X, y).transform(X)
    moved_full = False
    for i in range(0, 40, 5):
        y2 = y.copy()
        y2[i] = 1.0 - y2[i]
        np.testing.assert_array_equal(factory().fit_transform(X, y2)[i], base[i])
        moved_full |= not np.array_equal(factory().fit(X, y2).transform(X)[i], base_full[i], equal_nan=True)
    assert moved_full, f"{key}: the learned column never depends on the label: test is vacuous"


def test_lone_positive_gets_no_credit_for_its_own_label():
    """A (group, diagnosis category) whose only denial is row 0: row 0's support rate is low."""
    rest = lines(dict(hcpcs_code="L0627", diagnosis_codes="M5450"))
    X = pd.concat(
        [lines(dict(hcpcs_code="L1832", diagnosis_codes="M1711"))] * 10 + [rest] * 90, ignore_index=True
    )
    y = np.zeros(len(X))
    y[0] = 1.0
    y[10:40] = 1.0  # some denials elsewhere, so the prior is not 0
    oof = DiagnosisFeatures(smoothing=2).set_output(transform="pandas").fit_transform(X, y)["support_rate"]
    full = (
        DiagnosisFeatures(smoothing=2).set_output(transform="pandas").fit(X, y).transform(X)["support_rate"]
    )
    y0 = y.copy()
    y0[0] = 0.0
    oof0 = DiagnosisFeatures(smoothing=2).set_output(transform="pandas").fit_transform(X, y0)["support_rate"]
    assert oof[0] == oof0[0]  # row 0's own label is invisible to it
    assert oof[0] < full[0]  # while the full-fit table (used at scoring) does count it
    assert oof[0] < oof[1:10].max()  # its siblings do see row 0's denial


def test_history_uses_only_strictly_earlier_lines():
    days = pd.date_range("2024-01-01", periods=10, freq="D")
    X = pd.concat(
        [
            lines(
                dict(provider_id="P1", payer_id="MCR1", hcpcs_code="L0627", service_date=d),
                dict(provider_id="P1", payer_id="MCR1", hcpcs_code="L0627", service_date=d),
            )
            for d in days
        ],
        ignore_index=True,
    )
    y = np.tile([1.0, 0.0], 10)
    base = HistoryFeatures().fit_transform(X, y)
    # a later line's label: nothing on or before its date moves
    y2 = y.copy()
    y2[15] = 1.0 - y2[15]  # day 8
    later = HistoryFeatures().fit_transform(X, y2)
    np.testing.assert_array_equal(later[:16], base[:16])  # days 1-8 (same-day sibling included)
    assert not np.array_equal(later[16:], base[16:])  # days 9-10 do see it
    # the first day has nothing earlier: unknown, not a leak of the overall rate
    assert np.isnan(base[0, 2]) and np.isnan(base[0, 4])
    assert base[2, 2] == pytest.approx((1 + 20 * 0.5) / (2 + 20))  # day 2: day 1's two lines only


def test_history_earlier_lines_regardless_of_row_order():
    X = make_frame(300, seed=3)
    y = _y(X)
    X = _X(X)
    perm = np.random.default_rng(1).permutation(len(X))
    a = HistoryFeatures().fit_transform(X, y)
    b = HistoryFeatures().fit_transform(X.iloc[perm], y[perm])
    np.testing.assert_array_equal(a[perm], b)


def test_outcome_columns_never_change_features(frame):
    """Fit on a training slice, score a later slice: outcomes present, shuffled or absent → same."""
    order = np.argsort(frame["service_date"].to_numpy(), kind="stable")
    train, test = frame.iloc[order[:400]], frame.iloc[order[400:]]
    y = _y(train)
    fp = build_feature_pipeline()
    with_outcomes = fp.fit(train, y).transform(test)
    rng = np.random.default_rng(0)
    shuffled_train, shuffled_test = train.copy(), test.copy()
    for c in schema.OUTCOME_COLUMNS:
        shuffled_train[c] = train[c].to_numpy()[rng.permutation(len(train))]
        shuffled_test[c] = test[c].to_numpy()[rng.permutation(len(test))]
    fp2 = build_feature_pipeline()
    pd.testing.assert_frame_equal(fp2.fit(shuffled_train, y).transform(shuffled_test), with_outcomes)
    fp3 = build_feature_pipeline()
    pd.testing.assert_frame_equal(fp3.fit(_X(train), y).transform(_X(test)), with_outcomes)
    # the training labels, by contrast, do matter (the test can fail)
    fp4 = build_feature_pipeline()
    assert not fp4.fit(train, 1.0 - y).transform(test).equals(with_outcomes)


def test_identifiers_change_nothing(frame):
    X, y = _X(frame), _y(frame)
    renamed = X.copy()
    renamed["claim_id"] = pd.array([f"Z{i}" for i in range(len(X))][::-1], dtype="string")
    renamed["patient_id"] = pd.array(["same"] * len(X), dtype="string")
    renamed["line_number"] = pd.array(np.arange(len(X)) + 5, dtype="Int64")
    a, b = build_feature_pipeline(), build_feature_pipeline()
    pd.testing.assert_frame_equal(a.fit_transform(X, y), b.fit_transform(renamed, y))
    pd.testing.assert_frame_equal(a.transform(X), b.transform(renamed))


def test_pipeline_training_features_are_out_of_fold(frame):
    """Inside Pipeline.fit the features step gets y and returns out-of-fold columns."""
    X, y = _X(frame), _y(frame)
    fp = build_feature_pipeline()
    with threadpool_limits(1):  # OpenMP threads on a busy machine cost seconds on 500 rows
        Pipeline([("features", fp), ("model", HistGradientBoostingClassifier(max_iter=5))]).fit(X, y)
    train_view = build_feature_pipeline().fit_transform(X, y)
    score_view = fp.transform(X)
    target_cols = [
        "diagnosis__support_rate",
        "payer__payer_denial_rate",
        "documentation__pa_absent_denial_rate",
        "history__provider_denial_rate",
    ]
    for c in target_cols:
        assert not np.allclose(train_view[c], score_view[c], equal_nan=True), c
    static = [c for c in score_view.columns if c.startswith(("modifiers__", "code__", "amount__"))]
    pd.testing.assert_frame_equal(train_view[static], score_view[static])


def test_a_transformer_declaring_an_outcome_is_refused(frame):
    class Peeking(ColumnFeatures):
        input_columns = ("hcpcs_code", "denied")

        def _fit(self, X, y):
            self.names_out_ = ["peek"]

        def _transform(self, X):
            return X[["denied"]].to_numpy(dtype=float)

    with pytest.raises(ValueError, match="never features"):
        Peeking().fit(frame)
