"""The metrics revenue teams and data scientists read, checked on cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from denial_risk.modeling.evaluate import (
    classification_metrics,
    dollars_caught,
    expected_calibration_error,
    permutation_importance_by_group,
    recall_at_precision,
    sliced_metrics,
)


def test_ece_is_zero_when_each_bin_matches_and_weighted_by_count():
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    p = np.array([0.0, 0.0, 0.0, 0.0, 0.95, 0.95, 0.95, 0.95])
    # bin 0: 4 lines, mean p 0, rate 0.25 -> 0.25; bin 9: 4 lines, mean p 0.95, rate 0.75 -> 0.20
    assert expected_calibration_error(y, p) == pytest.approx((4 * 0.25 + 4 * 0.20) / 8)
    assert expected_calibration_error(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0


def test_recall_at_precision():
    y = np.array([1, 1, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    # top 2 are both denied: precision 1.0 at recall 2/3; the third denial comes after a paid line (3/4)
    assert recall_at_precision(y, p, 0.95) == pytest.approx(2 / 3)
    assert recall_at_precision(y, p, 0.75) == pytest.approx(1.0)
    assert recall_at_precision(np.array([0, 1]), np.array([0.9, 0.1]), 0.99) == 0.0  # never reached


def test_dollars_caught_ranks_by_expected_loss():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.5, 0.9, 0.1, 0.2])
    billed = np.array([100.0, 10.0, 1000.0, 50.0])
    # expected loss 50, 9, 100, 10: the top quarter is line 3 ($1000 of $1100 denied)
    assert dollars_caught(y, p, billed, 0.25) == pytest.approx(1000 / 1100)
    assert dollars_caught(y, p, billed, 0.5) == pytest.approx(1.0)
    assert np.isnan(dollars_caught(np.zeros(3, int), p[:3], billed[:3], 0.5))


def test_classification_metrics_one_class_and_bayes_ratio():
    one = classification_metrics(np.zeros(5, int), np.full(5, 0.1), np.ones(5))
    assert np.isnan(one["roc_auc"]) and one["denial_rate"] == 0.0
    rng = np.random.default_rng(0)
    truth = rng.random(2000)
    y = (rng.random(2000) < truth).astype(int)
    m = classification_metrics(y, truth, np.ones(2000), truth)
    assert m["auc_ratio_to_bayes"] == pytest.approx(1.0)
    noisy = classification_metrics(y, np.clip(truth + rng.normal(0, 0.3, 2000), 0, 1), np.ones(2000), truth)
    assert noisy["auc_ratio_to_bayes"] < 0.95


def test_sliced_metrics_and_group_importance():
    import pandas as pd

    rng = np.random.default_rng(1)
    n = 1000
    x0 = rng.normal(size=n)
    y = (x0 + rng.normal(0, 0.5, n) > 0).astype(int)
    frame = pd.DataFrame(
        {
            "payer_type": np.where(np.arange(n) % 2, "medicare", "commercial"),
            "denied": y,
            "billed_amount": np.ones(n),
        }
    )
    table = sliced_metrics(frame, 1 / (1 + np.exp(-x0)), "payer_type")
    assert list(table["payer_type"]) == ["commercial", "medicare"] and (table["lines"] == n / 2).all()
    X = np.column_stack([x0, rng.normal(size=n)])
    imp = permutation_importance_by_group(lambda M: M[:, 0], X, y, {"signal": [0], "noise": [1]})
    assert imp["signal"] > 0.2 and imp["noise"] == 0.0
