"""modeling.realised: the predicted-against-realised table both monitors log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.modeling import realised


def _joined(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    return pd.DataFrame(
        {
            "p": p,
            "y": (rng.uniform(0, 1, n) < p).astype(float),
            "group": rng.choice(["a", "b", None], n),
            "expected": p * 100.0,
            "paid": rng.uniform(0, 100, n),
        }
    )


def test_slices_overall_per_group_and_per_decile_add_up():
    j = _joined(500)
    table = realised.slice_table(j, "p", "y", by="group", dollars=("expected", "paid"))
    overall = table.iloc[0]
    assert overall["slice"] == "all" and overall["lines"] == 500
    assert overall["predicted_rate"] == pytest.approx(j["p"].mean(), abs=1e-12)
    assert overall["realised_rate"] == pytest.approx(j["y"].mean(), abs=1e-12)
    groups = table[table["slice"].str.startswith("group=")]
    assert groups["lines"].sum() == 500  # a missing group is a slice of its own, not dropped
    deciles = table[table["slice"].str.startswith("decile=")]
    assert len(deciles) == 10 and deciles["lines"].sum() == 500
    # deciles follow the prediction: each decile's predicted rate is above the one before
    assert np.all(np.diff(deciles["predicted_rate"].to_numpy()) > 0)
    assert deciles["realised_dollars"].sum() == pytest.approx(j["paid"].sum(), rel=1e-9)


def test_fewer_lines_than_deciles_and_no_dollars():
    table = realised.slice_table(_joined(4), "p", "y", by="group")
    assert (table["slice"].str.startswith("decile=")).sum() == 4
    assert "predicted_dollars" not in table.columns


def test_keys_join_across_spellings():
    a = realised.keyed(pd.DataFrame({"claim_id": [12, 13], "line_number": ["1", None]}))
    b = realised.keyed(pd.DataFrame({"claim_id": ["12", "13"], "line_number": [1.0, 1]}))
    assert len(a.merge(b, on=realised.KEYS)) == 2


def test_auc_only_when_both_outcomes_occur():
    p = np.array([0.1, 0.4, 0.8, 0.9])
    assert set(realised.calibration(np.array([0.0, 0.0, 1.0, 1.0]), p)) == {"ece", "auc"}
    assert set(realised.calibration(np.ones(4), p)) == {"ece"}
