"""Monitoring: drift is flagged when the backlog shifts, and predicted rates track realised ones."""

from __future__ import annotations

import numpy as np
import pytest

from denial_risk.jobs.monitor import feature_drift, predicted_vs_realised
from denial_risk.modeling.config import TrainConfig
from denial_risk.modeling.train import feature_input

pytestmark = pytest.mark.slow


def test_no_drift_on_lines_like_the_training_data_and_drift_on_a_shifted_backlog(denial_model, fitted):
    same = feature_input(fitted.holdout, TrainConfig())
    calm = feature_drift(denial_model, same)
    assert calm["drifted"].sum() <= 3, calm.head()
    shifted = same.assign(
        billed_amount=same["billed_amount"] * 8,
        submission_date=same["submission_date"] + np.timedelta64(400, "D"),
    )
    loud = feature_drift(denial_model, shifted)
    drifted = set(loud.loc[loud["drifted"], "feature"])
    assert any(f.startswith("amount__") for f in drifted)
    assert any(f.startswith("timing__") for f in drifted)


def test_predicted_versus_realised_on_remitted_lines(denial_model, fitted):
    hold = fitted.holdout
    scored = hold.assign(denial_probability=denial_model.predict_proba(feature_input(hold, TrainConfig())))
    table = predicted_vs_realised(scored, hold)
    overall = table.iloc[0]
    assert overall["slice"] == "all" and overall["lines"] == len(hold)
    assert abs(overall["predicted_rate"] - overall["realised_rate"]) < 0.03
    deciles = table[table["slice"].str.startswith("decile=")]
    assert len(deciles) == 10
    assert deciles["realised_rate"].iloc[-1] > 3 * deciles["realised_rate"].iloc[0]
