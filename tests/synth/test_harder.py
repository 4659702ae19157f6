"""The harder world (`simulate --world harder`): its four payer rules hold in its own mechanism, and the
plain world's draws do not move."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.biller import remedies
from denial_risk.contract.facts import policy_group_label
from denial_risk.contract.normalize import normalize_chunk
from denial_risk.synth import harder
from denial_risk.synth.simulate import simulate_claims, simulate_world

START, MONTHS = "2024-01-01", 30


@pytest.fixture(scope="module")
def world():
    frame, w = simulate_world(30_000, 5, START, MONTHS, world="harder")
    clean, _ = normalize_chunk(frame.drop(columns=["denied", "denial_reason", "remark_codes", "paid_amount"]))
    return clean.reset_index(drop=True), w


def _drop(w, lines: pd.DataFrame, remedy: str) -> np.ndarray:
    """The world's logit drop when the line gets the remedy: the cause's effect (3.0 for prior
    authorization, 1.44 for a commercial payer's letter) where the rule binds, less where a latent
    cause (an unverified eligibility) may deny the line anyway; exactly 0 where it does not bind."""
    before = w.true_denial_probability(lines)
    after = w.true_denial_probability(remedies.apply(lines, remedy, ""))
    return np.log(before / (1 - before)) - np.log(after / (1 - after))


def _where(clean, payer, group):
    g = policy_group_label(clean["hcpcs_code"]).astype(str).to_numpy()
    return (clean["payer_id"].astype(str).to_numpy() == payer) & (g == group)


def test_the_plain_world_is_the_default_and_unknown_worlds_are_refused():
    a = simulate_claims(2_000, 9, START, MONTHS)
    b = simulate_claims(2_000, 9, START, MONTHS, world="plain")
    pd.testing.assert_frame_equal(a, b)
    c = simulate_claims(2_000, 9, START, MONTHS, world="harder")
    assert not c["true_denial_probability"].equals(a["true_denial_probability"])
    with pytest.raises(ValueError, match="harder"):
        simulate_claims(10, 1, world="hard")


def test_the_late_change_binds_from_its_date_only(world):
    clean, w = world
    late = harder.HarderRules.of(START, MONTHS).late_day
    assert str(np.datetime64("1970-01-01", "D") + late) == "2025-09-01"  # 20 of 30 months: last sixth of 24
    rows = _where(clean, *harder.LATE_CHANGE) & clean["has_prior_auth"].eq(False).fillna(False).to_numpy(bool)
    day = clean["service_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    drop = _drop(w, clean[rows], "obtain_prior_auth")
    after = day[rows] >= late
    assert after.sum() >= 20 and (~after).sum() >= 20
    assert np.all(drop[after] > 1.5) and np.all(np.abs(drop[~after]) < 1e-9)


def test_the_relaxed_rule_stops_binding(world):
    clean, w = world
    relax = harder.HarderRules.of(START, MONTHS).relax_day
    rows = _where(clean, *harder.RELAXED) & clean["has_prior_auth"].eq(False).fillna(False).to_numpy(bool)
    day = clean["service_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    drop = _drop(w, clean[rows], "obtain_prior_auth")
    assert np.all(drop[day[rows] < relax] > 1.5) and np.all(np.abs(drop[day[rows] >= relax]) < 1e-9)


def test_the_letter_is_wanted_above_the_amount_only(world):
    clean, w = world
    rows = _where(clean, *harder.LMN_ABOVE) & clean["has_medical_necessity_letter"].eq(False).fillna(
        False
    ).to_numpy(bool)
    drop = _drop(w, clean[rows], "attach:has_medical_necessity_letter")
    above = clean["billed_amount"].to_numpy()[rows] > harder.LMN_ABOVE_AMOUNT
    assert above.sum() >= 10 and (~above).sum() >= 10
    assert np.all(drop[above] > 0.5) and np.all(np.abs(drop[~above]) < 1e-9)


def test_prior_authorization_binds_two_codes_of_the_group(world):
    clean, w = world
    payer, codes = harder.CODE_PA
    rows = _where(clean, payer, "ankle_foot_orthosis") & clean["has_prior_auth"].eq(False).fillna(
        False
    ).to_numpy(bool)
    drop = _drop(w, clean[rows], "obtain_prior_auth")
    listed = clean["hcpcs_code"].astype(str).isin(codes).to_numpy()[rows]
    assert listed.sum() >= 5 and (~listed).sum() >= 20
    assert np.all(drop[listed] > 1.5) and np.all(np.abs(drop[~listed]) < 1e-9)
