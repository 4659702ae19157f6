"""The claim probability: P(any line denied), calibrated on whole claims (modeling/claim_risk.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from denial_risk.modeling.claim_risk import (
    claim_frame,
    claim_metrics,
    claim_probability,
    fit_claim_calibration,
    independence,
    log_survival,
)


def _shared_cause_claims(n_claims: int, seed: int):
    """Claims of 1-4 lines whose lines share a cause (a claim returned whole with probability q): each
    line's marginal probability is exact, so only the independence assumption is wrong."""
    rng = np.random.default_rng(seed)
    k = rng.integers(1, 5, n_claims)
    claim = np.repeat(np.arange(n_claims), k)
    q = rng.uniform(0.0, 0.25, n_claims)
    p0 = rng.beta(1.0, 6.0, len(claim))
    shock = rng.random(n_claims) < q
    denied = shock[claim] | (rng.random(len(claim)) < p0)
    p_line = q[claim] + (1 - q[claim]) * p0  # the calibrated marginal
    return claim, p_line, denied


@pytest.mark.parametrize(("n_claims", "method"), [(8_000, "sigmoid"), (30_000, "isotonic")])
def test_the_map_corrects_the_independence_product_where_lines_share_a_cause(n_claims, method):
    claim, p, y = _shared_cause_claims(n_claims, seed=1)
    frame = claim_frame(claim.astype(str), p, y)
    product = independence(frame["log_survival"].to_numpy())
    cal = fit_claim_calibration(product, frame["lines"].to_numpy(), frame["denied"].to_numpy())
    assert cal["method"] == method and cal["claims"] == int((frame["lines"] >= 2).sum())
    json.dumps(cal)  # plain data: it travels in model.info through skops

    claim2, p2, y2 = _shared_cause_claims(20_000, seed=2)  # a fresh draw
    m = claim_metrics(cal, claim2.astype(str), p2, y2)
    assert m["claim_multi_line_independence_ece"] > 0.03  # the product over-states multi-line claims
    assert m["claim_multi_line_ece"] < 0.02 < m["claim_multi_line_independence_ece"]
    assert m["claim_ece"] < m["claim_independence_ece"]
    assert m["claim_auc"] >= m["claim_independence_auc"] - 0.005  # a monotone map keeps the order


def test_one_line_claims_keep_their_lines_probability_and_the_map_is_monotone():
    cal = {"method": "isotonic", "x": [0.0, 0.5, 1.0], "y": [0.0, 0.3, 0.9], "claims": 5000}
    p = np.array([0.2, 0.6, 0.9])
    got = claim_probability(cal, log_survival(p), np.array([1, 1, 1]))
    np.testing.assert_allclose(got, p, atol=1e-12)
    products = np.linspace(0, 1, 50)
    mapped = claim_probability(cal, np.log1p(-np.clip(products, 0, 1 - 1e-12)), np.full(50, 3))
    assert (np.diff(mapped) >= -1e-12).all()
    platt = {"method": "sigmoid", "a": 1.0, "b": 0.0, "claims": 500}
    np.testing.assert_allclose(claim_probability(platt, log_survival(p), np.full(3, 2)), p, atol=1e-6)


def test_too_few_multi_line_claims_leave_the_product():
    claim, p, y = _shared_cause_claims(60, seed=3)
    frame = claim_frame(claim.astype(str), p, y)
    cal = fit_claim_calibration(
        independence(frame["log_survival"].to_numpy()), frame["lines"].to_numpy(), frame["denied"].to_numpy()
    )
    assert cal["method"] == "none"
    s = frame["log_survival"].to_numpy()
    np.testing.assert_allclose(claim_probability(cal, s, frame["lines"].to_numpy()), independence(s))
    assert claim_probability(None, s, frame["lines"].to_numpy()) == pytest.approx(independence(s))


def test_every_train_run_reports_claim_metrics_and_stores_the_map(fitted):
    """The session's fitted model: the claim map is fitted on its calibration slice, and its holdout
    report has the claim-level metrics beside the independence product's (logged with the run)."""
    m = fitted.metrics
    for key in ("claim_auc", "claim_ece", "claim_independence_auc", "claim_independence_ece"):
        assert 0.0 <= m[key] <= 1.0, key
    assert m["claim_auc"] > 0.7 and m["claim_holdout_claims"] > 100
    cal = fitted.model.info["claim_calibration"]
    assert cal["method"] in ("isotonic", "sigmoid", "none")
    json.dumps(cal)


def test_no_map_is_kept_where_the_lines_are_independent():
    """Lines denied independently: the product is right, and a fitted map must not replace it unless it
    beats it out of fold."""
    rng = np.random.default_rng(4)
    k = rng.integers(1, 5, 8_000)
    claim = np.repeat(np.arange(len(k)), k)
    p = rng.beta(1.0, 5.0, len(claim))
    denied = rng.random(len(claim)) < p
    frame = claim_frame(claim.astype(str), p, denied)
    cal = fit_claim_calibration(
        independence(frame["log_survival"].to_numpy()), frame["lines"].to_numpy(), frame["denied"].to_numpy()
    )
    assert cal["method"] == "none" and cal["tried"] == "sigmoid"
