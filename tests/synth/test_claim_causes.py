"""The opt-in claim-level cause (a claim returned whole): the default world is untouched, a returned
claim's lines are denied together, the truth stays exact, and the independence product is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.synth.simulate import simulate_claims

ROWS, SEED = 20_000, 5


@pytest.fixture(scope="module")
def worlds():
    return simulate_claims(ROWS, SEED), simulate_claims(ROWS, SEED, shared_claim_causes=True)


def test_the_default_world_is_unchanged_and_only_outcomes_move(worlds):
    plain, shared = worlds
    again = simulate_claims(ROWS, SEED, shared_claim_causes=False)
    pd.testing.assert_frame_equal(plain, again)
    outcomes = ["denied", "denial_reason", "remark_codes", "paid_amount", "true_denial_probability"]
    pd.testing.assert_frame_equal(plain.drop(columns=outcomes), shared.drop(columns=outcomes))
    was = plain["denied"].to_numpy(dtype=bool)
    now = shared["denied"].to_numpy(dtype=bool)
    assert (now >= was).all() and now.sum() > was.sum()  # a return only adds denials
    assert (shared["true_denial_probability"] >= plain["true_denial_probability"] - 1e-12).all()


def test_returned_claims_are_denied_whole(worlds):
    plain, shared = worlds
    newly = shared["denied"].to_numpy(dtype=bool) & ~plain["denied"].to_numpy(dtype=bool)
    claims = set(shared.loc[newly, "claim_id"])
    lines = shared[shared["claim_id"].isin(claims)]
    assert lines["denied"].astype(bool).all()
    assert set(shared.loc[newly, "denial_reason"]) <= {"CO-16", "CO-31"}


def _multi_line_ece(frame: pd.DataFrame) -> tuple[float, float]:
    """(ECE of the truth's independence product on multi-line claims, the claims' denial rate)."""
    g = frame.assign(d=frame["denied"].astype(bool)).groupby("claim_id", sort=False)
    n = g.size()
    y = g["d"].max()[n > 1].to_numpy(dtype=float)
    prod = 1 - g["true_denial_probability"].agg(lambda p: np.prod(1 - p))[n > 1].to_numpy()
    from denial_risk.modeling.evaluate import expected_calibration_error

    return expected_calibration_error(y, prod), float(y.mean())


def test_the_independence_product_is_measurably_wrong_with_shared_causes(worlds):
    """Even on the world's own truth: with a claim returned whole, 1 - prod(1 - p) over-states a
    multi-line claim's risk (ECE over 0.02, and over twice the default world's on this draw)."""
    plain, shared = worlds
    ece_plain, _ = _multi_line_ece(plain)
    ece_shared, _ = _multi_line_ece(shared)
    assert ece_shared > 0.02 and ece_shared > 2 * ece_plain
