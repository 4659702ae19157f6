"""Behavioural tests of the fitted model (Made-With-ML style).

Minimum functionality: it beats trivial baselines on later-dated lines and is
calibrated. Invariance: identifiers and outcome columns change nothing.
Directional: fixing a defect a payer denies for lowers the risk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from denial_risk.contract import schema
from denial_risk.modeling.config import TrainConfig
from denial_risk.modeling.train import feature_input

pytestmark = pytest.mark.slow


def _scorable(frame: pd.DataFrame) -> pd.DataFrame:
    return feature_input(frame, TrainConfig())


# --- minimum functionality ---


def test_holdout_auc_beats_a_trivial_ranking_and_nears_the_bayes_limit(fitted):
    m = fitted.metrics
    y = fitted.holdout["denied"].astype(int).to_numpy()
    by_amount = roc_auc_score(y, fitted.holdout["billed_amount"].to_numpy())
    assert m["roc_auc"] > by_amount + 0.15
    assert m["roc_auc"] > 0.75
    assert m["auc_ratio_to_bayes"] > 0.93  # 12k lines; the 200k benchmark holds it to 0.98


def test_probabilities_are_calibrated_on_later_lines(fitted):
    assert fitted.metrics["ece"] < 0.04
    assert abs(fitted.metrics["mean_probability"] - fitted.metrics["denial_rate"]) < 0.03


def test_worklist_order_catches_most_denied_dollars(fitted):
    assert fitted.metrics["dollars_caught_top20"] > 0.5  # random order would catch 0.2


# --- invariance ---


def test_renaming_claim_and_patient_ids_changes_nothing(denial_model, claims_frame):
    rows = _scorable(claims_frame.tail(2000))
    renamed = rows.assign(
        claim_id="X" + rows["claim_id"].astype(str), patient_id=rows["patient_id"].astype(str).str[::-1]
    )
    np.testing.assert_allclose(
        denial_model.predict_proba(rows), denial_model.predict_proba(renamed), rtol=0, atol=1e-12
    )


def test_scoring_a_row_alone_or_in_a_batch_gives_the_same_probability(denial_model, claims_frame):
    rows = _scorable(claims_frame.tail(300))
    batch = denial_model.predict_proba(rows)
    alone = np.array([denial_model.predict_proba(rows.iloc[[i]])[0] for i in range(0, 300, 37)])
    np.testing.assert_allclose(alone, batch[::37], atol=1e-12)


def test_outcome_columns_are_never_read_at_scoring(denial_model, claims_frame):
    rows = claims_frame.tail(1500)
    shuffled = rows.copy()
    rng = np.random.default_rng(0)
    for col in schema.OUTCOME_COLUMNS:
        if col in shuffled:
            shuffled[col] = shuffled[col].to_numpy()[rng.permutation(len(shuffled))]
    np.testing.assert_allclose(
        denial_model.predict_proba(rows), denial_model.predict_proba(shuffled), rtol=0, atol=1e-12
    )


def test_shuffling_outcome_columns_other_than_the_label_changes_nothing_in_training(claims_frame):
    from denial_risk.modeling.train import fit_model

    base = claims_frame.head(5000)
    shuffled = base.copy()
    rng = np.random.default_rng(1)
    for col in ("denial_reason", "paid_amount", "true_denial_probability"):
        shuffled[col] = shuffled[col].to_numpy()[rng.permutation(len(shuffled))]
    cfg = TrainConfig(small_data_rows=0)
    a = fit_model(base, cfg)
    b = fit_model(shuffled, cfg)
    np.testing.assert_allclose(a.holdout_proba, b.holdout_proba, atol=1e-12)


# --- directional ---


def _knee_lines(frame: pd.DataFrame, payer: str) -> pd.DataFrame:
    from denial_risk.contract.policy import policy_for_codes

    group = policy_for_codes(frame["hcpcs_code"])["policy_group"]
    mask = (group == "knee_orthosis").fillna(False).to_numpy(dtype=bool) & (
        frame["payer_id"] == payer
    ).fillna(False).to_numpy(dtype=bool)
    rows = frame[mask]
    assert len(rows) >= 20, f"too few knee lines for {payer}"
    return _scorable(rows.head(200))


def test_missing_prior_auth_raises_risk_for_a_payer_that_demands_it(denial_model, claims_frame):
    rows = _knee_lines(claims_frame, "MA202")  # MA202 requires prior auth for knee orthoses
    with_pa = denial_model.predict_proba(rows.assign(has_prior_auth=pd.array([True] * len(rows), "boolean")))
    without = denial_model.predict_proba(rows.assign(has_prior_auth=pd.array([False] * len(rows), "boolean")))
    assert (without > with_pa).mean() > 0.9
    assert without.mean() - with_pa.mean() > 0.05


def test_adding_the_required_side_modifier_lowers_risk(denial_model, claims_frame):
    rows = _knee_lines(claims_frame, "MCRJB")
    no_side = rows.assign(
        modifiers=rows["modifiers"].str.replace(r"\|?(RT|LT)", "", regex=True).str.strip("|")
    )
    with_side = no_side.assign(modifiers=(no_side["modifiers"] + "|RT").str.strip("|"))
    p_no, p_yes = denial_model.predict_proba(no_side), denial_model.predict_proba(with_side)
    assert (p_yes < p_no).mean() > 0.9
    assert p_no.mean() - p_yes.mean() > 0.05


def test_an_invalid_hcpcs_code_is_near_certain_denial(denial_model, claims_frame):
    rows = _scorable(claims_frame.tail(200))
    p = denial_model.predict_proba(rows.assign(hcpcs_code="L1320"))
    assert np.median(p) > 0.6
