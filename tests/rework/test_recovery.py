"""The recovery model's behaviour: calibrated on a later seed, direction, invariance, plain-data state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from denial_risk.rework.history import fit_recovery, training_examples
from denial_risk.rework.recovery import RecoveryModel


@pytest.fixture(scope="module")
def later_examples():
    from denial_risk.synth.rework_team import history_table, simulate_rework

    return training_examples(history_table(simulate_rework(12000, 22, "2024-01-01", 24)))


def test_held_out_seed_auc_and_calibration(recovery_model, later_examples):
    from sklearn.metrics import roc_auc_score

    from denial_risk.modeling.evaluate import expected_calibration_error

    facts, actions, y, _ = later_examples
    p = recovery_model.predict_proba(facts, actions)
    assert roc_auc_score(y, p) > 0.7
    assert expected_calibration_error(y, p) < 0.08
    assert abs(p.mean() - y.mean()) < 0.05


def test_direction_a_fixable_cause_with_its_action_beats_an_unfixable_one(recovery_model, rework_world):
    base = {"payer_type": "commercial", "payer_id": "COM301", "hcpcs_code": "L1833", "billed_amount": 500.0}
    coding = {**base, "carc": "CO-4", "remarks": ["N822"]}
    no_auth = {**base, "carc": "CO-197", "remarks": []}
    p = recovery_model.predict_proba([coding, no_auth], ["corrected_claim", "appeal"])
    assert p[0] > p[1] + 0.1


def test_patient_identifiers_change_nothing(recovery_model, later_examples):
    facts, actions, _, _ = later_examples
    other = [{**f, "patient_id": "pk_other", "claim_id": "C9"} for f in facts[:200]]
    a = recovery_model.predict_proba(facts[:200], actions[:200])
    b = recovery_model.predict_proba(other, actions[:200])
    assert np.allclose(a, b, atol=1e-12)


def test_state_round_trips_through_json(recovery_model, later_examples):
    facts, actions, _, _ = later_examples
    again = RecoveryModel.from_dict(json.loads(json.dumps(recovery_model.to_dict())))
    assert np.allclose(
        again.predict_proba(facts, actions), recovery_model.predict_proba(facts, actions), atol=1e-12
    )


def test_too_little_history_is_refused(rework_history):
    with pytest.raises(ValueError, match="too little rework history"):
        fit_recovery(rework_history.head(200))


def test_open_denials_are_not_labelled_and_replaced_rows_count_once(rework_history):
    facts, _, y, dates = training_examples(rework_history)
    assert len(facts) == len(y) == len(dates) > 0
    linked = rework_history["rework_link"].notna().sum()
    assert y.sum() <= linked  # a recovery is only ever seen through a link
    assert pd.Series(dates).notna().all()
