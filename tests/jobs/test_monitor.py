"""Monitoring: drift is flagged when the backlog shifts, and predicted rates track realised ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def _scored(denial_model, hold):
    """The holdout as `score` would write it, without reasons or fixes (as the report reads it)."""
    p = pd.Series(denial_model.predict_proba(feature_input(hold, TrainConfig())), index=hold.index)
    return hold.assign(
        denial_probability=p,
        expected_loss=p * hold["billed_amount"],
        risk_tier=denial_model.tier(p.to_numpy()),
        risk_rank=p.rank(ascending=False, method="first").astype(int),
        top_reasons="",
        recommended_actions="",
    )


def test_predicted_versus_realised_on_remitted_lines(denial_model, fitted):
    hold = fitted.holdout
    scored = _scored(denial_model, hold)
    table = predicted_vs_realised(scored, hold)
    overall = table.iloc[0]
    assert overall["slice"] == "all" and overall["lines"] == len(hold)
    assert abs(overall["predicted_rate"] - overall["realised_rate"]) < 0.03
    deciles = table[table["slice"].str.startswith("decile=")]
    assert len(deciles) == 10
    assert deciles["realised_rate"].iloc[-1] > 3 * deciles["realised_rate"].iloc[0]


LATE_CHANGE = {
    "remedy": "obtain_prior_auth",
    "state": "present",
    "cell": "COM303|knee_orthosis",
    "payer": "COM303",
    "scope": "knee_orthosis",
    "month": "2025-09",
    "since_day": 20332,
    "direction": "started",
    "reasons": "CO-197/CO-15",
    "rate_before": 0.0,
    "rate_after": 0.31,
    "lines_before": 180,
    "lines_after": 60,
}


def test_monitor_and_the_report_name_the_payer_rule_changes(
    denial_model, fitted, mlflow_store, run, capsys, tmp_path, monkeypatch
):
    """The changes the model found in its remits are printed by `monitor` (logged too) and listed by
    `report --model` with their month; the new remits' own changes are added."""
    import copy

    from denial_risk.registry import tracking
    from denial_risk.tableio import files

    model = copy.copy(denial_model)
    model.fix_effects = copy.copy(denial_model.fix_effects)
    model.fix_effects.changes = [LATE_CHANGE]
    monkeypatch.setattr(tracking, "load_model", lambda uri, sha256=None: model)
    hold = fitted.holdout
    scored = _scored(denial_model, hold)
    files.write_table(scored.drop(columns=["denied", "denial_reason", "paid_amount"]), tmp_path / "s.csv")
    files.write_table(hold, tmp_path / "remits.csv")
    code, out, _ = run(
        ["monitor", "--scored", tmp_path / "s.csv", "--remits", tmp_path / "remits.csv", "--model", "m"],
        capsys,
    )
    assert code == 0, out
    want = (
        "COM303 started denying knee orthoses without prior authorization as CO-197/CO-15 from 2025-09: "
        "31 % of such lines since, 0 % before (n = 240)"
    )
    assert want in out and "payer rule changes detected in the remits:" in out
    code, out, _ = run(
        ["report", "--scored", tmp_path / "s.csv", "--out", tmp_path / "r.html", "--model", "m"], capsys
    )
    assert code == 0, out
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="rule-changes"' in html and want in html
    run(["report", "--scored", tmp_path / "s.csv", "--out", tmp_path / "plain.html"], capsys)
    assert 'id="rule-changes"' not in (tmp_path / "plain.html").read_text(encoding="utf-8")
